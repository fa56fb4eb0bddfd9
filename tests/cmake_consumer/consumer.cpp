// Generates with the installed C++ wrapper.
#include <lfm2moe.hpp>

#include <iostream>

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    try {
        lfm2moe::model model(argv[1]);
        lfm2moe::session session(model, 256, 1);
        lfm2moe::generate_options opts;
        opts.max_tokens = 24;
        opts.sampling.temperature = 0.0f;
        auto prompt = model.tokenize(model.apply_chat_template({{"user", "What is 17 plus 25?"}}),
                                     false, true);
        session.generate(prompt, opts, [](std::string_view piece, int32_t) {
            std::cout << piece;
            return true;
        });
        std::cout << "\n";
    } catch (const lfm2moe::error &e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
