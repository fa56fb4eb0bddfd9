package ai.lfm2moe;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The native methods (jni_*.c).  Text is passed as UTF-8 byte arrays;
 * handles are the C pointers as longs (0 = closed).  The JNI library is
 * found by {@link NativeLoader}: from the jar itself by default, with no
 * {@code -Djava.library.path}.
 */
final class Native {
    static {
        NativeLoader.load();
        int v = version();
        if (v / 10000 != Version.MAJOR) {
            throw new UnsatisfiedLinkError("liblfm2moe " + utf8(versionString())
                    + " is loaded but these bindings (" + Version.STRING + ") need major version "
                    + Version.MAJOR);
        }
    }

    private Native() {}

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static native int version();
    static native byte[] versionString();
    static native byte[] statusString(int status);

    static native long modelLoad(byte[] path, int flags);
    static native void modelFree(long model);
    static native double[] modelInfo(long model);
    static native byte[] modelArchitecture(long model);
    static native int[] vocabInfo(long model);
    static native byte[] metaString(long model, byte[] key);

    static native int[] tokenize(long model, byte[] text, int flags);
    static native byte[] detokenize(long model, int[] tokens);
    static native byte[] tokenToBytes(long model, int token);
    static native int tokenLookup(long model, byte[] text);
    static native int tokenAttr(long model, int token);
    static native byte[] chatRender(long model, byte[][] roles, byte[][] contents, byte[][] tools,
                                    int flags);
    static native byte[] chatRenderJson(long model, byte[] request, byte[] template, int flags);

    static native long sessionCreate(long model, int nCtx, int nThreads, int nBatch, long maxMemory,
            int kvType, int checkpointInterval);
    static native void sessionFree(long session);
    static native int[] sessionTokens(long session);
    static native void sessionRewind(long session, int pos);
    static native long sessionCopy(long session, boolean sameParams, int nCtx, int nThreads,
                                   int nBatch, long maxMemory, int kvType, int checkpointInterval);
    static native byte[] sessionSave(long session);
    static native void sessionLoad(long session, byte[] data);
    static native void sessionFile(long session, byte[] path, boolean save);
    static native void sessionReset(long session);
    static native void sessionCancel(long session);
    static native int sessionPosition(long session);
    static native int sessionContextLength(long session);
    static native void decode(long session, int[] tokens, int flags);
    static native void logits(long session, int index, float[] out);
    static native ByteBuffer logitsBuffer(long session, int index, int nVocab);

    static native void generateDefaults(float[] fparams, int[] iparams, long[] seed);
    static native double[] generate(long session, int[] prompt, int maxTokens, float[] fparams,
                                    int[] iparams, long seed, byte[][] stops, int[] biasTokens,
                                    float[] biasValues, long grammar, Object sink);

    static native long grammarCreate(long model, byte[] text, byte[] root, int kind);
    static native long grammarFromTools(long model, byte[][] tools, int toolChoice);
    static native byte[] grammarGbnf(long grammar);
    static native void grammarFree(long grammar);
    static native byte[][] toolCallsParse(byte[] text);
}
