package ai.lfm2moe;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sampling and stopping settings of a generation (lfm2moe_generate_params).
 * A new object holds the library's defaults (lfm2moe_generate_params_init);
 * the setters return this for chaining.
 */
public final class GenerationParams {
    /** Tokens to generate at most; &lt;= 0: until the context is full. */
    public int maxTokens;
    /** &lt;= 0: greedy (argmax). */
    public float temperature;
    /** &lt;= 0: off. */
    public int topK;
    /** &gt;= 1: off. */
    public float topP;
    /** &lt;= 0: off. */
    public float minP;
    /** 1: off. */
    public float repeatPenalty;
    public float frequencyPenalty;
    public float presencePenalty;
    /** Window of past tokens the penalties look at; 0 off, -1 all. */
    public int penaltyLastN;
    /** Same seed and same inputs give the same output. */
    public long seed;
    /**
     * The prompt is the whole conversation: the session keeps its longest
     * common prefix with what it holds and evaluates only the rest
     * ({@link GenerationResult#promptTokensReused} says how much was kept).
     */
    public boolean reusePrefix;
    /** Stop strings (not included in the output). */
    public final List<String> stop = new ArrayList<>();
    /** Added to the logit of each token before sampling. */
    public final Map<Integer, Float> logitBias = new LinkedHashMap<>();
    /**
     * Structured output, at most one of: a {@link Grammar} (not closed by the
     * generation), a JSON Schema text, or the tool list (JSON texts, as given
     * to the chat template) with {@link #toolChoice}.  The result's
     * {@link GenerationResult#toolCalls()} parses the calls.
     */
    public Grammar grammar;
    public String jsonSchema;
    public List<String> tools;
    public ToolChoice toolChoice = ToolChoice.AUTO;
    /**
     * Reasoning models (&lt;think&gt;...&lt;/think&gt;): after this many
     * thinking tokens &lt;/think&gt; is forced and the answer follows; -1: no
     * limit.
     */
    public int reasoningBudget;

    public GenerationParams() {
        float[] f = new float[6];
        int[] i = new int[5];
        long[] s = new long[1];
        Native.generateDefaults(f, i, s);
        temperature = f[0];
        topP = f[1];
        minP = f[2];
        repeatPenalty = f[3];
        frequencyPenalty = f[4];
        presencePenalty = f[5];
        maxTokens = i[0];
        topK = i[1];
        penaltyLastN = i[2];
        reasoningBudget = i[4];
        seed = s[0];
    }

    /** Greedy decoding with every penalty and filter off. */
    public static GenerationParams greedy() {
        return new GenerationParams().temperature(0).topK(0).topP(1).minP(0).repeatPenalty(1)
                .frequencyPenalty(0).presencePenalty(0);
    }

    public GenerationParams maxTokens(int v) { maxTokens = v; return this; }
    public GenerationParams temperature(float v) { temperature = v; return this; }
    public GenerationParams topK(int v) { topK = v; return this; }
    public GenerationParams topP(float v) { topP = v; return this; }
    public GenerationParams minP(float v) { minP = v; return this; }
    public GenerationParams repeatPenalty(float v) { repeatPenalty = v; return this; }
    public GenerationParams frequencyPenalty(float v) { frequencyPenalty = v; return this; }
    public GenerationParams presencePenalty(float v) { presencePenalty = v; return this; }
    public GenerationParams penaltyLastN(int v) { penaltyLastN = v; return this; }
    public GenerationParams seed(long v) { seed = v; return this; }
    public GenerationParams reusePrefix(boolean v) { reusePrefix = v; return this; }
    public GenerationParams stop(String s) { stop.add(s); return this; }
    public GenerationParams logitBias(int token, float bias) { logitBias.put(token, bias); return this; }
    public GenerationParams grammar(Grammar g) { grammar = g; return this; }
    public GenerationParams jsonSchema(String schema) { jsonSchema = schema; return this; }
    public GenerationParams tools(List<String> t, ToolChoice choice) {
        tools = t;
        toolChoice = choice;
        return this;
    }
    public GenerationParams reasoningBudget(int n) { reasoningBudget = n; return this; }

    float[] floats() {
        return new float[] {temperature, topP, minP, repeatPenalty, frequencyPenalty,
                            presencePenalty};
    }

    int[] ints() {
        return new int[] {maxTokens, topK, penaltyLastN, reusePrefix ? GENERATE_REUSE_PREFIX : 0,
                          reasoningBudget};
    }

    private static final int GENERATE_REUSE_PREFIX = 1;

    /** The grammar of the structured-output fields (null: none); owned says the caller closes it. */
    Grammar makeGrammar(Model model, boolean[] owned) {
        int n = (grammar != null ? 1 : 0) + (jsonSchema != null ? 1 : 0) + (tools != null ? 1 : 0);
        if (n > 1) {
            throw new IllegalArgumentException("give at most one of grammar, jsonSchema, tools");
        }
        if (reasoningBudget < -1) {
            throw new IllegalArgumentException("reasoningBudget must be >= 0 (-1: no limit)");
        }
        owned[0] = grammar == null;
        if (grammar != null) {
            if (grammar.model() != model) {
                throw new IllegalArgumentException("the grammar was made for another model");
            }
            return grammar;
        }
        if (jsonSchema != null) {
            return Grammar.fromJsonSchema(model, jsonSchema);
        }
        return tools == null ? null : Grammar.fromTools(model, tools, toolChoice);
    }

    byte[][] stopBytes() {
        byte[][] b = new byte[stop.size()][];
        for (int k = 0; k < b.length; k++) {
            b[k] = Native.bytes(stop.get(k));
        }
        return b;
    }
}
