package ai.lfm2moe;

/** How a tool grammar constrains the output (lfm2moe_tool_choice). */
public enum ToolChoice {
    /** Text, or calls: constrained once the model emits &lt;|tool_call_start|&gt;. */
    AUTO(0),
    /** One block of calls, then the end. */
    REQUIRED(1),
    /** Free text; a call is never started. */
    NONE(2);

    final int value;

    ToolChoice(int value) {
        this.value = value;
    }
}
