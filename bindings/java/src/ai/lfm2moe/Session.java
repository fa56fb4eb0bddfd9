package ai.lfm2moe;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A conversation state on a {@link Model} (KV cache, conv state, worker
 * threads).  Use it from one thread at a time; {@link #cancel()} may be
 * called from any thread, including from a {@link GenerationListener}.
 * Holds its model: the model stays open while the session is.
 */
public final class Session implements AutoCloseable {
    private static final int DECODE_ALL_LOGITS = 1;

    private final Model model;
    private final int nVocab;
    private final KvType kvType;
    private volatile long handle;
    private volatile boolean running;
    /** The thread inside generate, whose listener must not free the session. */
    private volatile Thread generatingThread;

    /** A session with the library's defaults for context length and threads. */
    public Session(Model model) {
        this(model, 0, 0);
    }

    /**
     * @param nCtx tokens the session can hold (0: min(trained context, 4096))
     * @param threads worker threads (0: one per CPU)
     */
    public Session(Model model, int nCtx, int threads) {
        this(model, nCtx, threads, 0, 0);
    }

    /** @param maxMemory refuse (LIMIT) if the session needs more bytes; 0: no cap */
    public Session(Model model, int nCtx, int threads, int nBatch, long maxMemory) {
        this(model, nCtx, threads, nBatch, maxMemory, KvType.F32);
    }

    /**
     * @param kvType element type of the KV cache (F32 exact; F16, Q8_0 smaller)
     */
    public Session(Model model, int nCtx, int threads, int nBatch, long maxMemory, KvType kvType) {
        this(model, nCtx, threads, nBatch, maxMemory, kvType, 0);
    }

    /**
     * @param checkpointInterval keep the conv state every this many tokens, so
     *     {@link #rewind} re-evaluates fewer than that many (0: 64)
     */
    public Session(Model model, int nCtx, int threads, int nBatch, long maxMemory, KvType kvType,
                   int checkpointInterval) {
        this.model = model;
        this.nVocab = model.vocabSize();
        this.kvType = kvType;
        synchronized (model) {
            handle = Native.sessionCreate(model.handle(), nCtx, threads, nBatch, maxMemory,
                    kvType.value, checkpointInterval);
            model.register(this);
        }
    }

    /** A session around a handle made by lfm2moe_session_copy. */
    private Session(Model model, long copied, KvType kvType) {
        this.model = model;
        this.nVocab = model.vocabSize();
        this.kvType = kvType;
        synchronized (model) {
            handle = copied;
            model.register(this);
        }
    }

    public Model model() {
        return model;
    }

    /** The element type of this session's KV cache. */
    public KvType kvType() {
        return kvType;
    }

    private long handle() {
        long h = handle;
        if (h == 0) {
            throw new IllegalStateException("session is closed");
        }
        return h;
    }

    /** The handle for a call that runs the model: not while a generation runs. */
    private long idleHandle() {
        long h = handle();
        if (running) {
            throw new IllegalStateException("session is busy generating");
        }
        return h;
    }

    void checkNotInListener() {
        if (generatingThread == Thread.currentThread()) {
            throw new IllegalStateException("cannot close a session from its own generation "
                    + "listener; return false or call cancel()");
        }
    }

    public boolean isClosed() {
        return handle == 0;
    }

    /**
     * Stops a generation running on another thread first, then frees the
     * session.  From inside a {@link GenerationListener} it throws
     * IllegalStateException (return false or call {@link #cancel()} there).
     */
    @Override
    public void close() {
        checkNotInListener();
        long h = handle;
        if (h != 0 && running) {
            Native.sessionCancel(h);
        }
        synchronized (this) {
            h = handle;
            handle = 0;
            if (h != 0) {
                Native.sessionFree(h);
                model.unregister(this);
            }
        }
    }

    /** Tokens consumed so far (the position of the next token). */
    public int position() {
        return Native.sessionPosition(handle());
    }

    public int contextLength() {
        return Native.sessionContextLength(handle());
    }

    public synchronized void reset() {
        Native.sessionReset(idleHandle());
    }

    /** Ask a running decode or generation to stop.  Safe from any thread. */
    public void cancel() {
        Native.sessionCancel(handle());
    }

    /** Append tokens and run the model over them. */
    public synchronized void decode(int[] tokens, boolean allLogits) {
        java.util.Objects.requireNonNull(tokens, "tokens");
        Native.decode(idleHandle(), tokens, allLogits ? DECODE_ALL_LOGITS : 0);
    }

    public void decode(int[] tokens) {
        decode(tokens, false);
    }

    /** A copy of the logits of the last token of the last decode. */
    public float[] logits() {
        return logits(-1);
    }

    /** A copy of the logits of token {@code index} of the last decode (needs allLogits unless -1). */
    public synchronized float[] logits(int index) {
        float[] out = new float[nVocab];
        Native.logits(handle(), index, out);
        return out;
    }

    /**
     * The session's own logits buffer, without a copy.  Valid only until the
     * next decode, reset or close of this session.
     */
    public synchronized FloatBuffer logitsView(int index) {
        return Native.logitsBuffer(handle(), index, nVocab).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
    }

    /* Called from jni_generate.c with each piece of generated UTF-8 text, and again by part. */
    static final class Sink {
        private final GenerationListener listener;
        final StringBuilder text = new StringBuilder();
        final StringBuilder reasoning = new StringBuilder();
        final StringBuilder answer = new StringBuilder();
        Throwable error;

        Sink(GenerationListener listener) {
            this.listener = listener;
        }

        boolean piece(byte[] utf8, int token) {
            String s = new String(utf8, StandardCharsets.UTF_8);
            text.append(s);
            if (listener == null) {
                return true;
            }
            try {
                return listener.onPiece(s);
            } catch (Throwable t) {
                error = t;
                return false;
            }
        }

        /* The same text by part (lfm2moe_part), tags left out. */
        boolean part(int code, byte[] utf8, int token) {
            String s = new String(utf8, StandardCharsets.UTF_8);
            Part p = Part.of(code);
            (p == Part.REASONING ? reasoning : answer).append(s);
            if (listener == null || error != null) {
                return error == null;
            }
            try {
                return listener.onPart(p, s);
            } catch (Throwable t) {
                error = t;
                return false;
            }
        }
    }

    /**
     * Append {@code prompt} (may be empty: continue from the current logits)
     * and generate, streaming text to {@code listener} (may be null).  The
     * generated tokens are appended to the session.  A grammar, JSON Schema
     * or tool list in the params constrains the output; with a reasoning
     * model the result splits reasoning and answer.
     */
    public synchronized GenerationResult generate(int[] prompt, GenerationParams params,
                                                  GenerationListener listener) {
        long h = idleHandle();
        if (params == null) {
            params = new GenerationParams();
        }
        int[] biasTokens = new int[params.logitBias.size()];
        float[] biasValues = new float[biasTokens.length];
        int k = 0;
        for (java.util.Map.Entry<Integer, Float> e : params.logitBias.entrySet()) {
            biasTokens[k] = e.getKey();
            biasValues[k++] = e.getValue();
        }
        Sink sink = new Sink(listener);
        double[] r;
        boolean[] owned = new boolean[1];
        Grammar grammar = params.makeGrammar(model, owned);
        running = true;
        generatingThread = Thread.currentThread();
        try {
            long g = grammar == null ? 0 : grammar.acquire();
            try {
                r = Native.generate(h, prompt, params.maxTokens, params.floats(), params.ints(),
                        params.seed, params.stopBytes(), biasTokens, biasValues, g, sink);
            } finally {
                if (grammar != null) {
                    grammar.release();
                }
            }
        } finally {
            generatingThread = null;
            running = false;
            if (grammar != null && owned[0]) {
                grammar.close();
            }
        }
        if (sink.error instanceof RuntimeException) {
            throw (RuntimeException) sink.error;
        }
        if (sink.error instanceof Error) {
            throw (Error) sink.error;
        }
        if (sink.error != null) {
            throw new RuntimeException(sink.error);
        }
        return new GenerationResult(sink.text.toString(), sink.reasoning.toString(),
                sink.answer.toString(), r);
    }

    /**
     * Generate from text; special tokens such as &lt;|im_start|&gt; are parsed,
     * and BOS is added at the start of the session unless the text begins
     * with it (as a rendered chat template does).
     */
    public GenerationResult generate(String prompt, GenerationParams params,
                                     GenerationListener listener) {
        int[] ids = model.tokenize(prompt, false, true);
        int bos = model.bos();
        if (position() == 0 && model.addsBos() && bos >= 0 && (ids.length == 0 || ids[0] != bos)) {
            int[] with = new int[ids.length + 1];
            with[0] = bos;
            System.arraycopy(ids, 0, with, 1, ids.length);
            ids = with;
        }
        return generate(ids, params, listener);
    }

    /**
     * Render the whole conversation with the chat template and return the
     * assistant's reply.  The session keeps what it shares with the
     * conversation (earlier turns, or everything before an edited message)
     * and evaluates only the rest: the result reports both counts.
     */
    public GenerationResult chat(List<Message> messages, GenerationParams params,
                                 GenerationListener listener) {
        String text = model.applyChatTemplate(messages);
        boolean was = params != null && params.reusePrefix;
        if (params == null) {
            params = new GenerationParams();
        }
        params.reusePrefix = true;
        try {
            return generate(model.tokenize(text, false, true), params, listener);
        } finally {
            params.reusePrefix = was;
        }
    }

    public String chat(List<Message> messages, GenerationParams params) {
        return chat(messages, params, null).text;
    }

    // ---- history: rewind, snapshots, forks ----------------------------------

    /** The tokens the session holds (positions 0 .. position()-1). */
    public synchronized int[] tokens() {
        return Native.sessionTokens(handle());
    }

    /**
     * Go back to position {@code pos}: afterwards the session is exactly a
     * session that decoded only its first {@code pos} tokens (no logits
     * until the next decode).
     */
    public synchronized void rewind(int pos) {
        Native.sessionRewind(idleHandle(), pos);
    }

    /** A snapshot of the state (tokens, KV cache, conv state). */
    public synchronized byte[] save() {
        return Native.sessionSave(idleHandle());
    }

    /** Write a snapshot to {@code path} (replaced only on success). */
    public synchronized void save(String path) {
        Native.sessionFile(idleHandle(), Native.bytes(path), true);
    }

    /**
     * Replace the state with a snapshot from {@link #save()}.  Another
     * model's snapshot, a too-small context or damaged bytes throw
     * Lfm2MoeException and leave the session as it was.
     */
    public synchronized void load(byte[] snapshot) {
        java.util.Objects.requireNonNull(snapshot, "snapshot");
        Native.sessionLoad(idleHandle(), snapshot);
    }

    /** Load a snapshot file written by {@link #save(String)}. */
    public synchronized void load(String path) {
        Native.sessionFile(idleHandle(), Native.bytes(path), false);
    }

    /** A new session with the same state and parameters (only the used cache is copied). */
    public synchronized Session copy() {
        return new Session(model, Native.sessionCopy(idleHandle(), true, 0, 0, 0, 0, 0, 0), kvType);
    }

    /** A copy with other parameters (nCtx must hold the tokens; the KV type stays). */
    public synchronized Session copy(int nCtx, int threads, int nBatch, long maxMemory,
                                     int checkpointInterval) {
        return new Session(model, Native.sessionCopy(idleHandle(), false, nCtx, threads, nBatch,
                maxMemory, kvType.value, checkpointInterval), kvType);
    }
}
