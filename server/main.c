/* lfm2moe-server (also `lfm2moe serve`): an OpenAI-compatible HTTP server
 * over liblfm2moe.  Loads the model, opens the slots, serves until SIGINT
 * or SIGTERM, then stops accepting connections, lets running generations
 * finish (up to --grace seconds) and exits cleanly. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

static const char usage[] =
    "usage: lfm2moe serve -m MODEL [options]   (or lfm2moe-server -m MODEL [options])\n"
    "  -m, --model MODEL     GGUF file (default: $LFM2MOE_MODEL)\n"
    "  --host ADDR           IPv4 address to listen on (default 127.0.0.1: this machine only)\n"
    "  --port N              TCP port (default 8080; 0 = any free port, printed at start)\n"
    "  --parallel N          slots: requests generated at the same time (default 4)\n"
    "  --queue N             requests that may wait for a slot; more get 503 (default 16)\n"
    "  --ctx N               context length of each slot (default: min(trained, 4096))\n"
    "  --threads N           worker threads per forward pass (default: all CPUs)\n"
    "  --prefill-chunk N     prompt tokens evaluated per scheduler step (default 256)\n"
    "  --api-key KEY         require \"Authorization: Bearer KEY\" (all but /health);\n"
    "                        default $LFM2MOE_API_KEY\n"
    "  --alias NAME          model id in /v1/models and responses (default: file name)\n"
    "  --max-body BYTES      largest request body (default 4 MiB)\n"
    "  --read-timeout S      seconds a client has to send a whole request (default 10)\n"
    "  --max-connections N   open connections at most (default 256)\n"
    "  --grace S             on SIGINT/SIGTERM, seconds running generations may finish (default "
    "10)\n";

static int int_arg(const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "lfm2moe-server: %s needs an integer in [%ld, %ld]\n", opt, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int main(int argc, char **argv) {
    server_config cfg = {.host = "127.0.0.1",
                         .port = 8080,
                         .max_body = 4u << 20,
                         .read_timeout = 10,
                         .max_connections = 256,
                         .retry_after = 1};
    sched_params sp = {.n_slots = 4, .queue_max = 16, .prefill_chunk = 256};
    const char *model_path = getenv("LFM2MOE_MODEL");
    cfg.api_key = getenv("LFM2MOE_API_KEY");
    long grace = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x = 0;
        int rc = 0, takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            model_path = v;
        else if (!strcmp(a, "--host"))
            cfg.host = v;
        else if (!strcmp(a, "--api-key"))
            cfg.api_key = v;
        else if (!strcmp(a, "--alias"))
            cfg.model_id = v;
        else if (!strcmp(a, "--port")) {
            rc = int_arg(a, v, 0, 65535, &x);
            cfg.port = (int)x;
        } else if (!strcmp(a, "--parallel")) {
            rc = int_arg(a, v, 1, 256, &x);
            sp.n_slots = (int)x;
        } else if (!strcmp(a, "--queue")) {
            rc = int_arg(a, v, 1, 100000, &x);
            sp.queue_max = (int)x;
        } else if (!strcmp(a, "--ctx")) {
            rc = int_arg(a, v, 0, INT_MAX, &x);
            sp.n_ctx = (int)x;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            rc = int_arg(a, v, 0, 1024, &x);
            sp.n_threads = (int)x;
        } else if (!strcmp(a, "--prefill-chunk")) {
            rc = int_arg(a, v, 1, 1 << 20, &x);
            sp.prefill_chunk = (int)x;
        } else if (!strcmp(a, "--max-body")) {
            rc = int_arg(a, v, 1, LONG_MAX, &x);
            cfg.max_body = (size_t)x;
        } else if (!strcmp(a, "--read-timeout")) {
            rc = int_arg(a, v, 1, 3600, &x);
            cfg.read_timeout = (double)x;
        } else if (!strcmp(a, "--max-connections")) {
            rc = int_arg(a, v, 1, 100000, &x);
            cfg.max_connections = (int)x;
        } else if (!strcmp(a, "--grace"))
            rc = int_arg(a, v, 0, 3600, &grace);
        else {
            fprintf(stderr, "lfm2moe-server: unknown option '%s'\n%s", a, usage);
            return 2;
        }
        if (rc) return 2;
        if (takes && !v) {
            fprintf(stderr, "lfm2moe-server: %s needs a value\n", a);
            return 2;
        }
        i += takes;
    }
    if (!model_path) {
        fprintf(stderr, "lfm2moe-server: no model given (-m MODEL)\n%s", usage);
        return 2;
    }
    if (cfg.api_key && !cfg.api_key[0]) cfg.api_key = NULL;
    if (!cfg.model_id) {
        const char *slash = strrchr(model_path, '/');
        cfg.model_id = slash ? slash + 1 : model_path;
    }

    /* signals are taken by sigwait below, in this thread only */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    static server srv; /* static: zeroed, and outlives every thread */
    srv.cfg = cfg;
    srv.started = (long long)time(NULL);
    lfm2moe_model *model = NULL;
    int st = lfm2moe_model_load(model_path, NULL, &model);
    if (!st) {
        srv.model = model;
        st = scheduler_start(model, &sp, &srv.m, &srv.sched);
    }
    if (st) {
        fprintf(stderr, "lfm2moe-server: %s: %s: %s\n", model_path, lfm2moe_status_string(st),
                lfm2moe_last_error());
        lfm2moe_model_free(model);
        return 1;
    }
    if (http_start(&srv)) {
        scheduler_stop(srv.sched, 0);
        scheduler_free(srv.sched);
        lfm2moe_model_free(model);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "lfm2moe-server: %s on http://%s:%u (%d slots of %d tokens, queue %d%s)\n",
            cfg.model_id, cfg.host, di ? di->port : (unsigned)cfg.port, sp.n_slots,
            scheduler_n_ctx(srv.sched), sp.queue_max, cfg.api_key ? ", API key required" : "");
    fflush(stderr);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "lfm2moe-server: %s: finishing running requests (up to %ld s)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", grace);
    http_quiesce(&srv);
    scheduler_stop(srv.sched, (double)grace);
    http_stop(&srv);
    scheduler_free(srv.sched);
    lfm2moe_model_free(model);
    fprintf(stderr, "lfm2moe-server: stopped\n");
    return 0;
}
