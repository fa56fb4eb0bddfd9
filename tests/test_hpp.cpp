// include/lfm2moe.hpp, the C++17 RAII wrapper: handles, strings, the
// generation lambda and the exceptions, on the demo model.
#include "lfm2moe.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

static int failures = 0;
#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                            \
        }                                                                          \
    } while (0)

template <typename F> static int status_of(F &&f) {
    try {
        f();
    } catch (const lfm2moe::error &e) {
        CHECK(std::strstr(e.what(), lfm2moe_status_string(e.status())) != nullptr);
        return e.status();
    }
    return LFM2MOE_OK;
}

int main() {
    const std::string demo = std::string(SOURCE_DIR) + "/models/lfm2moe-demo-f32.gguf";
    CHECK(lfm2moe::version() == LFM2MOE_PROJECT_VERSION);

    // A failing load throws with the status and lfm2moe_last_error().
    try {
        lfm2moe::model missing("/nonexistent/model.gguf");
        CHECK(!"no exception");
    } catch (const lfm2moe::error &e) {
        CHECK(e.status() == LFM2MOE_ERR_IO);
        CHECK(e.message().find("nonexistent") != std::string::npos);
        std::printf("expected error: %s\n", e.what());
    }

    lfm2moe::model model(demo);
    lfm2moe_model_info info = model.info();
    CHECK(model.architecture() == "lfm2moe");
    CHECK(info.n_vocab == model.vocab().n_vocab);
    CHECK(status_of([&] { model.metadata("no.such.key"); }) == LFM2MOE_ERR_NOT_FOUND);
    CHECK(model.metadata("general.architecture") == "lfm2moe");

    std::vector<int32_t> ids = model.tokenize("Hello world, hello again", false);
    CHECK(!ids.empty());
    CHECK(model.detokenize(ids) == "Hello world, hello again");
    CHECK(model.token_lookup("<|im_end|>") == model.vocab().end_of_turn);

    std::string prompt = model.apply_chat_template({{"user", "What is 17 plus 25?"}});
    CHECK(prompt.find("<|im_start|>assistant") != std::string::npos);
    std::vector<int32_t> prompt_ids = model.tokenize(prompt, false, true);

    // decode + logits + a greedy sampler agree on the argmax.
    lfm2moe::session session(model, 256, 1);
    session.decode(prompt_ids);
    CHECK(session.position() == static_cast<int32_t>(prompt_ids.size()));
    const float *logits = session.logits();
    lfm2moe::sampling_params greedy;
    greedy.temperature = 0.0f;
    lfm2moe::sampler sampler(model, greedy);
    int32_t tok = sampler.sample(logits);
    CHECK(tok == static_cast<int32_t>(std::max_element(logits, logits + info.n_vocab) - logits));
    sampler.accept(tok);
    CHECK(status_of([&] { sampler.sample(nullptr); }) == LFM2MOE_ERR_INVALID_ARGUMENT);

    // Generation with a lambda: the demo model answers the sum.
    session.clear();
    lfm2moe::generate_options opts;
    opts.max_tokens = 24;
    opts.sampling = greedy;
    std::string text;
    int pieces = 0;
    lfm2moe_generate_result r = session.generate(prompt_ids, opts, [&](std::string_view p, int32_t) {
        text += p;
        pieces++;
        return true;
    });
    std::printf("generated %d tokens in %d pieces: %s\n", r.n_generated, pieces, text.c_str());
    CHECK(text.find("42") != std::string::npos);
    CHECK(r.stop_reason == LFM2MOE_STOP_EOS);
    CHECK(r.n_prompt_tokens == static_cast<int32_t>(prompt_ids.size()));

    // Returning false stops; an exception in the lambda stops and is rethrown.
    session.clear();
    r = session.generate(prompt_ids, opts, [](std::string_view, int32_t) { return false; });
    CHECK(r.stop_reason == LFM2MOE_STOP_CALLBACK && r.n_generated == 1);
    session.clear();
    bool rethrown = false;
    try {
        session.generate(prompt_ids, opts,
                         [](std::string_view, int32_t) -> bool { throw std::logic_error("mine"); });
    } catch (const std::logic_error &e) {
        rethrown = std::strcmp(e.what(), "mine") == 0;
    }
    CHECK(rethrown);
    CHECK(session.position() > 0); // still usable

    // A full context is an exception with the status; the session stays usable.
    lfm2moe::session small(model, 8, 1);
    CHECK(status_of([&] { small.decode(prompt_ids); }) == LFM2MOE_ERR_CONTEXT_FULL);
    small.decode({prompt_ids[0]});
    CHECK(small.position() == 1);

    // Move-only handles: the moved-from one is empty and throws when used.
    lfm2moe::model moved = std::move(model);
    CHECK(!model && moved);
    CHECK(status_of([&] { model.info(); }) == LFM2MOE_ERR_INVALID_ARGUMENT);
    CHECK(moved.info().n_vocab == info.n_vocab);

    std::printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
