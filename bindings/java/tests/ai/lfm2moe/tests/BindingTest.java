package ai.lfm2moe.tests;

import static ai.lfm2moe.tests.Checks.check;
import static ai.lfm2moe.tests.Checks.expect;
import static ai.lfm2moe.tests.Checks.status;

import ai.lfm2moe.GenerationParams;
import ai.lfm2moe.GenerationResult;
import ai.lfm2moe.KvType;
import ai.lfm2moe.Lfm2MoeException;
import ai.lfm2moe.Message;
import ai.lfm2moe.Model;
import ai.lfm2moe.Session;
import ai.lfm2moe.StopReason;
import ai.lfm2moe.Version;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Tests of the Java bindings against tests/golden (no JUnit: a main that
 * exits non-zero on the first failure).  Usage: BindingTest GOLDEN_DIR
 */
public final class BindingTest {
    private static Path golden;
    private static String model;

    private BindingTest() {}

    /** tests/golden/*.gld: header, tokens, logits rows (README there). */
    static final class Gld {
        int nPrompt, nGen, nVocab;
        int[] tokens;
        float[][] rows;

        Gld(Path p) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
            check(b.getInt() == 0x31444c47, "GLD1 magic");
            nPrompt = b.getInt();
            nGen = b.getInt();
            nVocab = b.getInt();
            int n = nPrompt + nGen;
            tokens = new int[n];
            for (int i = 0; i < n; i++) {
                tokens[i] = b.getInt();
            }
            rows = new float[n][nVocab];
            for (int t = 0; t < n; t++) {
                for (int v = 0; v < nVocab; v++) {
                    rows[t][v] = b.getFloat();
                }
            }
        }
    }

    static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    static void testModel() throws Exception {
        try (Model m = new Model(model)) {
            check(Model.libraryVersion().startsWith("0."), "version");
            // the generated Version class and the library both carry meson's version
            check(Version.library().equals(Version.STRING) && Model.libraryVersion().equals(Version.STRING),
                    "Version.STRING " + Version.STRING + " vs library " + Version.library());
            check(m.info().nVocab == 1024 && m.info().nEmbd == 128 && m.info().nBlock == 8,
                    "info " + m.info());
            check(m.info().architecture.equals("lfm2moe"), "architecture");
            check(m.info().fileSize == Files.size(Paths.get(model)), "file size");
            check(m.metadata("general.architecture").equals("lfm2moe"), "metadata");
            check(m.tokenLookup("<|im_end|>") == m.endOfTurn(), "end of turn");
            check((m.tokenAttr(m.endOfTurn()) & Model.TOKEN_ATTR_END_OF_GENERATION) != 0, "attr");
            check(status(() -> m.tokenLookup("no such token")) == Lfm2MoeException.NOT_FOUND,
                    "lookup NOT_FOUND");
            check(status(() -> m.metadata("no.such.key")) == Lfm2MoeException.NOT_FOUND,
                    "meta NOT_FOUND");
            // Text outside the BMP and a NUL survive the round trip (UTF-8, not modified UTF-8).
            String text = "héllo wörld — 世界 🎉\u0000 end";
            int[] ids = m.tokenize(text, false, false);
            check(m.detokenize(ids).equals(text), "utf-8 round trip");
            check(Arrays.equals(m.detokenizeBytes(ids), text.getBytes(StandardCharsets.UTF_8)),
                    "utf-8 bytes");
            byte[] raw = {'o', 'k', (byte) 0xff, (byte) 0xe4, (byte) 0xb8};
            check(Arrays.equals(m.detokenizeBytes(m.tokenize(raw, false, false)), raw),
                    "invalid utf-8 bytes round trip");
        }
    }

    /** tokenizer-a.jsonl, parsed with a tiny reader for its fixed shape. */
    static void testTokenizerGoldens() throws Exception {
        int n = 0;
        try (Model m = new Model(model)) {
            for (String line : Files.readAllLines(golden.resolve("tokenizer-a.jsonl"),
                    StandardCharsets.UTF_8)) {
                MiniJson.Obj o = MiniJson.parse(line);
                int[] want = o.ints("ids");
                int[] got = m.tokenize(o.str("text"), o.bool("add_special"),
                        o.bool("parse_special"));
                check(Arrays.equals(got, want), "tokenize " + o.str("text") + ": got "
                        + Arrays.toString(got) + " want " + Arrays.toString(want));
                n++;
            }
        }
        check(n > 50, "tokenizer cases");
    }

    static void testChatGoldens() throws Exception {
        int n = 0;
        try (Model m = new Model(model)) {
            for (String line : Files.readAllLines(golden.resolve("chat-a.jsonl"),
                    StandardCharsets.UTF_8)) {
                MiniJson.Obj o = MiniJson.parse(line);
                List<Message> msgs = new ArrayList<>();
                for (MiniJson.Obj msg : o.objs("messages")) {
                    msgs.add(new Message(msg.str("role"), msg.str("content")));
                }
                String got = m.applyChatTemplate(msgs, o.rawList("tools"),
                        o.bool("add_generation_prompt"));
                check(got.equals(o.str("rendered")), "chat template case " + n + ": " + got);
                n++;
            }
        }
        check(n == 7, "chat cases");
    }

    /** LFM2.5's template (tool_calls, thinking, content parts) through the JSON call:
     *  each golden line minus "rendered" is the request. */
    static void testChatGoldensJson() throws Exception {
        int n = 0;
        try (Model m = new Model(golden.resolve("tiny-t25-f32.gguf").toString())) {
            for (String line : Files.readAllLines(golden.resolve("chat-25moe-a.jsonl"),
                    StandardCharsets.UTF_8)) {
                MiniJson.Obj o = MiniJson.parse(line);
                int at = line.lastIndexOf(", \"rendered\": ");
                String request = line.substring(0, at) + "}";
                String got = m.applyChatTemplateJson(request);
                check(got.equals(o.str("rendered")), "chat JSON case " + n + ": " + got);
                n++;
            }
            String t = m.applyChatTemplateJson("{\"messages\": [], \"who\": \"w\u00f6rld\"}",
                    "{{ bos_token }}hello {{ who }}");
            check(t.equals("<|startoftext|>hello w\u00f6rld"), "template override: " + t);
            boolean threw = false;
            try {
                m.applyChatTemplateJson("{\"messages\": []}", "{{ raise_exception('nope') }}");
            } catch (Lfm2MoeException e) {
                threw = e.getMessage().contains("nope");
            }
            check(threw, "raise_exception reaches Java");
        }
        check(n == 9, "chat JSON cases");
    }

    static void testLogits() throws Exception {
        Gld g = new Gld(golden.resolve("tiny-a-f32.gld"));
        try (Model m = new Model(model);
             Session s = new Session(m, g.nPrompt + g.nGen, 2)) {
            s.decode(Arrays.copyOf(g.tokens, g.nPrompt), true);
            check(s.position() == g.nPrompt, "position");
            double worst = 0;
            for (int t = 0; t < g.nPrompt; t++) {
                float[] row = s.logits(t);
                worst = Math.max(worst, maxDiff(row, g.rows[t]));
                check(argmax(row) == argmax(g.rows[t]), "argmax row " + t);
            }
            FloatBuffer view = s.logitsView(-1);
            float[] last = s.logits();
            check(view.remaining() == g.nVocab && view.get(5) == last[5], "logits view");
            for (int t = g.nPrompt; t < g.nPrompt + g.nGen; t++) {
                s.decode(new int[] {g.tokens[t]});
                worst = Math.max(worst, maxDiff(s.logits(), g.rows[t]));
            }
            System.out.printf("logits: max |d| %.3g over %d rows%n", worst, g.nPrompt + g.nGen);
            check(worst <= 0.01, "logits max |d| " + worst);
            check(status(() -> s.decode(new int[] {1})) == Lfm2MoeException.CONTEXT_FULL,
                    "context full");
            s.reset();
            check(s.position() == 0, "reset");
        }
    }

    static void testErrorsAndClose() throws Exception {
        Lfm2MoeException e = expect(Lfm2MoeException.class,
                () -> new Model(golden.resolve("no-such-file.gguf").toString()));
        check(e.getStatus() == Lfm2MoeException.IO && e.getDetail().contains("no-such-file"),
                "IO error: " + e.getMessage());
        Path junk = Files.createTempFile("lfm2moe", ".gguf");
        Files.write(junk, new byte[100]);
        check(status(() -> new Model(junk.toString())) == Lfm2MoeException.BAD_FORMAT,
                "bad format");
        Files.delete(junk);

        Model m = new Model(model);
        Session s = new Session(m, 8, 1);
        check(status(() -> s.decode(new int[] {1, 5000})) == Lfm2MoeException.TOKEN_OUT_OF_RANGE,
                "token out of range");
        check(s.position() == 0, "session unchanged after an error");
        check(status(() -> s.logits(0)) == Lfm2MoeException.NOT_FOUND, "no logits yet");
        check(status(() -> new Session(m, 4096, 1, 0, 1)) == Lfm2MoeException.LIMIT, "limit");
        s.close();
        s.close(); // harmless
        expect(IllegalStateException.class, () -> s.decode(new int[] {1}));
        expect(IllegalStateException.class, s::position);
        Session s2 = new Session(m, 8, 1);
        m.close(); // closes s2 first
        m.close();
        check(s2.isClosed() && m.isClosed(), "closed");
        expect(IllegalStateException.class, () -> s2.logits());
        expect(IllegalStateException.class, () -> m.tokenize("x"));
        expect(IllegalStateException.class, () -> new Session(m));
    }

    @SuppressWarnings("try") // close() inside the try on purpose
    static void testGenerate() throws Exception {
        Gld g = new Gld(golden.resolve("tiny-a-f32.gld"));
        int[] prompt = Arrays.copyOf(g.tokens, g.nPrompt);
        try (Model m = new Model(model); Session s = new Session(m, 256, 1)) {
            String want = m.detokenize(Arrays.copyOfRange(g.tokens, g.nPrompt, g.nPrompt + g.nGen));
            StringBuilder streamed = new StringBuilder();
            GenerationResult r = s.generate(prompt, GenerationParams.greedy().maxTokens(g.nGen),
                    piece -> {
                        streamed.append(piece);
                        return true;
                    });
            check(r.text.equals(want), "greedy text equals the golden continuation: " + r.text);
            check(streamed.toString().equals(want), "streamed text");
            check(r.stopReason == StopReason.MAX_TOKENS && r.generatedTokens == g.nGen,
                    "result " + r);
            check(s.position() == g.nPrompt + g.nGen, "generated tokens appended");

            // Seeded sampling is reproducible.
            String chatPrompt = m.applyChatTemplate(List.of(Message.user("Tell me a story")));
            String[] outs = new String[2];
            for (int k = 0; k < 2; k++) {
                s.reset();
                outs[k] = s.generate(chatPrompt, new GenerationParams().temperature(1).minP(0)
                        .seed(1234).maxTokens(40), null).text;
            }
            check(outs[0].equals(outs[1]) && !outs[0].isEmpty(), "seeded reproducible");

            // Stop string: output ends before it.
            String stop = want.substring(want.length() / 2, want.length() / 2 + 3);
            s.reset();
            r = s.generate(prompt, GenerationParams.greedy().maxTokens(g.nGen).stop(stop), null);
            check(r.stopReason == StopReason.STOP_STRING
                    && r.text.equals(want.substring(0, want.indexOf(stop))), "stop string");

            // The listener stops it by returning false, or by cancelling.
            AtomicInteger pieces = new AtomicInteger();
            s.reset();
            r = s.generate(prompt, GenerationParams.greedy().maxTokens(100),
                    piece -> pieces.incrementAndGet() < 3);
            check(r.stopReason == StopReason.CALLBACK && pieces.get() == 3, "listener stop " + r);
            s.reset();
            r = s.generate(prompt, GenerationParams.greedy().maxTokens(100), piece -> {
                s.cancel();
                return true;
            });
            check(r.stopReason == StopReason.CANCELLED, "cancel from listener " + r);
            s.decode(new int[] {1}); // still usable

            // A listener exception stops generation and comes out of generate.
            s.reset();
            RuntimeException boom = new IllegalArgumentException("boom");
            check(expect(IllegalArgumentException.class, () -> s.generate(prompt,
                    GenerationParams.greedy().maxTokens(10), piece -> {
                        throw boom;
                    })) == boom, "listener exception");

            s.reset();
            check(status(() -> s.generate(new int[] {1, 5000}, null, null))
                    == Lfm2MoeException.TOKEN_OUT_OF_RANGE, "generate error");
            // close() from the listener is refused (the session is in use below it).
            s.reset();
            expect(IllegalStateException.class, () -> s.generate(prompt,
                    GenerationParams.greedy().maxTokens(10), piece -> {
                        s.close();
                        return true;
                    }));
            expect(IllegalStateException.class, () -> s.generate(prompt,
                    GenerationParams.greedy().maxTokens(10), piece -> {
                        m.close();
                        return true;
                    }));
            check(!s.isClosed() && !m.isClosed(), "still open");
            expect(NullPointerException.class, () -> s.decode(null));

            String reply = s.chat(List.of(Message.user("Hi")), new GenerationParams().maxTokens(8)
                    .seed(3));
            check(reply != null, "chat");
        }
    }

    /** close() from another thread while generating: cancels, waits, frees. */
    static void testCloseWhileGenerating() throws Exception {
        Gld g = new Gld(golden.resolve("tiny-a-f32.gld"));
        Model m = new Model(model);
        Session s = new Session(m, 4096, 1);
        Thread[] closer = new Thread[1];
        GenerationParams p = GenerationParams.greedy().maxTokens(0).logitBias(m.eos(), -1e9f);
        GenerationResult r = s.generate(Arrays.copyOf(g.tokens, g.nPrompt), p, piece -> {
            if (closer[0] == null) {
                closer[0] = new Thread(m::close);
                closer[0].start();
            }
            return true;
        });
        closer[0].join();
        check(r.stopReason == StopReason.CANCELLED, "closed from another thread: " + r);
        check(s.isClosed() && m.isClosed(), "closed after the run");
    }

    /** An F16 KV cache stays within 0.05 of the F32 goldens (README). */
    static void testKvType() throws Exception {
        Gld g = new Gld(golden.resolve("tiny-a-f32.gld"));
        try (Model m = new Model(model);
             Session s = new Session(m, g.nPrompt, 2, 0, 0, KvType.F16)) {
            check(s.kvType() == KvType.F16, "kvType");
            s.decode(Arrays.copyOf(g.tokens, g.nPrompt), true);
            double worst = 0;
            for (int t = 0; t < g.nPrompt; t++)
                worst = Math.max(worst, maxDiff(s.logits(t), g.rows[t]));
            check(worst <= 0.05, "f16 kv max |d| " + worst);
        }
    }

    /** rewind, tokens, save/load (bytes and path), copy, chat's prefix reuse. */
    static void testHistory() throws Exception {
        try (Model m = new Model(model); Session a = new Session(m, 256, 1, 0, 0, KvType.F32, 8);
             Session fresh = new Session(m, 256, 1)) {
            int[] ids = new int[40];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = (i * 37 + 5) % 1024;
            }
            a.decode(Arrays.copyOf(ids, 30));
            check(Arrays.equals(a.tokens(), Arrays.copyOf(ids, 30)), "tokens");
            byte[] snap = a.save();
            a.rewind(13);
            check(a.position() == 13 && a.tokens().length == 13, "rewind");
            fresh.decode(Arrays.copyOf(ids, 13));
            int[] next = Arrays.copyOfRange(ids, 13, 16);
            a.decode(next, true);
            fresh.decode(next, true);
            check(Arrays.equals(a.logits(2), fresh.logits(2)), "rewind == fresh session");
            check(status(() -> a.rewind(999)) == Lfm2MoeException.INVALID_ARGUMENT, "rewind range");
            // snapshots: bytes and file, into other sessions; copies
            Path file = Files.createTempFile("lfm2moe-session", ".bin");
            try (Session b = new Session(m, 512, 1); Session c = new Session(m, 256, 1)) {
                b.load(snap);
                check(b.position() == 30, "load");
                b.save(file.toString());
                c.load(file.toString());
                try (Session d = b.copy(); Session e = b.copy(64, 1, 0, 0, 0)) {
                    int[] more = Arrays.copyOfRange(ids, 30, 34);
                    b.decode(more, true);
                    float[] want = b.logits(3);
                    for (Session x : new Session[] {c, d, e}) {
                        x.decode(more, true);
                        check(Arrays.equals(x.logits(3), want), "same logits after load/copy");
                    }
                }
                byte[] cut = Arrays.copyOf(snap, snap.length - 1);
                int before = c.position();
                check(status(() -> c.load(cut)) == Lfm2MoeException.BAD_FORMAT, "truncated");
                check(c.position() == before, "unchanged after a refused load");
            } finally {
                Files.deleteIfExists(file);
            }
        }
    }

    static void testChatReuse() throws Exception {
        try (Model m = new Model(model); Session s = new Session(m, 512, 1)) {
            List<Message> msgs = new java.util.ArrayList<>(List.of(Message.user("Hi there")));
            GenerationParams p = GenerationParams.greedy().maxTokens(6);
            GenerationResult first = s.chat(msgs, p, null);
            check(first.promptTokensReused == 0, "first turn evaluated");
            msgs.add(Message.assistant(first.text));
            msgs.add(Message.user("More"));
            GenerationResult second = s.chat(msgs, p, null);
            check(second.promptTokensReused >= first.promptTokens,
                    "second turn reuses the first: " + second);
            GenerationResult again = s.chat(msgs, p, null);
            check(again.promptTokens == 1 && again.text.equals(second.text),
                    "regenerate evaluates one token: " + again);
            check(!p.reusePrefix, "params left as they were");
        }
    }

    public static void main(String[] args) throws Exception {
        golden = Paths.get(args.length > 0 ? args[0] : "tests/golden");
        model = golden.resolve("tiny-a-f32.gguf").toString();
        boolean generate = args.length < 2 || !args[1].equals("--no-generate");
        testModel();
        testTokenizerGoldens();
        testChatGoldens();
        testChatGoldensJson();
        testLogits();
        testKvType();
        testErrorsAndClose();
        testHistory();
        if (generate) {
            testGenerate();
            testChatReuse();
            testCloseWhileGenerating();
        }
        System.out.println("java bindings: " + Checks.count + " checks passed");
    }
}
