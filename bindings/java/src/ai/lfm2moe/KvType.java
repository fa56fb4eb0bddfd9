package ai.lfm2moe;

/**
 * Element type of a session's KV cache (lfm2moe_kv_type): {@link #F32} is
 * exact; {@link #F16} halves the cache (logits within about 0.05);
 * {@link #Q8_0} takes about a quarter (within about 0.07 relative RMS; the
 * model's head size must be a multiple of 32).
 */
public enum KvType {
    F32(0), F16(1), Q8_0(2);

    final int value;

    KvType(int value) {
        this.value = value;
    }
}
