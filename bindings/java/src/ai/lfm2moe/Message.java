package ai.lfm2moe;

/** One chat message: role ("system", "user", "assistant", "tool") and content. */
public final class Message {
    public final String role;
    public final String content;

    public Message(String role, String content) {
        this.role = role;
        this.content = content == null ? "" : content;
    }

    public static Message system(String content) {
        return new Message("system", content);
    }

    public static Message user(String content) {
        return new Message("user", content);
    }

    public static Message assistant(String content) {
        return new Message("assistant", content);
    }

    public static Message tool(String content) {
        return new Message("tool", content);
    }
}
