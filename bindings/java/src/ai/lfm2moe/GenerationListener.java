package ai.lfm2moe;

/** Receives generated text as it is produced. */
@FunctionalInterface
public interface GenerationListener {
    /**
     * One piece of text (whole characters; text that may begin a stop string
     * is held back until it is known not to).  Return true to go on, false to
     * stop the generation ({@link StopReason#CALLBACK}).  An exception thrown
     * here also stops it and is rethrown by the generate call.
     */
    boolean onPiece(String piece);
}
