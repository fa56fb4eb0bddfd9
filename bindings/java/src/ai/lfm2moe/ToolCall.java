package ai.lfm2moe;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** One parsed tool call: the tool's name and its arguments as a JSON object text. */
public final class ToolCall {
    public final String name;
    /** A JSON object, e.g. {@code {"city": "Paris"}} (Python literals converted). */
    public final String arguments;

    ToolCall(String name, String arguments) {
        this.name = name;
        this.arguments = arguments;
    }

    /**
     * The calls in generated text ({@code <|tool_call_start|>[f(a=1), ...]<|tool_call_end|>}
     * blocks, also as LFM2 models write them unconstrained: Python literals,
     * single quotes, dotted names); empty when there is none.  A malformed
     * call throws Lfm2MoeException (PARSE).
     */
    public static List<ToolCall> parse(String text) {
        byte[][] v = Native.toolCallsParse(Native.bytes(text));
        List<ToolCall> out = new ArrayList<>(v.length / 2);
        for (int k = 0; k + 1 < v.length; k += 2) {
            out.add(new ToolCall(Native.utf8(v[k]), Native.utf8(v[k + 1])));
        }
        return Collections.unmodifiableList(out);
    }

    @Override
    public String toString() {
        return "{\"name\": \"" + name + "\", \"arguments\": " + arguments + "}";
    }
}
