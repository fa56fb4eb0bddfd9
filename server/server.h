/* The server as the HTTP layer and the endpoint handlers see it. */
#ifndef LFM_SERVER_SERVER_H
#define LFM_SERVER_SERVER_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "base/json.h"
#include "job.h"
#include "lfm2moe.h"
#include "metrics.h"
#include "scheduler.h"

/* Append a string literal to a json_buf. */
#define BUF_LIT(b, s) json_buf_append((b), (s), sizeof(s) - 1)

typedef struct conn conn;

typedef struct server_config {
    const char *host;
    int port;
    const char *api_key;  /* NULL: no authentication */
    const char *model_id; /* the name /v1/models lists */
    size_t max_body;      /* bytes */
    double read_timeout;  /* seconds to receive a whole request (slow clients) */
    int max_connections;
    int retry_after; /* seconds, in 503 answers */
} server_config;

typedef struct server {
    server_config cfg;
    const lfm2moe_model *model;
    scheduler *sched;
    metrics m;
    long long started; /* Unix seconds */
    atomic_ullong next_id;
    struct MHD_Daemon *daemon;
    pthread_mutex_t conns_mu; /* the open connections, for the read-deadline watchdog */
    conn *conns;
    pthread_t watchdog;
    atomic_int stopping;
    atomic_int in_flight; /* requests received and not yet fully answered */
} server;

/* One HTTP request (MHD's per-request context). */
typedef struct http_req {
    server *srv;
    conn *conn;
    const char *method, *url;
    json_buf body;
    int too_big; /* the body outgrew max_body (it is dropped) */
    int status;  /* of the answer, for the log line */
    job *job;    /* generation requests */
    double t0;
} http_req;

/* http.c: start/stop the daemon; answers. */
int http_start(server *s);
/* Stop accepting connections (the open ones go on). */
void http_quiesce(server *s);
void http_stop(server *s);
enum MHD_Result http_send(struct MHD_Connection *c, http_req *r, unsigned status,
                          const char *content_type, json_buf *body);
enum MHD_Result http_send_error(struct MHD_Connection *c, http_req *r, unsigned status,
                                const char *message, const char *type, const char *param,
                                const char *code);
/* The client closed its side (checked without blocking). */
int http_peer_gone(struct MHD_Connection *c);

/* handlers.c: the endpoints, called once the whole body is in. */
enum MHD_Result handle_request(struct MHD_Connection *c, http_req *r);

#endif
