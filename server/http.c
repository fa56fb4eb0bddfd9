/* HTTP plumbing on GNU libmicrohttpd.
 *
 * Why libmicrohttpd: it is the small, long-maintained (GNU, since 2007)
 * embeddable HTTP/1.1 server library in C that Debian ships as
 * libmicrohttpd-dev; it parses requests (chunked bodies, keep-alive,
 * pipelining) and writes chunked responses for us, with no dependency we
 * would not have anyway.  It runs here with one thread per connection: a
 * handler may then block while the scheduler generates (streaming from a
 * content-reader callback that waits for text), and each connection's
 * socket can be checked for a client that went away.
 *
 * What libmicrohttpd does not bound, we do: a request must arrive whole
 * within read_timeout seconds of the connection opening (or of the previous
 * answer on a kept-alive connection), however slowly its bytes trickle in;
 * a watchdog thread closes connections past that deadline (408 first when
 * no request was answered on them yet).  Bodies beyond max_body get 413
 * from their Content-Length, or as soon as they grow past it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "openai.h"
#include "server.h"

struct conn {
    conn *next;
    int fd;
    double deadline; /* 0: not reading a request (handling or answering one) */
    int answered;    /* requests answered on this connection */
};

static void log_line(http_req *r) {
    char t[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    double dur = now_seconds() - r->t0;
    job *j = r->job;
    int done = 0;
    if (j) { /* a job cancelled by a disconnect may still be ending */
        pthread_mutex_lock(&j->mu);
        done = j->state == JOB_DONE;
        pthread_mutex_unlock(&j->mu);
    }
    if (done) {
        double gen_s = j->t_first > 0 ? j->t_end - j->t_first : 0;
        fprintf(stderr,
                "%s req=%llu %s %s %d prompt=%d cached=%d generated=%d ttft=%.1fms "
                "%.1ftok/s %.3fs\n",
                t, (unsigned long long)j->id, r->method, r->url, r->status, j->n_prompt,
                j->n_cached, j->n_generated, j->t_first > 0 ? (j->t_first - j->t_submit) * 1e3 : 0,
                gen_s > 0 && j->n_generated > 1 ? (j->n_generated - 1) / gen_s : 0, dur);
    } else {
        fprintf(stderr, "%s %s %s %d %.3fs\n", t, r->method, r->url, r->status, dur);
    }
}

enum MHD_Result http_send(struct MHD_Connection *c, http_req *r, unsigned status,
                          const char *content_type, json_buf *body) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        body->len, body->data ? body->data : (char *)"", MHD_RESPMEM_MUST_COPY);
    json_buf_free(body);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", content_type);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->srv->cfg.retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    r->status = (int)status;
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result http_send_error(struct MHD_Connection *c, http_req *r, unsigned status,
                                const char *message, const char *type, const char *param,
                                const char *code) {
    json_buf b = {0};
    oai_error(&b, message, type, param, code);
    return http_send(c, r, status, "application/json", &b);
}

int http_peer_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 1;
    char byte;
    ssize_t n = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static int authorized(const server *s, struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *key = s->cfg.api_key;
    if (!h || strncmp(h, "Bearer ", 7)) return 0;
    h += 7;
    size_t hl = strlen(h), kl = strlen(key);
    unsigned char diff = hl != kl;
    for (size_t i = 0; i < kl; i++)
        diff |= (unsigned char)(key[i] ^ h[i < hl ? i : 0]);
    return diff == 0 && hl;
}

static void set_deadline(server *s, conn *cn, double deadline) {
    if (!cn) return;
    pthread_mutex_lock(&s->conns_mu);
    cn->deadline = deadline;
    pthread_mutex_unlock(&s->conns_mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **ctx) {
    (void)version;
    server *s = cls;
    http_req *r = *ctx;
    if (!r) { /* the headers are in */
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        r->srv = s;
        r->method = method;
        r->url = url;
        r->t0 = now_seconds();
        atomic_fetch_add(&s->in_flight, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->conn = ci ? ci->socket_context : NULL;
        *ctx = r;
        if (s->cfg.api_key && strcmp(url, "/health") && !authorized(s, c))
            return http_send_error(c, r, MHD_HTTP_UNAUTHORIZED, "invalid or missing API key",
                                   "invalid_request_error", NULL, "invalid_api_key");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) goto too_big;
        return MHD_YES;
    }
    if (r->status) { /* answered early (401, 413): discard the rest */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        /* libmicrohttpd takes no answer in the middle of a body: past the
         * limit the rest is read and dropped (within the read deadline) */
        if (r->too_big || r->body.len + *upload_size > s->cfg.max_body) {
            r->too_big = 1;
            json_buf_free(&r->body);
        } else if (json_buf_append(&r->body, upload, *upload_size)) {
            return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    set_deadline(s, r->conn, 0); /* all in: the slow-client clock stops */
    if (r->too_big) goto too_big;
    return handle_request(c, r);
too_big:;
    char msg[96];
    snprintf(msg, sizeof msg, "the request body is larger than the limit of %zu bytes",
             s->cfg.max_body);
    *upload_size = 0;
    return http_send_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, msg, "invalid_request_error", NULL,
                           NULL);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    server *s = cls;
    http_req *r = *ctx;
    if (!r) return;
    if (r->job && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        scheduler_cancel(s->sched, r->job); /* the client left: free the slot */
    if (!r->status) r->status = 499;        /* no answer: the client closed first */
    int cls_ = r->status / 100;
    if (cls_ >= 1 && cls_ <= 5) atomic_fetch_add(&s->m.requests[cls_], 1);
    log_line(r);
    if (r->conn) {
        pthread_mutex_lock(&s->conns_mu);
        r->conn->answered++;
        r->conn->deadline = now_seconds() + s->cfg.read_timeout;
        pthread_mutex_unlock(&s->conns_mu);
    }
    job_release(r->job);
    json_buf_free(&r->body);
    free(r);
    *ctx = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code) {
    server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn *cn = calloc(1, sizeof *cn);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!cn || !ci) {
            free(cn);
            return;
        }
        cn->fd = ci->connect_fd;
        cn->deadline = now_seconds() + s->cfg.read_timeout;
        pthread_mutex_lock(&s->conns_mu);
        cn->next = s->conns;
        s->conns = cn;
        pthread_mutex_unlock(&s->conns_mu);
        *socket_ctx = cn;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_ctx) {
        conn *cn = *socket_ctx;
        pthread_mutex_lock(&s->conns_mu);
        for (conn **p = &s->conns; *p; p = &(*p)->next)
            if (*p == cn) {
                *p = cn->next;
                break;
            }
        pthread_mutex_unlock(&s->conns_mu);
        free(cn);
        *socket_ctx = NULL;
    }
}

/* Close connections whose request did not arrive in time (slowloris). */
static void *watchdog(void *arg) {
    server *s = arg;
    static const char timeout_answer[] =
        "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nContent-Length: 87\r\n\r\n"
        "{\"error\": {\"message\": \"request not received in time\", \"type\": "
        "\"invalid_request_error\"}}";
    while (!atomic_load(&s->stopping)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        double now = now_seconds();
        pthread_mutex_lock(&s->conns_mu);
        for (conn *cn = s->conns; cn; cn = cn->next)
            if (cn->deadline > 0 && now > cn->deadline) {
                if (!cn->answered)
                    (void)!send(cn->fd, timeout_answer, sizeof timeout_answer - 1,
                                MSG_NOSIGNAL | MSG_DONTWAIT);
                shutdown(cn->fd, SHUT_RDWR);
                cn->deadline = 0;
            }
        pthread_mutex_unlock(&s->conns_mu);
    }
    return NULL;
}

int http_start(server *s) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->cfg.port)};
    if (inet_pton(AF_INET, s->cfg.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "lfm2moe-server: --host must be an IPv4 address, not '%s'\n", s->cfg.host);
        return -1;
    }
    pthread_mutex_init(&s->conns_mu, NULL);
    s->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
            MHD_USE_ERROR_LOG,
        (uint16_t)s->cfg.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->cfg.max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!s->daemon) {
        fprintf(stderr, "lfm2moe-server: cannot listen on %s:%d: %s\n", s->cfg.host, s->cfg.port,
                strerror(errno));
        pthread_mutex_destroy(&s->conns_mu);
        return -1;
    }
    if (pthread_create(&s->watchdog, NULL, watchdog, s)) {
        MHD_stop_daemon(s->daemon);
        pthread_mutex_destroy(&s->conns_mu);
        return -1;
    }
    return 0;
}

void http_quiesce(server *s) {
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void http_stop(server *s) {
    /* the generations are over: let their last events reach the clients
     * (at most 5 s) before libmicrohttpd closes every connection */
    for (int i = 0; i < 500 && atomic_load(&s->in_flight) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&s->stopping, 1);
    MHD_stop_daemon(s->daemon);
    pthread_join(s->watchdog, NULL);
    pthread_mutex_destroy(&s->conns_mu);
}
