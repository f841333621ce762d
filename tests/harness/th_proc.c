#include "th_proc.h"
#include "th.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t th_proc_spawn(const char *const argv[], int *in_fd, int *out_fd)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    pid_t parent = getpid(), pid = -1;

    if ((in_fd && pipe2(in, O_CLOEXEC)) || (out_fd && pipe2(out, O_CLOEXEC))) {
        fprintf(stderr, "th_proc_spawn: pipe: %s\n", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "th_proc_spawn: fork: %s\n", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127); /* the parent died before prctl took effect */
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        dup2(in_fd ? in[0] : devnull, STDIN_FILENO);
        if (out_fd)
            dup2(out[1], STDOUT_FILENO);
        /* The pipes are O_CLOEXEC; the dup2'd copies are not. */
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    if (in_fd) {
        *in_fd = in[1];
        in[1] = -1;
    }
    if (out_fd) {
        *out_fd = out[0];
        out[0] = -1;
    }
    /* A server that died must not kill the test with SIGPIPE on write. */
    signal(SIGPIPE, SIG_IGN);

out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    return pid;
}

int th_proc_run(const char *const argv[], int timeout_ms, char **out)
{
    int fd = -1;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int status = -1;
    bool killed = false;
    int64_t deadline = th_now_ms() + timeout_ms;

    pid_t pid = th_proc_spawn(argv, NULL, &fd);
    if (pid < 0)
        return -1;
    for (;;) {
        int left = (int)(deadline - th_now_ms());
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, left) <= 0)
            continue;
        if (len + 512 > cap) {
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break; /* EOF: the child closed stdout (normally: exited) */
        }
        len += (size_t)n;
    }
    close(fd);

    /* Bounded even if the child closed stdout but keeps running. */
    int wstatus = 0;
    pid_t r;
    while ((r = waitpid(pid, &wstatus, killed ? 0 : WNOHANG)) == 0) {
        if (th_now_ms() >= deadline) {
            fprintf(stderr, "th_proc_run: %s timed out after %d ms\n", argv[0], timeout_ms);
            kill(pid, SIGKILL);
            killed = true;
        } else {
            poll(NULL, 0, 10);
        }
    }
    if (r == pid && !killed && WIFEXITED(wstatus))
        status = WEXITSTATUS(wstatus);

    if (buf)
        buf[len] = '\0';
    if (out)
        *out = buf ? buf : strdup("");
    else
        free(buf);
    return status;
}

int th_proc_stop(pid_t pid, int timeout_ms)
{
    int wstatus;
    int64_t deadline = th_now_ms() + timeout_ms;

    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    for (;;) {
        pid_t r = waitpid(pid, &wstatus, WNOHANG);
        if (r == pid)
            return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
        if (r < 0)
            return -1;
        if (th_now_ms() >= deadline)
            break;
        poll(NULL, 0, 10);
    }
    fprintf(stderr, "th_proc_stop: pid %ld ignored SIGTERM for %d ms, killing\n", (long)pid,
            timeout_ms);
    kill(pid, SIGKILL);
    waitpid(pid, &wstatus, 0);
    return -1;
}

int th_proc_read_line(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t len = 0;
    int64_t deadline = th_now_ms() + timeout_ms;

    while (len + 1 < size) {
        int left = (int)(deadline - th_now_ms());
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, left) < 0) {
            if (left > 0 && errno == EINTR)
                continue;
            return -1;
        }
        if (!pfd.revents)
            continue;
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (c == '\n') {
            buf[len] = '\0';
            return (int)len;
        }
        buf[len++] = c;
    }
    buf[len] = '\0';
    /* EOF or a full buffer: a partial line is still a line. */
    return len ? (int)len : -1;
}

/* Cleanup stack. Fixed size: a test holds a handful of servers. */
static struct {
    void (*fn)(void *);
    void *arg;
} cleanups[32];
static int n_cleanups;
static pid_t cleanup_owner;

static void run_cleanups(void)
{
    if (getpid() != cleanup_owner)
        return;
    while (n_cleanups > 0) {
        n_cleanups--;
        cleanups[n_cleanups].fn(cleanups[n_cleanups].arg);
    }
}

void th_cleanup_push(void (*fn)(void *arg), void *arg)
{
    if (!cleanup_owner) {
        cleanup_owner = getpid();
        atexit(run_cleanups);
    }
    TH_ASSERT(n_cleanups < (int)(sizeof(cleanups) / sizeof(cleanups[0])));
    cleanups[n_cleanups].fn = fn;
    cleanups[n_cleanups].arg = arg;
    n_cleanups++;
}

void th_cleanup_pop(void (*fn)(void *arg), void *arg)
{
    for (int i = n_cleanups - 1; i >= 0; i--) {
        if (cleanups[i].fn == fn && cleanups[i].arg == arg) {
            memmove(&cleanups[i], &cleanups[i + 1],
                    (size_t)(n_cleanups - i - 1) * sizeof(cleanups[0]));
            n_cleanups--;
            return;
        }
    }
}
