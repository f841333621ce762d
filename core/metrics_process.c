/*
 * The process_* metrics (CPU, memory, file descriptors, threads, start
 * time) of the Prometheus client conventions, read from /proc at each
 * collection.
 */
#include "metrics_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------ process metrics */

/* Read a small /proc file whole; returns bytes read or -1. */
static ssize_t read_proc(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static double boot_time_seconds(void)
{
    char buf[8192];
    if (read_proc("/proc/stat", buf, sizeof(buf)) < 0)
        return 0;
    const char *p = strstr(buf, "\nbtime ");
    return p ? strtod(p + 7, NULL) : 0;
}

static void process_collect(cdc_metrics_t *reg, void *opaque)
{
    char buf[1024];
    (void)opaque;
    /* /proc/self/stat: fields after the parenthesised command name (which
     * may itself hold spaces or ')') start at field 3, the state. */
    if (read_proc("/proc/self/stat", buf, sizeof(buf)) > 0) {
        const char *p = strrchr(buf, ')');
        double f[24] = {0};
        int n = 0;
        if (p) {
            p += 2; /* skip ") " */
            while (n < 24 && *p) {
                char *end;
                f[n++] = strtod(p, &end);
                if (end == p) /* the state letter */
                    end = (char *)(uintptr_t)p + 1;
                p = end;
                while (*p == ' ')
                    p++;
            }
        }
        if (n >= 22) {
            double tck = (double)sysconf(_SC_CLK_TCK);
            double page = (double)sysconf(_SC_PAGESIZE);
            /* index = field number - 3: utime 14, stime 15, threads 20,
             * vsize 23, rss 24 (pages) */
            cdc_counter_set(reg->proc_cpu, (f[11] + f[12]) / tck);
            cdc_gauge_set(reg->proc_threads, f[17]);
            cdc_gauge_set(reg->proc_vsize, f[20]);
            cdc_gauge_set(reg->proc_rss, f[21] * page);
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        double fds = 0;
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] != '.')
                fds++;
        closedir(d);
        cdc_gauge_set(reg->proc_fds, fds - 1); /* not counting our own DIR */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        cdc_gauge_set(reg->proc_max_fds,
                      rl.rlim_cur == RLIM_INFINITY ? HUGE_VAL : (double)rl.rlim_cur);
}

static double process_start_time(void)
{
    char buf[1024];
    if (read_proc("/proc/self/stat", buf, sizeof(buf)) <= 0)
        return 0;
    const char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* starttime is field 22: skip the 19 fields from 3 (state) to 21. */
    p += 2;
    for (int i = 0; i < 19 && p; i++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (!p)
        return 0;
    return boot_time_seconds() + strtod(p, NULL) / (double)sysconf(_SC_CLK_TCK);
}

static const cdc_metric_desc_t process_descs[] = {
    {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
     CDC_METRIC_COUNTER, NULL, NULL, 0},
    {"process_resident_memory_bytes", "Resident memory size in bytes.", CDC_METRIC_GAUGE, NULL,
     NULL, 0},
    {"process_virtual_memory_bytes", "Virtual memory size in bytes.", CDC_METRIC_GAUGE, NULL, NULL,
     0},
    {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
     CDC_METRIC_GAUGE, NULL, NULL, 0},
    {"process_open_fds", "Number of open file descriptors.", CDC_METRIC_GAUGE, NULL, NULL, 0},
    {"process_max_fds", "Maximum number of open file descriptors.", CDC_METRIC_GAUGE, NULL, NULL,
     0},
    {"process_threads", "Number of OS threads in the process.", CDC_METRIC_GAUGE, NULL, NULL, 0},
};

int cdc_metrics_register_process(cdc_metrics_t *reg, char *errstr, size_t errstr_size)
{
    bool first;
    for (size_t i = 0; i < sizeof(process_descs) / sizeof(process_descs[0]); i++)
        if (cdc_metrics_declare(reg, &process_descs[i], errstr, errstr_size) != 0)
            return -1;
    pthread_mutex_lock(&reg->mu);
    first = !reg->proc_registered;
    reg->proc_registered = true;
    pthread_mutex_unlock(&reg->mu);
    if (!first) /* registering twice (apply + verify catalogs) is harmless */
        return 0;
    reg->proc_cpu = cdc_metrics_counter(reg, "process_cpu_seconds_total", NULL);
    reg->proc_rss = cdc_metrics_gauge(reg, "process_resident_memory_bytes", NULL);
    reg->proc_vsize = cdc_metrics_gauge(reg, "process_virtual_memory_bytes", NULL);
    reg->proc_fds = cdc_metrics_gauge(reg, "process_open_fds", NULL);
    reg->proc_max_fds = cdc_metrics_gauge(reg, "process_max_fds", NULL);
    reg->proc_threads = cdc_metrics_gauge(reg, "process_threads", NULL);
    /* The start time never changes; compute it once. */
    cdc_gauge_set(cdc_metrics_gauge(reg, "process_start_time_seconds", NULL), process_start_time());
    if (cdc_metrics_on_collect(reg, process_collect, NULL) != 0) {
        snprintf(errstr, errstr_size, "out of memory registering the process collector");
        return -1;
    }
    return 0;
}

void cdc_metrics_markdown_process(FILE *out)
{
    for (size_t i = 0; i < sizeof(process_descs) / sizeof(process_descs[0]); i++)
        cdc_metrics_md_row(out, &process_descs[i]);
}
