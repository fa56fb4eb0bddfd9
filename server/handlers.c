/* The endpoints: /health, /v1/models, /metrics, /tokenize, /detokenize,
 * and the generation endpoints (answered whole or streamed as server-sent
 * events from what the scheduler appends to the job). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openai.h"
#include "request.h"
#include "server.h"

static const char content_json[] = "application/json";

static enum MHD_Result bad_request(struct MHD_Connection *c, http_req *r, const char *msg,
                                   const char *param) {
    return http_send_error(c, r, MHD_HTTP_BAD_REQUEST, msg, "invalid_request_error", param, NULL);
}

/* Parse the body as a JSON object whose members are all in `allowed`. */
static int body_object(struct MHD_Connection *c, http_req *r, const char *const *allowed,
                       json_value **out, enum MHD_Result *answer) {
    char err[160], msg[240];
    if (json_parse(r->body.data ? r->body.data : "", r->body.len, out, err, sizeof err)) {
        snprintf(msg, sizeof msg, "the body is not valid JSON: %s", err);
        *answer = bad_request(c, r, msg, NULL);
        return -1;
    }
    if ((*out)->type != JSON_OBJECT) {
        *answer = bad_request(c, r, "the body must be a JSON object", NULL);
        goto fail;
    }
    for (size_t i = 0; i < (*out)->n; i++) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, (*out)->keys[i]))
            a++;
        if (!*a) {
            snprintf(msg, sizeof msg, "unknown field '%.60s'", (*out)->keys[i]);
            *answer = bad_request(c, r, msg, NULL);
            goto fail;
        }
    }
    return 0;
fail:
    json_free(*out);
    *out = NULL;
    return -1;
}

static enum MHD_Result tokenize(struct MHD_Connection *c, http_req *r) {
    static const char *const fields[] = {"model", "content", "add_special", "parse_special", NULL};
    json_value *o = NULL;
    enum MHD_Result answer;
    if (body_object(c, r, fields, &o, &answer)) return answer;
    const json_value *text = json_get(o, "content"), *as = json_get(o, "add_special"),
                     *ps = json_get(o, "parse_special");
    if (!text || text->type != JSON_STRING || (as && as->type != JSON_BOOL) ||
        (ps && ps->type != JSON_BOOL)) {
        json_free(o);
        return bad_request(c, r,
                           "expected {\"content\": string, \"add_special\": bool, "
                           "\"parse_special\": bool}",
                           NULL);
    }
    uint32_t flags = (as && as->boolean ? LFM2MOE_TOKENIZE_ADD_BOS : 0) |
                     (!ps || ps->boolean ? LFM2MOE_TOKENIZE_PARSE_SPECIAL : 0);
    size_t n = 0;
    int32_t *tokens = NULL;
    int st = lfm2moe_tokenize(r->srv->model, text->str, text->len, flags, NULL, 0, &n);
    if (st == LFM2MOE_ERR_BUFFER_TOO_SMALL || st == LFM2MOE_OK) {
        tokens = malloc((n ? n : 1) * sizeof *tokens);
        st = tokens ? lfm2moe_tokenize(r->srv->model, text->str, text->len, flags, tokens, n, &n)
                    : LFM2MOE_ERR_OUT_OF_MEMORY;
    }
    json_free(o);
    if (st) {
        free(tokens);
        return http_send_error(c, r, 500, lfm2moe_last_error(), "server_error", NULL, NULL);
    }
    json_buf b = {0};
    BUF_LIT(&b, "{\"tokens\": [");
    for (size_t i = 0; i < n; i++) {
        char t[16];
        json_buf_append(&b, t, (size_t)snprintf(t, sizeof t, i ? ", %d" : "%d", tokens[i]));
    }
    BUF_LIT(&b, "]}");
    free(tokens);
    return http_send(c, r, 200, content_json, &b);
}

static enum MHD_Result detokenize(struct MHD_Connection *c, http_req *r) {
    static const char *const fields[] = {"model", "tokens", NULL};
    json_value *o = NULL;
    enum MHD_Result answer;
    if (body_object(c, r, fields, &o, &answer)) return answer;
    const json_value *t = json_get(o, "tokens");
    lfm2moe_vocab_info vi = {.struct_size = sizeof vi};
    lfm2moe_vocab_get_info(r->srv->model, &vi);
    int ok = t && t->type == JSON_ARRAY;
    int32_t *ids = ok ? malloc((t->n ? t->n : 1) * sizeof *ids) : NULL;
    for (size_t i = 0; ok && i < t->n; i++) {
        const json_value *v = t->items[i];
        ok = ids && v->type == JSON_NUMBER && v->is_integer && v->number >= 0 &&
             v->number < vi.n_vocab;
        if (ok) ids[i] = (int32_t)v->number;
    }
    size_t n = ok ? t->n : 0, len = 0;
    json_free(o);
    if (!ok) {
        free(ids);
        return bad_request(c, r, "expected {\"tokens\": [token ids of the vocabulary]}", "tokens");
    }
    int st = lfm2moe_detokenize(r->srv->model, ids, n, NULL, 0, &len);
    char *text = st == LFM2MOE_OK || st == LFM2MOE_ERR_BUFFER_TOO_SMALL ? malloc(len + 1) : NULL;
    if (text) st = lfm2moe_detokenize(r->srv->model, ids, n, text, len + 1, &len);
    free(ids);
    if (!text || st) {
        free(text);
        return http_send_error(c, r, 500, lfm2moe_last_error(), "server_error", NULL, NULL);
    }
    json_buf b = {0};
    BUF_LIT(&b, "{\"content\": ");
    json_buf valid = {0};
    append_valid_utf8(&valid, text, len);
    json_dump_string(valid.data ? valid.data : "", valid.len, &b);
    json_buf_free(&valid);
    BUF_LIT(&b, "}");
    free(text);
    return http_send(c, r, 200, content_json, &b);
}

static enum MHD_Result models(struct MHD_Connection *c, http_req *r) {
    json_buf b = {0};
    BUF_LIT(&b, "{\"object\": \"list\", \"data\": [{\"id\": ");
    json_dump_string(r->srv->cfg.model_id, strlen(r->srv->cfg.model_id), &b);
    char t[96];
    json_buf_append(&b, t,
                    (size_t)snprintf(t, sizeof t,
                                     ", \"object\": \"model\", \"created\": %lld, "
                                     "\"owned_by\": \"lfm2moe\"}]}",
                                     r->srv->started));
    return http_send(c, r, 200, content_json, &b);
}

enum MHD_Result handle_generation(struct MHD_Connection *c, http_req *r, req_kind kind);

enum MHD_Result handle_request(struct MHD_Connection *c, http_req *r) {
    static const struct {
        const char *method, *url;
        int id;
    } routes[] = {{"GET", "/health", 0},         {"GET", "/v1/models", 1},
                  {"GET", "/metrics", 2},        {"POST", "/tokenize", 3},
                  {"POST", "/detokenize", 4},    {"POST", "/v1/chat/completions", 5},
                  {"POST", "/v1/completions", 6}};
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (strcmp(routes[i].url, r->url)) continue;
        path_known = 1;
        if (strcmp(routes[i].method, r->method)) continue;
        json_buf b = {0};
        switch (routes[i].id) {
        case 0:
            (void)BUF_LIT(&b, "{\"status\": \"ok\"}");
            return http_send(c, r, 200, content_json, &b);
        case 1: return models(c, r);
        case 2:
            metrics_write(&r->srv->m, &b);
            return http_send(c, r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
        case 3: return tokenize(c, r);
        case 4: return detokenize(c, r);
        case 5: return handle_generation(c, r, REQ_CHAT);
        default: return handle_generation(c, r, REQ_COMPLETION);
        }
    }
    char msg[160];
    snprintf(msg, sizeof msg, "%s %.100s: %s", r->method, r->url,
             path_known ? "method not allowed" : "no such endpoint");
    return http_send_error(c, r, path_known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND, msg,
                           "invalid_request_error", NULL, NULL);
}
