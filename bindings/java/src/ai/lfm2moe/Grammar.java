package ai.lfm2moe;

import java.util.List;

/**
 * A compiled grammar that constrains generation ({@link GenerationParams#grammar}):
 * every generated token keeps the text a valid prefix of its language, and
 * the end of generation is allowed only where the language may end.
 * Immutable and shareable by generations on any threads; holds its model,
 * which closes it first.  {@link #close()} waits for generations using it.
 */
public final class Grammar implements AutoCloseable {
    private static final int GBNF = 0, JSON_SCHEMA = 1;

    private final Model model;
    private long handle;
    private int users; // generations running with it

    private Grammar(Model model, long handle) {
        this.model = model;
        this.handle = handle;
        model.register(this);
    }

    /** A GBNF grammar (llama.cpp's format) starting at rule {@code root}. */
    public Grammar(Model model, String gbnf) {
        this(model, gbnf, "root");
    }

    /** A GBNF grammar starting at rule {@code rootRule}; errors say line and column. */
    public Grammar(Model model, String gbnf, String rootRule) {
        this(model, Native.grammarCreate(model.handle(), Native.bytes(gbnf),
                Native.bytes(rootRule), GBNF));
    }

    /** The JSON texts valid under a JSON Schema (lfm2moe_grammar_from_json_schema). */
    public static Grammar fromJsonSchema(Model model, String schemaJson) {
        return new Grammar(model, Native.grammarCreate(model.handle(), Native.bytes(schemaJson),
                null, JSON_SCHEMA));
    }

    /**
     * LFM2 tool calls to these tools (the JSON texts given to the chat
     * template), whose arguments follow each tool's parameter schema.
     */
    public static Grammar fromTools(Model model, List<String> tools, ToolChoice choice) {
        byte[][] t = new byte[tools.size()][];
        for (int k = 0; k < t.length; k++) {
            t[k] = Native.bytes(tools.get(k));
        }
        return new Grammar(model, Native.grammarFromTools(model.handle(), t, choice.value));
    }

    public Model model() {
        return model;
    }

    /** The grammar as GBNF text (written by the library for schemas and tools). */
    public synchronized String gbnf() {
        if (handle == 0) {
            throw new IllegalStateException("grammar is closed");
        }
        return Native.utf8(Native.grammarGbnf(handle));
    }

    /** The handle for a generation; {@link #release()} after it. */
    synchronized long acquire() {
        if (handle == 0) {
            throw new IllegalStateException("grammar is closed");
        }
        users++;
        return handle;
    }

    synchronized void release() {
        users--;
        notifyAll();
    }

    public synchronized boolean isClosed() {
        return handle == 0;
    }

    /**
     * Waits for generations using it to end, then frees it (so not from the
     * listener of a generation that uses it).
     */
    @Override
    public void close() {
        synchronized (this) {
            boolean interrupted = false;
            while (users > 0) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (handle == 0) {
                return;
            }
            Native.grammarFree(handle);
            handle = 0;
        }
        model.unregister(this);
    }
}
