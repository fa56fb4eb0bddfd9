/* Helpers shared by the cmocka tests (include after cmocka.h). */
#ifndef TEST_FILES_H
#define TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A whole file in memory (NUL-terminated, so text files can be used as
 * strings); fails the test if it cannot be read. */
static inline char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The next non-empty line of a text (JSON Lines): *line and *line_len get
 * it and *cursor moves past it; 0 when there is none left. */
static inline int test_next_line(const char **cursor, const char *end, const char **line,
                                 size_t *line_len) {
    while (*cursor < end) {
        const char *nl = memchr(*cursor, '\n', (size_t)(end - *cursor));
        const char *stop = nl ? nl : end;
        *line = *cursor;
        *line_len = (size_t)(stop - *cursor);
        *cursor = nl ? nl + 1 : end;
        if (*line_len) return 1;
    }
    return 0;
}

/* Run a shell command, its stdout into a malloc'd NUL-terminated string
 * (*len bytes, may be NULL); returns the exit status (-1 if killed). */
static inline int test_run_cmd(const char *cmd, char **out, size_t *len) {
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0, k;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((k = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (cap - n < 2) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    buf[n] = 0;
    const int st = pclose(p);
    *out = buf;
    if (len) *len = n;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run the lfm2moe CLI (LFM2MOE_CLI) with args and input[0..input_len) on
 * stdin; its stdout as test_run_cmd gives it, *status its exit status. */
static inline char *test_run_cli(const char *args, const char *input, size_t input_len,
                                 size_t *out_len, int *status) {
    char in_path[] = "/tmp/lfm2moe-test-XXXXXX";
    int fd = mkstemp(in_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, input, input_len), (ssize_t)input_len);
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s < '%s'", LFM2MOE_CLI, args, in_path);
    char *out;
    *status = test_run_cmd(cmd, &out, out_len);
    unlink(in_path);
    return out;
}

#endif
