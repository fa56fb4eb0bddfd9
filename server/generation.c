/* POST /v1/chat/completions and /v1/completions: validate, tokenize, queue
 * the job, then answer it whole or stream it as server-sent events.
 *
 * The connection thread waits for the scheduler in short slices and checks
 * between them whether the client closed its socket: a client that leaves,
 * whether waiting for a whole answer or in the middle of a stream, has its
 * job cancelled and its slot freed right away. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openai.h"
#include "request.h"
#include "server.h"

#define WAIT_SLICE_MS 100

/* Wait (j->mu held) until the job is done or, unless until_done, has text
 * beyond `seen` (job_progress); 0, or -1 when the client went away
 * meanwhile.  The socket is checked every WAIT_SLICE_MS whether or not
 * tokens keep coming. */
static int wait_for_job(job *j, size_t seen, int until_done, struct MHD_Connection *c) {
    double next_check = now_seconds() + WAIT_SLICE_MS * 1e-3;
    while (j->state != JOB_DONE && (until_done || job_progress(j) <= seen)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WAIT_SLICE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (now_seconds() >= next_check) {
            if (http_peer_gone(c)) return -1;
            next_check = now_seconds() + WAIT_SLICE_MS * 1e-3;
        }
    }
    return 0;
}

typedef struct stream {
    server *srv;
    struct MHD_Connection *c;
    job *j;
    oai_ctx oc;
    json_buf out;        /* events not yet handed to libmicrohttpd */
    size_t out_off;      /* bytes of out handed over */
    size_t sent, sent_r; /* bytes of j->text, j->reasoning evented */
    int started, ended;
} stream;

/* Events for what the job produced since the last call (j->mu held). */
static void stream_events(stream *st) {
    job *j = st->j;
    const int chat = j->req.kind == REQ_CHAT, usage = j->req.include_usage;
    if (!st->started) {
        st->started = 1;
        if (chat)
            oai_chat_chunk_role(&st->out, &st->oc, usage);
        else if (j->req.echo)
            oai_completion_chunk(&st->out, &st->oc, usage, j->req.prompt, j->req.prompt_len,
                                 FINISH_NONE);
    }
    /* each channel in order; reasoning first, as a model thinks before it answers */
    if (j->reasoning.len > st->sent_r) {
        oai_chat_chunk_content(&st->out, &st->oc, usage, 1, j->reasoning.data + st->sent_r,
                               j->reasoning.len - st->sent_r);
        st->sent_r = j->reasoning.len;
    }
    if (j->text.len > st->sent) {
        const char *t = j->text.data + st->sent;
        size_t n = j->text.len - st->sent;
        if (chat)
            oai_chat_chunk_content(&st->out, &st->oc, usage, 0, t, n);
        else
            oai_completion_chunk(&st->out, &st->oc, usage, t, n, FINISH_NONE);
        st->sent = j->text.len;
    }
    if (j->state != JOB_DONE) return;
    st->ended = 1;
    if (j->finish == FINISH_CANCELLED || j->finish == FINISH_ERROR) {
        /* as OpenAI does: an error object in the stream */
        BUF_LIT(&st->out, "data: ");
        oai_error(&st->out, j->error[0] ? j->error : "the generation was cancelled", "server_error",
                  NULL, NULL);
        BUF_LIT(&st->out, "\n\n");
    } else {
        if (chat && j->finish == FINISH_TOOL_CALLS)
            oai_chat_chunk_tool_calls(&st->out, &st->oc, usage, j);
        if (chat)
            oai_chat_chunk_finish(&st->out, &st->oc, usage, j->finish);
        else
            oai_completion_chunk(&st->out, &st->oc, usage, "", 0, j->finish);
        if (usage) oai_usage_chunk(&st->out, &st->oc, chat, j);
    }
    oai_done(&st->out);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream *st = cls;
    for (;;) {
        if (st->out_off < st->out.len) {
            size_t n = st->out.len - st->out_off;
            if (n > max) n = max;
            memcpy(buf, st->out.data + st->out_off, n);
            st->out_off += n;
            return (ssize_t)n;
        }
        if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        st->out.len = st->out_off = 0;
        pthread_mutex_lock(&st->j->mu);
        int gone = st->started ? wait_for_job(st->j, st->sent + st->sent_r, 0, st->c) : 0;
        if (!gone) stream_events(st);
        pthread_mutex_unlock(&st->j->mu);
        if (gone || st->out.oom) {
            scheduler_cancel(st->srv->sched, st->j);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

static void stream_free(void *cls) {
    stream *st = cls;
    if (!st->ended) scheduler_cancel(st->srv->sched, st->j); /* the client is gone */
    job_release(st->j);
    json_buf_free(&st->out);
    free(st);
}

static enum MHD_Result start_stream(struct MHD_Connection *c, http_req *r, const oai_ctx *oc) {
    stream *st = calloc(1, sizeof *st);
    if (!st) return MHD_NO;
    st->srv = r->srv;
    st->c = c;
    st->j = r->job;
    st->oc = *oc;
    job_retain(r->job);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                                  stream_read, st, stream_free);
    if (!resp) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    r->status = 200;
    enum MHD_Result rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* Tokens of the prompt: chat prompts hold the template's special tokens
 * (and its BOS) as text; completion prompts are plain text after a BOS. */
static int tokenize_prompt(const lfm2moe_model *model, job *j) {
    uint32_t flags =
        j->req.chat_template ? LFM2MOE_TOKENIZE_PARSE_SPECIAL : LFM2MOE_TOKENIZE_ADD_BOS;
    size_t n = 0;
    int st = lfm2moe_tokenize(model, j->req.prompt, j->req.prompt_len, flags, NULL, 0, &n);
    if (st && st != LFM2MOE_ERR_BUFFER_TOO_SMALL) return st;
    if (n > INT32_MAX || !(j->prompt = malloc((n ? n : 1) * sizeof *j->prompt)))
        return LFM2MOE_ERR_OUT_OF_MEMORY;
    st = lfm2moe_tokenize(model, j->req.prompt, j->req.prompt_len, flags, j->prompt, n, &n);
    j->n_prompt = (int32_t)n;
    return st;
}

enum MHD_Result handle_generation(struct MHD_Connection *c, http_req *r, req_kind kind);
enum MHD_Result handle_generation(struct MHD_Connection *c, http_req *r, req_kind kind) {
    server *s = r->srv;
    request req;
    req_error err;
    if (request_parse(s->model, kind, r->body.data ? r->body.data : "", r->body.len, &req, &err))
        return http_send_error(c, r, (unsigned)err.http_status, err.message,
                               err.http_status >= 500 ? "server_error" : "invalid_request_error",
                               err.param, err.code);
    job *j = job_create(atomic_fetch_add(&s->next_id, 1) + 1);
    if (!j) {
        request_free(&req);
        return MHD_NO;
    }
    j->req = req;
    r->job = j; /* released with the request */
    if (tokenize_prompt(s->model, j))
        return http_send_error(c, r, 500, lfm2moe_last_error(), "server_error", NULL, NULL);
    int32_t n_ctx = scheduler_n_ctx(s->sched);
    if (j->n_prompt == 0)
        return http_send_error(c, r, 400, "the prompt is empty", "invalid_request_error",
                               kind == REQ_CHAT ? "messages" : "prompt", NULL);
    if (j->n_prompt >= n_ctx) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the prompt is %d tokens long; this server's context holds %d tokens", j->n_prompt,
                 n_ctx);
        return http_send_error(c, r, 400, msg, "invalid_request_error",
                               kind == REQ_CHAT ? "messages" : "prompt", "context_length_exceeded");
    }
    oai_ctx oc = {.created = (long long)time(NULL), .model = s->cfg.model_id};
    snprintf(oc.id, sizeof oc.id, "%s-%016llx", kind == REQ_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)j->id);
    int q = scheduler_submit(s->sched, j);
    if (q) {
        if (q == -1) atomic_fetch_add(&s->m.rejected_busy, 1);
        return http_send_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
                               q == -1 ? "the server is busy: every slot and queue place is taken"
                                       : "the server is shutting down",
                               "server_error", NULL, NULL);
    }
    if (j->req.stream) return start_stream(c, r, &oc);

    pthread_mutex_lock(&j->mu);
    int gone = wait_for_job(j, 0, 1, c);
    pthread_mutex_unlock(&j->mu);
    if (gone) {
        scheduler_cancel(s->sched, j);
        return MHD_NO; /* nobody to answer */
    }
    if (j->finish == FINISH_ERROR || j->finish == FINISH_CANCELLED) /* cancelled: by the shutdown */
        return http_send_error(c, r, j->finish == FINISH_CANCELLED ? 503 : 500,
                               j->error[0] ? j->error : "the generation was cancelled",
                               "server_error", NULL, NULL);
    json_buf b = {0};
    if (kind == REQ_CHAT)
        oai_chat_completion(&b, &oc, j);
    else
        oai_completion(&b, &oc, j);
    return http_send(c, r, 200, "application/json", &b);
}
