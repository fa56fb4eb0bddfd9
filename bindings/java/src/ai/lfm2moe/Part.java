package ai.lfm2moe;

/** Which part of a reasoning model's output a piece belongs to (lfm2moe_part). */
public enum Part {
    /** The answer (everything, for a model without &lt;think&gt; tokens). */
    ANSWER,
    /** The thinking between &lt;think&gt; and &lt;/think&gt;. */
    REASONING;

    static Part of(int code) {
        return code == 1 ? REASONING : ANSWER;
    }
}
