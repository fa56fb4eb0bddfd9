/* Shared state of a request in flight (job.h). */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

job *job_create(uint64_t id) {
    job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->refs = 1;
    j->id = id;
    j->t_submit = now_seconds();
    return j;
}

void job_retain(job *j) {
    pthread_mutex_lock(&j->mu);
    j->refs++;
    pthread_mutex_unlock(&j->mu);
}

void job_release(job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last) return;
    request_free(&j->req);
    free(j->prompt);
    json_buf_free(&j->text);
    json_buf_free(&j->reasoning);
    json_buf_free(&j->raw);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* Length of the valid UTF-8 character at s[0..n) (RFC 3629: no overlong
 * forms, surrogates or code points past U+10FFFF), 0 if there is none. */
static size_t utf8_char(const unsigned char *s, size_t n) {
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3;
    else
        return 0;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (n <= need || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i <= need; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return need + 1;
}

void append_valid_utf8(json_buf *b, const char *s, size_t n) {
    size_t run = 0, i = 0;
    while (i < n) {
        size_t k = utf8_char((const unsigned char *)s + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        json_buf_append(b, s + run, i - run);
        json_buf_append(b, "\xEF\xBF\xBD", 3);
        run = ++i;
    }
    json_buf_append(b, s + run, n - run);
}

void job_append(job *j, int reasoning, const char *s, size_t n, const char *raw, size_t n_raw) {
    pthread_mutex_lock(&j->mu);
    if (n) append_valid_utf8(reasoning ? &j->reasoning : &j->text, s, n);
    if (n_raw) append_valid_utf8(&j->raw, raw, n_raw);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

size_t job_progress(const job *j) {
    return j->text.len + j->reasoning.len;
}

void job_finish_with(job *j, job_finish f, const char *error) {
    pthread_mutex_lock(&j->mu);
    j->finish = f;
    if (error) snprintf(j->error, sizeof j->error, "%s", error);
    j->state = JOB_DONE;
    j->t_end = now_seconds();
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}
