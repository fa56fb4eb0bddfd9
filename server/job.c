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
    json_buf_free(&j->raw);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

void job_append(job *j, const char *s, size_t n, const char *raw, size_t n_raw) {
    pthread_mutex_lock(&j->mu);
    if (n) json_buf_append(&j->text, s, n);
    if (n_raw) json_buf_append(&j->raw, raw, n_raw);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
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
