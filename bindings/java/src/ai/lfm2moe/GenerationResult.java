package ai.lfm2moe;

import java.util.List;

/** Outcome of {@link Session#generate}. */
public final class GenerationResult {
    /** All the text, &lt;think&gt; tags included. */
    public final String text;
    /** Reasoning models: the thinking, without its tags ("" otherwise). */
    public final String reasoning;
    /** The text without the reasoning and its tags. */
    public final String answer;
    /** Of {@link #generatedTokens}: the thinking tokens. */
    public final int reasoningTokens;
    public final StopReason stopReason;
    /** Prompt tokens evaluated. */
    public final int promptTokens;
    /** Prompt tokens kept from the session (with {@link GenerationParams#reusePrefix}). */
    public final int promptTokensReused;
    public final int generatedTokens;
    public final double promptSeconds;
    public final double generateSeconds;

    private List<ToolCall> toolCalls;

    GenerationResult(String text, String reasoning, String answer, double[] r) {
        this.text = text;
        this.reasoning = reasoning;
        this.answer = answer;
        this.reasoningTokens = (int) r[6];
        this.stopReason = StopReason.of((int) r[0]);
        this.promptTokens = (int) r[1];
        this.generatedTokens = (int) r[2];
        this.promptSeconds = r[3];
        this.generateSeconds = r[4];
        this.promptTokensReused = (int) r[5];
    }

    /** The tool calls in the answer (parsed on first use; see {@link ToolCall#parse}). */
    public synchronized List<ToolCall> toolCalls() {
        if (toolCalls == null) {
            toolCalls = ToolCall.parse(answer);
        }
        return toolCalls;
    }

    @Override
    public String toString() {
        return "GenerationResult{stop=" + stopReason + ", prompt=" + promptTokens
                + ", reused=" + promptTokensReused
                + ", generated=" + generatedTokens + ", reasoning=" + reasoningTokens + "}";
    }
}
