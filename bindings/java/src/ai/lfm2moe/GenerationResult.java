package ai.lfm2moe;

/** Outcome of {@link Session#generate}. */
public final class GenerationResult {
    public final String text;
    public final StopReason stopReason;
    /** Prompt tokens evaluated. */
    public final int promptTokens;
    /** Prompt tokens kept from the session (with {@link GenerationParams#reusePrefix}). */
    public final int promptTokensReused;
    public final int generatedTokens;
    public final double promptSeconds;
    public final double generateSeconds;

    GenerationResult(String text, double[] r) {
        this.text = text;
        this.stopReason = StopReason.of((int) r[0]);
        this.promptTokens = (int) r[1];
        this.generatedTokens = (int) r[2];
        this.promptSeconds = r[3];
        this.generateSeconds = r[4];
        this.promptTokensReused = (int) r[5];
    }

    @Override
    public String toString() {
        return "GenerationResult{stop=" + stopReason + ", prompt=" + promptTokens
                + ", reused=" + promptTokensReused
                + ", generated=" + generatedTokens + "}";
    }
}
