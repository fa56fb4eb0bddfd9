package ai.lfm2moe;

import java.nio.charset.StandardCharsets;

/** A library call failed: {@link #getStatus()} is the lfm2moe_status code. */
public class Lfm2MoeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public static final int INVALID_ARGUMENT = -1;
    public static final int OUT_OF_MEMORY = -2;
    public static final int IO = -3;
    public static final int BAD_FORMAT = -4;
    public static final int UNSUPPORTED_ARCH = -5;
    public static final int UNSUPPORTED_TYPE = -6;
    public static final int BAD_MODEL = -7;
    public static final int CONTEXT_FULL = -8;
    public static final int TOKEN_OUT_OF_RANGE = -9;
    public static final int BUFFER_TOO_SMALL = -10;
    public static final int NOT_FOUND = -11;
    public static final int CANCELLED = -12;
    public static final int UNSUPPORTED_TEMPLATE = -13;
    public static final int PARSE = -14;
    public static final int LIMIT = -15;
    public static final int INTERNAL = -16;

    private final int status;
    private final String statusName;
    private final String detail;

    public Lfm2MoeException(int status, String statusName, String detail) {
        super(detail == null || detail.isEmpty() ? statusName : statusName + ": " + detail);
        this.status = status;
        this.statusName = statusName;
        this.detail = detail == null ? "" : detail;
    }

    /* Called from jni_common.c with UTF-8 text. */
    Lfm2MoeException(int status, byte[] statusName, byte[] detail) {
        this(status, new String(statusName, StandardCharsets.UTF_8),
                new String(detail, StandardCharsets.UTF_8));
    }

    /** The lfm2moe_status code (negative). */
    public int getStatus() {
        return status;
    }

    /** lfm2moe_status_string() of the code, e.g. "input/output error". */
    public String getStatusName() {
        return statusName;
    }

    /** lfm2moe_last_error() at the time of the failure (may be empty). */
    public String getDetail() {
        return detail;
    }
}
