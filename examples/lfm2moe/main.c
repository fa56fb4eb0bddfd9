#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    cli_command_fn fn;
    const char *help;
} commands[] = {
    {"info", cmd_info, "info -m MODEL                 architecture, shape, tensor types"},
    {"eval", cmd_eval,
     "eval -m MODEL --tokens IN.gld --out OUT.gld [-t N]   logits of golden tokens"},
    {"tokenize", cmd_tokenize,
     "tokenize -m MODEL [--no-bos] [--parse-special]   stdin text -> JSON token ids"},
    {"template", cmd_template,
     "template -m MODEL [--template F] stdin {messages, tools, ...} -> prompt"},
    {"quantize", cmd_quantize,
     "quantize [--repack] IN.gguf OUT.gguf [TYPE]  re-encode weights (Q8_0, Q4_0, Q4_K_M, ...) or "
     "repack them"},
    {"generate", cmd_generate,
     "generate [-m MODEL] -p TEXT [-n N] [--temp T] [--chat] ...   stream a continuation"},
    {"chat", cmd_chat,
     "chat [-m MODEL] [--system TEXT] ...   interactive multi-turn chat on stdin"},
    {"perplexity", cmd_perplexity,
     "perplexity -m MODEL -f TEXT [--ctx N] [-t N]   perplexity over a text file"},
    {"synth", cmd_synth,
     "synth -o FILE [--type q4_0] [--shape lfm2-8b-a1b|lfm2-24b-a2b|lfm2-1.2b|...]   random-weight "
     "model"},
    {"serve", cmd_serve,
     "serve [-m MODEL] [--port 8080] [--parallel N] [--api-key KEY] ...   OpenAI-compatible HTTP "
     "server"},
    {"bench", cmd_bench,
     "bench -m MODEL [-p 512] [-n 128] [-t N] [-r N] [--parallel N,...]   prefill/decode tokens/s"},
};

int cli_fail(const char *what, int status) {
    fprintf(stderr, "lfm2moe: %s: %s: %s\n", what, lfm2moe_status_string(status),
            lfm2moe_last_error());
    return 1;
}

lfm2moe_model *cli_load_model(const char *path) {
    return cli_load_model_flags(path, 0);
}

lfm2moe_model *cli_load_model_flags(const char *path, uint32_t flags) {
    if (!path) {
        fprintf(stderr, "lfm2moe: no model given (-m MODEL)\n");
        return NULL;
    }
    lfm2moe_model_params mp;
    lfm2moe_model_params_init(&mp);
    mp.flags = flags;
    lfm2moe_model *model = NULL;
    int st = lfm2moe_model_load(path, &mp, &model);
    if (st) {
        cli_fail(path, st);
        return NULL;
    }
    return model;
}

static void usage(FILE *f) {
    fprintf(f, "usage: lfm2moe COMMAND [OPTIONS]   (liblfm2moe %s)\ncommands:\n",
            lfm2moe_version_string());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("%s\n", lfm2moe_version_string());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "lfm2moe: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
