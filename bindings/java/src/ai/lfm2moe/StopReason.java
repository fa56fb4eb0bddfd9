package ai.lfm2moe;

/** Why a generation ended (lfm2moe_stop_reason). */
public enum StopReason {
    NONE, EOS, STOP_STRING, MAX_TOKENS, CALLBACK, CONTEXT_FULL, CANCELLED;

    static StopReason of(int code) {
        StopReason[] all = values();
        return code >= 0 && code < all.length ? all[code] : NONE;
    }
}
