package ai.lfm2moe.tests;

import ai.lfm2moe.Lfm2MoeException;

/** The assertions of the binding tests (no JUnit): counted checks and expected exceptions. */
final class Checks {
    static int count;

    private Checks() {}

    static void check(boolean ok, String what) {
        count++;
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    interface Body {
        void run() throws Exception;
    }

    /** The body must throw exactly {@code type}; returns the exception. */
    static <T extends Throwable> T expect(Class<T> type, Body body) throws Exception {
        try {
            body.run();
        } catch (Throwable t) {
            if (type.isInstance(t)) {
                count++;
                return type.cast(t);
            }
            throw new AssertionError("expected " + type.getSimpleName() + ", got " + t, t);
        }
        throw new AssertionError("expected " + type.getSimpleName() + ", nothing thrown");
    }

    /** The status of the Lfm2MoeException the body must throw. */
    static int status(Body body) throws Exception {
        return expect(Lfm2MoeException.class, body).getStatus();
    }
}
