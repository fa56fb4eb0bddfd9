package ai.lfm2moe;

/**
 * Receives generated text as it is produced: {@link #onPiece} the whole text,
 * {@link #onPart} the same pieces split into reasoning and answer (reasoning
 * models; the &lt;think&gt; tags left out).
 */
@FunctionalInterface
public interface GenerationListener {
    /**
     * One piece of text (whole characters; text that may begin a stop string
     * is held back until it is known not to).  Return true to go on, false to
     * stop the generation ({@link StopReason#CALLBACK}).  An exception thrown
     * here also stops it and is rethrown by the generate call.
     */
    boolean onPiece(String piece);

    /**
     * The piece again with its part, after {@link #onPiece} (without the
     * &lt;think&gt; / &lt;/think&gt; tags).  Return false to stop.
     */
    default boolean onPart(Part part, String piece) {
        return true;
    }
}
