/* The lfm2moe command-line tool: one binary, one file per subcommand. */
#ifndef LFM2MOE_CLI_H
#define LFM2MOE_CLI_H

#include "lfm2moe.h"

/* Each subcommand gets argv after the subcommand name (argv[0] is the name)
 * and returns the process exit status. */
typedef int (*cli_command_fn)(int argc, char **argv);

int cmd_info(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Print "lfm2moe: <what>: <status string>: <detail>" to stderr and return 1. */
int cli_fail(const char *what, int status);

/* Load a model with default params, reporting failures; NULL on failure. */
lfm2moe_model *cli_load_model(const char *path);
/* The same with LFM2MOE_MODEL_* flags. */
lfm2moe_model *cli_load_model_flags(const char *path, uint32_t flags);

#endif
