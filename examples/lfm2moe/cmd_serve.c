/* `lfm2moe serve`: runs lfm2moe-server, the OpenAI-compatible HTTP server.
 * The server is its own program (server/, built when libmicrohttpd is
 * installed) so that the CLI does not depend on an HTTP library; this
 * subcommand execs it with the same arguments, adding the default model
 * (as `generate` and `chat` use) when no -m and no $LFM2MOE_MODEL is given.
 * It looks for lfm2moe-server next to this executable (an install), then in
 * the build tree it was built in, then on PATH. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gen_common.h"

#ifndef LFM2MOE_SERVER_BUILD_PATH
#define LFM2MOE_SERVER_BUILD_PATH ""
#endif

int cmd_serve(int argc, char **argv) {
    int has_model = getenv("LFM2MOE_MODEL") != NULL;
    for (int i = 1; i < argc; i++)
        has_model |= !strcmp(argv[i], "-m") || !strcmp(argv[i], "--model") ||
                     !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help");
    const char *model = has_model ? NULL : cli_default_model();
    if (!has_model && !model) return 1;
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args) return 1;
    args[0] = "lfm2moe-server";
    for (int i = 1; i < argc; i++)
        args[i] = argv[i];
    if (model) {
        args[argc] = "-m";
        args[argc + 1] = (char *)model;
    }
    char self[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(path, sizeof path, "%s/lfm2moe-server", self);
            execv(path, args);
        }
    }
    if (LFM2MOE_SERVER_BUILD_PATH[0]) execv(LFM2MOE_SERVER_BUILD_PATH, args);
    execvp("lfm2moe-server", args);
    fprintf(stderr, "lfm2moe: serve: lfm2moe-server not found (it is built when "
                    "libmicrohttpd-dev is installed)\n");
    free(args);
    return 1;
}
