/* How many threads a session uses when the caller says 0 (n_threads = 0). */
#ifndef LFM_CPU_TOPOLOGY_H
#define LFM_CPU_TOPOLOGY_H

/* One per online CPU, except on heterogeneous CPUs (big.LITTLE phones, where
 * cpu_capacity or cpuinfo_max_freq differ between cores): one per core that
 * is not of the slowest kind.  The slow cores would hold every step back (a
 * step waits for its slowest thread), e.g. 4 big + 4 little cores -> 4. */
int lfm_default_threads(void);

/* The same, reading `cpu_dir` instead of /sys/devices/system/cpu (tests use a
 * fake tree).  `fallback` is returned when the tree says nothing usable. */
int lfm_default_threads_at(const char *cpu_dir, int fallback);

#endif
