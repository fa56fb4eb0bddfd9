package ai.lfm2moe;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A GGUF model, memory-mapped.  Immutable once loaded: any number of
 * {@link Session}s on any threads may share it.  {@link #close()} first closes
 * the sessions still open on it (the C library needs them freed first); using
 * a closed model throws {@link IllegalStateException}.
 */
public final class Model implements AutoCloseable {
    /** Ask the kernel to read the whole file in at load. */
    public static final int PREFETCH = 1;
    /** Lock the weights in RAM (failure to lock is not an error). */
    public static final int MLOCK = 2;

    private static final int ADD_BOS = 1, PARSE_SPECIAL = 2, ADD_GENERATION_PROMPT = 1;
    /** lfm2moe_token_attr bit of end-of-generation tokens. */
    public static final int TOKEN_ATTR_END_OF_GENERATION = 1 << 8;

    private volatile long handle;
    private final Set<Session> sessions = new LinkedHashSet<>();
    private final Set<Grammar> grammars = new LinkedHashSet<>();
    private ModelInfo info;
    private int[] vocab;

    public Model(String path) {
        this(path, 0);
    }

    /** @param flags {@link #PREFETCH} | {@link #MLOCK} */
    public Model(String path, int flags) {
        handle = Native.modelLoad(Native.bytes(path), flags);
    }

    /** Version of the loaded C library, e.g. "0.1.0". */
    public static String libraryVersion() {
        return Native.utf8(Native.versionString());
    }

    long handle() {
        long h = handle;
        if (h == 0) {
            throw new IllegalStateException("model is closed");
        }
        return h;
    }

    public boolean isClosed() {
        return handle == 0;
    }

    synchronized void register(Session s) {
        handle();
        sessions.add(s);
    }

    synchronized void unregister(Session s) {
        sessions.remove(s);
    }

    synchronized void register(Grammar g) {
        handle();
        grammars.add(g);
    }

    synchronized void unregister(Grammar g) {
        grammars.remove(g);
    }

    @Override
    public void close() {
        List<Session> open;
        synchronized (this) {
            open = new ArrayList<>(sessions);
        }
        for (Session s : open) {
            s.checkNotInListener(); // before closing anything
        }
        for (Session s : open) {
            s.close();
        }
        List<Grammar> gs;
        synchronized (this) {
            gs = new ArrayList<>(grammars);
        }
        for (Grammar g : gs) {
            g.close();
        }
        synchronized (this) {
            long h = handle;
            handle = 0;
            if (h != 0) {
                Native.modelFree(h);
            }
        }
    }

    public synchronized ModelInfo info() {
        if (info == null) {
            long h = handle();
            info = new ModelInfo(Native.utf8(Native.modelArchitecture(h)), Native.modelInfo(h));
        }
        return info;
    }

    private synchronized int[] vocab() {
        if (vocab == null) {
            vocab = Native.vocabInfo(handle());
        }
        return vocab;
    }

    public int vocabSize() { return vocab()[0]; }
    /** BOS token id, -1 if none. */
    public int bos() { return vocab()[1]; }
    public int eos() { return vocab()[2]; }
    /** The end-of-turn token (&lt;|im_end|&gt;), -1 if none. */
    public int endOfTurn() { return vocab()[4]; }
    boolean addsBos() { return vocab()[5] != 0; }

    /** A metadata value as text; throws NOT_FOUND if there is no such key. */
    public String metadata(String key) {
        return Native.utf8(Native.metaString(handle(), Native.bytes(key)));
    }

    public int[] tokenize(String text, boolean addBos, boolean parseSpecial) {
        return tokenize(Native.bytes(text), addBos, parseSpecial);
    }

    public int[] tokenize(String text) {
        return tokenize(text, true, false);
    }

    /** Tokenize raw bytes (invalid UTF-8 is tokenized byte by byte). */
    public int[] tokenize(byte[] text, boolean addBos, boolean parseSpecial) {
        return Native.tokenize(handle(), text, (addBos ? ADD_BOS : 0)
                | (parseSpecial ? PARSE_SPECIAL : 0));
    }

    public String detokenize(int[] tokens) {
        return Native.utf8(detokenizeBytes(tokens));
    }

    public byte[] detokenizeBytes(int[] tokens) {
        java.util.Objects.requireNonNull(tokens, "tokens");
        return Native.detokenize(handle(), tokens);
    }

    public byte[] tokenBytes(int token) {
        return Native.tokenToBytes(handle(), token);
    }

    /** Token with exactly this vocabulary text; throws NOT_FOUND if none. */
    public int tokenLookup(String text) {
        return Native.tokenLookup(handle(), Native.bytes(text));
    }

    public int tokenAttr(int token) {
        return Native.tokenAttr(handle(), token);
    }

    /**
     * Render a chat request with the model's own Jinja chat template, as
     * Hugging Face's apply_chat_template does (lfm2moe_chat_render_json).
     * @param requestJson {"messages": [...], "tools": [...],
     *     "add_generation_prompt": true, ...}: messages as the template reads
     *     them (tool_calls, thinking, content parts); every member is a
     *     template variable
     */
    public String applyChatTemplateJson(String requestJson) {
        return applyChatTemplateJson(requestJson, null);
    }

    /**
     * The same with a caller-supplied Jinja template (null: the model's).
     */
    public String applyChatTemplateJson(String requestJson, String template) {
        return Native.utf8(Native.chatRenderJson(handle(), Native.bytes(requestJson),
                template == null ? null : Native.bytes(template), 0));
    }

    /**
     * Render a conversation of role/content messages with the model's chat
     * template.
     * @param tools JSON texts of tool definitions (inserted verbatim), may be null
     */
    public String applyChatTemplate(List<Message> messages, List<String> tools,
                                    boolean addGenerationPrompt) {
        byte[][] roles = new byte[messages.size()][];
        byte[][] contents = new byte[messages.size()][];
        for (int k = 0; k < roles.length; k++) {
            roles[k] = Native.bytes(messages.get(k).role);
            contents[k] = Native.bytes(messages.get(k).content);
        }
        byte[][] t = new byte[tools == null ? 0 : tools.size()][];
        for (int k = 0; k < t.length; k++) {
            t[k] = Native.bytes(tools.get(k));
        }
        return Native.utf8(Native.chatRender(handle(), roles, contents, t,
                addGenerationPrompt ? ADD_GENERATION_PROMPT : 0));
    }

    public String applyChatTemplate(List<Message> messages) {
        return applyChatTemplate(messages, null, true);
    }
}
