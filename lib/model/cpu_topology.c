/* Default thread count from the CPU topology in sysfs.  Linux (and Android)
 * describe each core's relative speed in cpuN/cpu_capacity (1024 = the
 * fastest; ARM and RISC-V with an energy model) or, failing that, its top
 * clock in cpuN/cpufreq/cpuinfo_max_freq.  Using all cores of a
 * heterogeneous CPU makes every step wait for the little ones (llama.cpp
 * issue 21763 reports up to 100x slowdowns), so the default leaves out the
 * slowest kind of core. */
#include "model/cpu_topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CPUS 1024

/* The unsigned integer a sysfs file holds, or -1. */
static long read_number(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[32];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    if (end == buf || v < 0 || (*end && *end != '\n')) return -1;
    return v;
}

/* Marks the CPUs of a list like "0-3,6,8-9" (the `online` file); returns how
 * many, or -1 if it does not parse. */
static int parse_cpu_list(const char *s, unsigned char *online) {
    int count = 0;
    while (*s && *s != '\n') {
        char *end;
        long lo = strtol(s, &end, 10), hi = lo;
        if (end == s || lo < 0) return -1;
        s = end;
        if (*s == '-') {
            hi = strtol(s + 1, &end, 10);
            if (end == s + 1 || hi < lo) return -1;
            s = end;
        }
        if (hi >= MAX_CPUS) return -1;
        for (long c = lo; c <= hi; c++)
            count += !online[c], online[c] = 1;
        if (*s == ',')
            s++;
        else if (*s && *s != '\n')
            return -1;
    }
    return count;
}

/* One speed value per online CPU from `file` (relative to cpuN/); 0 if any
 * is missing. */
static int read_speeds(const char *cpu_dir, const unsigned char *online, const char *file,
                       long *speed) {
    char path[512];
    for (int c = 0; c < MAX_CPUS; c++) {
        if (!online[c]) continue;
        snprintf(path, sizeof path, "%s/cpu%d/%s", cpu_dir, c, file);
        if ((speed[c] = read_number(path)) <= 0) return 0;
    }
    return 1;
}

int lfm_default_threads_at(const char *cpu_dir, int fallback) {
    char path[512];
    snprintf(path, sizeof path, "%s/online", cpu_dir);
    FILE *f = fopen(path, "r");
    if (!f) return fallback;
    char list[1024];
    size_t n = fread(list, 1, sizeof list - 1, f);
    fclose(f);
    list[n] = '\0';
    static const char *const speed_files[] = {"cpu_capacity", "cpufreq/cpuinfo_max_freq"};
    unsigned char *online = calloc(MAX_CPUS, 1);
    long *speed = calloc(MAX_CPUS, sizeof *speed);
    int result = fallback;
    int n_online = online && speed ? parse_cpu_list(list, online) : -1;
    for (size_t k = 0; n_online > 0 && k < sizeof speed_files / sizeof *speed_files; k++) {
        if (!read_speeds(cpu_dir, online, speed_files[k], speed)) continue;
        long slowest = -1;
        for (int c = 0; c < MAX_CPUS; c++)
            if (online[c] && (slowest < 0 || speed[c] < slowest)) slowest = speed[c];
        int faster = 0;
        for (int c = 0; c < MAX_CPUS; c++)
            faster += online[c] && speed[c] > slowest;
        /* all alike: every online CPU; else the ones faster than the slowest */
        result = faster ? faster : n_online;
        break;
    }
    free(online);
    free(speed);
    return result;
}

int lfm_default_threads(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int fallback = cpus > 0 ? (int)cpus : 1;
    int n = lfm_default_threads_at("/sys/devices/system/cpu", fallback);
    return n > 0 ? n : fallback;
}
