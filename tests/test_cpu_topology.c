/* The default thread count (n_threads = 0) from fake sysfs CPU trees:
 * heterogeneous CPUs (cpu_capacity or cpuinfo_max_freq differing) use the
 * cores faster than the slowest kind; uniform or unreadable trees fall back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/cpu_topology.h"

static char root[64];

static void put(const char *rel, const char *text) {
    char path[256], dir[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    /* mkdir -p of the parent */
    for (char *p = strchr(path + strlen(root) + 1, '/'); p; p = strchr(p + 1, '/')) {
        snprintf(dir, sizeof dir, "%.*s", (int)(p - path), path);
        mkdir(dir, 0700);
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    snprintf(root, sizeof root, "/tmp/lfm-sysfs-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* n CPUs cpu0..n-1 online, cpu i with capacity cap[i] (0: no file). */
static void cpus_with(const char *file, int n, const long *value) {
    char rel[64], text[32];
    snprintf(text, sizeof text, "0-%d\n", n - 1);
    put("online", text);
    for (int i = 0; i < n; i++) {
        if (!value[i]) continue;
        snprintf(rel, sizeof rel, "cpu%d/%s", i, file);
        snprintf(text, sizeof text, "%ld\n", value[i]);
        put(rel, text);
    }
}

static void test_big_little_capacity(void **state) {
    (void)state;
    /* 4 little (A55-like) + 4 big */
    long cap[8] = {400, 400, 400, 400, 1024, 1024, 1024, 1024};
    cpus_with("cpu_capacity", 8, cap);
    assert_int_equal(lfm_default_threads_at(root, 99), 4);
}

static void test_three_tiers(void **state) {
    (void)state;
    /* 3 little + 4 mid + 1 prime: the mid and prime cores */
    long cap[8] = {325, 325, 325, 870, 870, 870, 870, 1024};
    cpus_with("cpu_capacity", 8, cap);
    assert_int_equal(lfm_default_threads_at(root, 99), 5);
}

static void test_uniform(void **state) {
    (void)state;
    long cap[6] = {1024, 1024, 1024, 1024, 1024, 1024};
    cpus_with("cpu_capacity", 6, cap);
    assert_int_equal(lfm_default_threads_at(root, 99), 6);
}

static void test_max_freq_when_no_capacity(void **state) {
    (void)state;
    long freq[8] = {1800000, 1800000, 1800000, 1800000, 1800000, 1800000, 2400000, 2400000};
    cpus_with("cpufreq/cpuinfo_max_freq", 8, freq);
    assert_int_equal(lfm_default_threads_at(root, 99), 2);
}

static void test_offline_cpus_ignored(void **state) {
    (void)state;
    long cap[8] = {400, 400, 400, 400, 1024, 1024, 1024, 1024};
    cpus_with("cpu_capacity", 8, cap);
    put("online", "0-1,4-5\n"); /* two little, two big online */
    assert_int_equal(lfm_default_threads_at(root, 99), 2);
}

static void test_fallbacks(void **state) {
    (void)state;
    /* no tree at all */
    assert_int_equal(lfm_default_threads_at("/nonexistent/sysfs", 7), 7);
    /* an online list but no speed files: every online CPU is alike */
    put("online", "0-2\n");
    assert_int_equal(lfm_default_threads_at(root, 7), 7);
    /* a speed file missing on one CPU: not trusted */
    long cap[4] = {400, 1024, 0, 1024};
    cpus_with("cpu_capacity", 4, cap);
    assert_int_equal(lfm_default_threads_at(root, 7), 7);
    /* garbage */
    put("cpu2/cpu_capacity", "fast\n");
    assert_int_equal(lfm_default_threads_at(root, 7), 7);
    put("online", "3-1\n");
    assert_int_equal(lfm_default_threads_at(root, 7), 7);
    put("online", "0-99999\n");
    assert_int_equal(lfm_default_threads_at(root, 7), 7);
    /* the real machine: at least one thread */
    assert_true(lfm_default_threads() >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_big_little_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_tiers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uniform, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_freq_when_no_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_cpus_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallbacks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
