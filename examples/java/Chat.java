import ai.lfm2moe.GenerationParams;
import ai.lfm2moe.GenerationResult;
import ai.lfm2moe.Message;
import ai.lfm2moe.Model;
import ai.lfm2moe.Session;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Interactive chat with an LFM2-MoE model, streaming the replies.
 *
 *   java -cp BUILD/bindings/java/lfm2moe.jar \
 *        examples/java/Chat.java MODEL.gguf [max_tokens]
 *
 * One line per user turn; an empty line or end of input quits.
 */
public final class Chat {
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Chat MODEL.gguf [max_tokens]");
            System.exit(2);
        }
        int maxTokens = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (Model model = new Model(args[0]); Session session = new Session(model, 4096, 0)) {
            System.err.println(model.info());
            List<Message> history = new ArrayList<>();
            history.add(Message.system("You are a helpful assistant."));
            while (true) {
                System.out.print("> ");
                System.out.flush();
                String line = in.readLine();
                if (line == null || line.isEmpty()) {
                    break;
                }
                history.add(Message.user(line));
                GenerationResult r = session.chat(history, new GenerationParams().maxTokens(maxTokens),
                        piece -> {
                            System.out.print(piece);
                            System.out.flush();
                            return true;
                        });
                System.out.println();
                System.err.printf("[%d tokens, %.1f tok/s, %s]%n", r.generatedTokens,
                        r.generatedTokens / Math.max(r.generateSeconds, 1e-9), r.stopReason);
                history.add(Message.assistant(r.text));
            }
        }
    }
}
