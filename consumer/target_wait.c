/* cdc-apply's signal handlers, and the cut of a wait on the target that
 * does not end (--target-timeout, the stop grace). */
#include "app_int.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t cdc_app_stop;

/* Seconds a stop request leaves a target wait to finish before the
 * connection is cut. */
#define STOP_GRACE_S 3

/* For the signal handlers only (besides the run flag, the one other piece
 * of state they may touch), per wait on the target (WAIT_LOOP: the loop's
 * thread waits; WAIT_WRITER: the writer thread applies a handed-off batch):
 * a dup of the target connection's socket while the wait is under way,
 * else -1, and its --target-timeout deadline. shutdown() on it wakes libpq's
 * blocking wait (PQexec has no timeout of its own) with "server closed the
 * connection", a retriable error; nothing is committed that the server did
 * not commit, and the fence makes a retry of a batch the server did commit
 * harmless. A dup, so that its number cannot be reused by another socket
 * (librdkafka's threads open them) while a handler may still use it. */
static _Atomic int wait_sock[NWAITS] = {-1, -1};
static _Atomic int wait_cut[NWAITS];            /* a handler cut the wait */
static _Atomic long long wait_deadline[NWAITS]; /* monotonic ms; 0: none */

static long long now_ms(void) /* async-signal-safe */
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cut_wait(int i)
{
    int fd = atomic_load(&wait_sock[i]);
    if (fd >= 0) {
        atomic_store(&wait_cut[i], 1);
        shutdown(fd, SHUT_RDWR); /* async-signal-safe */
    }
}

static void cut_target(void)
{
    for (int i = 0; i < NWAITS; i++)
        cut_wait(i);
}

/* The alarm for the earliest --target-timeout deadline (none: off). Not
 * while stopping: then the alarm runs the stop grace. */
static void arm_timeout(void)
{
    long long next = 0, now = now_ms();
    for (int i = 0; i < NWAITS; i++) {
        long long d = atomic_load(&wait_deadline[i]);
        if (d && (!next || d < next))
            next = d;
    }
    alarm(next ? (unsigned)(next > now ? (next - now + 999) / 1000 : 1) : 0);
}

void cdc_app_on_signal(int sig)
{
    if (sig == SIGALRM) {
        if (cdc_app_stop) {
            cut_target(); /* the stop grace ran out */
            return;
        }
        /* --target-timeout ran out for one of the waits (the alarm has
         * whole seconds: a deadline within 50 ms counts as reached). */
        long long now = now_ms();
        for (int i = 0; i < NWAITS; i++) {
            long long d = atomic_load(&wait_deadline[i]);
            if (d && now + 50 >= d) {
                atomic_store(&wait_deadline[i], 0);
                cut_wait(i);
            }
        }
        arm_timeout();
        return;
    }
    if (cdc_app_stop) {
        cut_target(); /* a second request: do not wait for the grace */
        return;
    }
    cdc_app_stop = 1;
    unsigned left = alarm(STOP_GRACE_S);
    if (left && left < STOP_GRACE_S)
        alarm(left);
}

/* Bracket a wait on the target (libpq blocks in it) by @p slot's thread
 * on @p w's connection: arm --target-timeout and let the handlers reach
 * the socket. After a stop request the alarm runs the grace: left alone
 * while pending, armed again for a wait that starts after it fired (the
 * final flush). */
void cdc_app_wait_begin(app_t *a, int slot, cdc_writer_t *w)
{
    PGconn *conn = cdc_writer_connected(w) ? cdc_writer_conn(w) : NULL;
    int fd = conn ? PQsocket(conn) : -1;
    atomic_store(&wait_cut[slot], 0);
    a->wait_dup[slot] = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    atomic_store(&wait_deadline[slot], a->target_timeout_s && !cdc_app_stop
                                           ? now_ms() + (long long)a->target_timeout_s * 1000
                                           : 0);
    atomic_store(&wait_sock[slot], a->wait_dup[slot]);
    if (cdc_app_stop) { /* also when the request came in just now */
        unsigned left = alarm(0);
        alarm(left && left <= STOP_GRACE_S ? left : STOP_GRACE_S);
    } else {
        arm_timeout();
    }
}

/* End of the wait; true when a handler cut it (then @p err says why). */
bool cdc_app_wait_end(app_t *a, int slot, char *err, size_t errsz)
{
    atomic_store(&wait_sock[slot], -1);
    atomic_store(&wait_deadline[slot], 0);
    if (!cdc_app_stop)
        arm_timeout();
    if (a->wait_dup[slot] >= 0)
        close(a->wait_dup[slot]);
    a->wait_dup[slot] = -1;
    if (!atomic_exchange(&wait_cut[slot], 0))
        return false;
    if (err) {
        if (cdc_app_stop)
            snprintf(err, errsz,
                     "the target did not answer within %d s of the stop request: connection cut",
                     STOP_GRACE_S);
        else
            snprintf(err, errsz,
                     "the target did not answer within --target-timeout %d s (hung server or "
                     "network partition): connection cut",
                     a->target_timeout_s);
    }
    return true;
}

/* The writer thread's apply got its answer: nothing left to cut there, and
 * no deadline (the loop may collect the result only later). */
void cdc_app_writer_done(void)
{
    atomic_store(&wait_sock[WAIT_WRITER], -1);
    atomic_store(&wait_deadline[WAIT_WRITER], 0);
}
