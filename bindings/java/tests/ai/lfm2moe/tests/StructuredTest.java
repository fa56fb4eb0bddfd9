package ai.lfm2moe.tests;

import static ai.lfm2moe.tests.Checks.check;
import static ai.lfm2moe.tests.Checks.expect;

import ai.lfm2moe.GenerationListener;
import ai.lfm2moe.GenerationParams;
import ai.lfm2moe.GenerationResult;
import ai.lfm2moe.Grammar;
import ai.lfm2moe.Lfm2MoeException;
import ai.lfm2moe.Model;
import ai.lfm2moe.Part;
import ai.lfm2moe.Session;
import ai.lfm2moe.StopReason;
import ai.lfm2moe.ToolCall;
import ai.lfm2moe.ToolChoice;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Structured output and reasoning through the Java bindings: Grammar (GBNF,
 * JSON Schema, tools), generation with grammar / jsonSchema / tools returning
 * parsed calls, ToolCall.parse, and the reasoning split and budget on
 * tiny-t25 with &lt;think&gt; tokens.  Usage: StructuredTest GOLDEN_DIR THINK_MODEL
 */
public final class StructuredTest {
    private StructuredTest() {}

    private static final String PROMPT =
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    private static final String WEATHER = "{\"name\": \"get_weather\", \"parameters\": "
            + "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", "
            + "\"maxLength\": 12}, "
            + "\"days\": {\"type\": \"integer\"}}, \"required\": [\"city\", \"days\"]}}";

    static GenerationParams sampled(long seed) {
        return new GenerationParams().temperature(1.0f).seed(seed).maxTokens(64);
    }

    static void testGrammar(Model m) throws Exception {
        try (Grammar g = new Grammar(m, "root ::= \"yes\" | \"no\"");
             Session s = new Session(m, 256, 1)) {
            check(g.gbnf().contains("yes"), "gbnf text: " + g.gbnf());
            for (long seed = 1; seed <= 8; seed++) {
                s.reset();
                GenerationResult r = s.generate(PROMPT, sampled(seed).grammar(g), null);
                check(r.text.equals("yes") || r.text.equals("no"), "grammar output: " + r.text);
                check(r.stopReason == StopReason.EOS, "ends where the language does: " + r);
            }
            check(!g.isClosed(), "a caller's grammar stays open");
        }
        Lfm2MoeException e = expect(Lfm2MoeException.class, () -> new Grammar(m, "root ::= (\"a\""));
        check(e.getStatus() == Lfm2MoeException.PARSE && e.getDetail().contains("1"),
                "parse error with a position: " + e.getDetail());
        check(expect(Lfm2MoeException.class, () -> new Grammar(m, "x ::= \"a\"", "nope"))
                .getStatus() == Lfm2MoeException.NOT_FOUND, "no such root rule");
        Grammar closed = new Grammar(m, "root ::= \"a\"");
        closed.close();
        closed.close(); // idempotent
        try (Session s = new Session(m, 64, 1)) {
            expect(IllegalStateException.class,
                    () -> s.generate(PROMPT, new GenerationParams().grammar(closed), null));
        }
    }

    static void testJsonSchema(Model m) throws Exception {
        String schema = "{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}, "
                + "\"ok\": {\"type\": \"boolean\"}}, \"required\": [\"n\", \"ok\"]}";
        try (Session s = new Session(m, 512, 1)) {
            for (long seed = 1; seed <= 6; seed++) {
                s.reset();
                GenerationResult r = s.generate(PROMPT, sampled(seed).maxTokens(200)
                        .jsonSchema(schema), null);
                check(r.stopReason == StopReason.EOS, "schema output complete: " + r);
                MiniJson.Obj o = MiniJson.parse(r.text);
                check(o.m.keySet().equals(new java.util.HashSet<>(Arrays.asList("n", "ok")))
                        && o.m.get("n") instanceof Long && o.m.get("ok") instanceof Boolean,
                        "valid under the schema: " + r.text);
            }
            check(expect(Lfm2MoeException.class, () -> Grammar.fromJsonSchema(m,
                    "{\"type\": \"integer\", \"minimum\": 3}")).getDetail().contains("minimum"),
                    "unsupported keyword named");
            expect(IllegalArgumentException.class, () -> s.generate(PROMPT,
                    new GenerationParams().jsonSchema(schema)
                            .tools(Collections.singletonList(WEATHER), ToolChoice.REQUIRED), null));
        }
    }

    static void testTools(Model m) throws Exception {
        List<String> tools = Collections.singletonList(WEATHER);
        try (Session s = new Session(m, 2048, 1)) {
            for (long seed = 1; seed <= 6; seed++) {
                s.reset();
                GenerationResult r = s.generate(PROMPT, sampled(seed).maxTokens(1024)
                        .tools(tools, ToolChoice.REQUIRED), null);
                check(r.stopReason == StopReason.EOS, "a whole block: " + r);
                List<ToolCall> calls = r.toolCalls();
                check(!calls.isEmpty(), "calls: " + r.text);
                for (ToolCall c : calls) {
                    MiniJson.Obj a = MiniJson.parse(c.arguments);
                    check(c.name.equals("get_weather") && a.m.get("city") instanceof String
                            && a.m.get("days") instanceof Long, "call matches the tool: " + c);
                }
            }
        }
        try (Grammar g = Grammar.fromTools(m, tools, ToolChoice.AUTO)) {
            check(g.gbnf().contains("get_weather"), "tool grammar names the tool");
        }
        // what LFM2 models write unconstrained
        List<ToolCall> calls = ToolCall.parse("<|tool_call_start|>[a.b(x=True, y='q', z=None),"
                + " f()]<|tool_call_end|>");
        check(calls.size() == 2 && calls.get(0).name.equals("a.b")
                && calls.get(0).arguments.replace(" ", "").equals("{\"x\":true,\"y\":\"q\",\"z\":null}")
                && calls.get(1).arguments.replace(" ", "").equals("{}"), "parse: " + calls);
        check(ToolCall.parse("no calls").isEmpty(), "no calls");
        check(expect(Lfm2MoeException.class, () -> ToolCall.parse(
                "<|tool_call_start|>[f(x=]<|tool_call_end|>")).getStatus() == Lfm2MoeException.PARSE,
                "malformed call");
    }

    static void testGrammarOfAnotherModel(Model m, Model other) throws Exception {
        try (Grammar g = new Grammar(other, "root ::= \"a\""); Session s = new Session(m, 64, 1)) {
            expect(IllegalArgumentException.class,
                    () -> s.generate(PROMPT, new GenerationParams().grammar(g), null));
        }
    }

    /** tiny-t25 with <think> / </think>: the budget forces </think> after N tokens. */
    static void testReasoning(Model m) throws Exception {
        int close = m.tokenLookup("</think>");
        for (int budget : new int[] {0, 2, 6}) {
            try (Session s = new Session(m, 256, 1)) {
                GenerationParams p = GenerationParams.greedy().maxTokens(16).reasoningBudget(budget)
                        .logitBias(close, -1e30f).logitBias(m.endOfTurn(), -1e30f)
                        .logitBias(m.eos(), -1e30f);
                StringBuilder streamedReasoning = new StringBuilder();
                StringBuilder streamedAnswer = new StringBuilder();
                GenerationListener l = new GenerationListener() {
                    @Override
                    public boolean onPiece(String piece) {
                        return true;
                    }

                    @Override
                    public boolean onPart(Part part, String piece) {
                        (part == Part.REASONING ? streamedReasoning : streamedAnswer).append(piece);
                        return true;
                    }
                };
                GenerationResult r = s.generate(PROMPT + "<think>", p, l);
                int[] t = s.tokens();
                int start = t.length - r.generatedTokens;
                int[] gen = Arrays.copyOfRange(t, start, t.length);
                check(r.reasoningTokens == budget, "reasoning tokens " + r);
                check(gen[budget] == close, "</think> exactly after " + budget);
                check(r.reasoning.equals(m.detokenize(Arrays.copyOfRange(gen, 0, budget))),
                        "reasoning text");
                check(r.answer.equals(m.detokenize(Arrays.copyOfRange(gen, budget + 1, gen.length))),
                        "answer text");
                check(r.text.equals(m.detokenize(gen)) && r.text.contains("</think>"),
                        "whole text with tags");
                check(streamedReasoning.toString().equals(r.reasoning)
                        && streamedAnswer.toString().equals(r.answer), "onPart split");
            }
        }
        try (Session s = new Session(m, 64, 1)) {
            expect(IllegalArgumentException.class,
                    () -> s.generate(PROMPT, new GenerationParams().reasoningBudget(-2), null));
        }
    }

    public static void main(String[] args) throws Exception {
        Path golden = Paths.get(args[0]);
        try (Model m = new Model(golden.resolve("tiny-a-f32.gguf").toString());
             Model t25 = new Model(golden.resolve("tiny-t25-f32.gguf").toString())) {
            testGrammar(m);
            testJsonSchema(m);
            testTools(m);
            testGrammarOfAnotherModel(m, t25);
        }
        // a grammar left open is closed with its model
        Model t25 = new Model(golden.resolve("tiny-t25-f32.gguf").toString());
        Grammar left = new Grammar(t25, "root ::= \"a\"");
        t25.close();
        check(left.isClosed(), "closed with the model");
        try (Model think = new Model(args[1])) {
            testReasoning(think);
        }
        System.out.println("java structured output: " + Checks.count + " checks passed");
    }
}
