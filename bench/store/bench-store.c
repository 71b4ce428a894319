/*
 * bench-store.c - how long a Maildir of N messages takes to open and
 * sync through lib/store, and what it costs in memory.
 *
 *   bench-store [-d dir] [-s size] N...
 *
 * For each N (e.g. 1000 10000 100000) makes dir/boxN, a Maildir holding
 * N messages of size bytes (default 2000) delivered into new/ the way
 * local names them (NAME,S=SIZE), then times:
 *   first     the first open: new/ -> cur/, a UID for each, one read of
 *             each file for its CRLF size, the index written
 *   reopen    store_open of the same mailbox (the index is read, cur/ is
 *             listed, no message is opened)
 *   sync      store_sync with nothing new
 *   deliver1  store_sync after one more delivery
 *   flag1     store_change_flags on one message (rename + index change)
 *   flag100   100 more such changes, one message per call; the figures
 *             are per change
 *   stat      what a POP3 login does before STAT, after those changes:
 *             store_open, the sum of the sizes, store_close
 * and reports the wall-clock and CPU (user + system) time of each step,
 * the message opens and the process's peak RSS. Output, one line per N
 * and step:
 *   N=10000   first      0.812 s  cpu 0.400 s  opens 10000  maxrss 5012 kB
 * The mailbox is removed afterwards (dir is left).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* bench_now - monotonic seconds */
static double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* cpu_now - user + system seconds of this process */
static double cpu_now(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) < 0)
	return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* maxrss_kb - peak resident size of this process */
static long maxrss_kb(void)
{
    struct rusage ru;

    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* deliver - one message of size bytes into box/new, named as local does */
static void deliver(const char *box, long i, const char *body, size_t size)
{
    char *path = mr_format("%s/new/%ld.M%ldP1Q1.bench,S=%zu", box, 1700000000L + i, i, size);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

    if (fd < 0 || write(fd, body, size) != (ssize_t)size || close(fd) < 0)
	msg_fatal("bench-store: write %s: %m", path);
    mr_free(path);
}

static double cpu0; /* CPU time at the start of the step */

/* report - one output line for a step of per operations */
static void report(long n, const char *step, double t0, unsigned long opens0, int per)
{
    printf("N=%-8ld %-9s %8.4f s  cpu %7.4f s  opens %-7lu maxrss %ld kB\n", n, step,
	   (bench_now() - t0) / per, (cpu_now() - cpu0) / per, store_message_opens - opens0,
	   maxrss_kb());
    fflush(stdout);
}

/* step_start - note the clocks and opens before a step */
static void step_start(double *t, unsigned long *opens)
{
    *t = bench_now();
    *opens = store_message_opens;
    cpu0 = cpu_now();
}

/* flag_steps - flag1 and flag100: one flag change, then 100 */
static void flag_steps(store_t *st, long n)
{
    const char *err;
    unsigned long opens, uid;
    double t;

    uid = st->msgs[st->count / 2].uid;
    step_start(&t, &opens);
    if (store_change_flags(st, &uid, 1, STORE_FLAGS_ADD, "S", 0, NULL, NULL, &err) != 1)
	msg_fatal("bench-store: flags: %s", err);
    report(n, "flag1", t, opens, 1);
    step_start(&t, &opens);
    for (int i = 0; i < 100; i++) {
	uid = st->msgs[(size_t)i * st->count / 100].uid;
	if (store_change_flags(st, &uid, 1, STORE_FLAGS_ADD, "F", 0, NULL, NULL, &err) != 1)
	    msg_fatal("bench-store: flags: %s", err);
    }
    report(n, "flag100", t, opens, 100);
}

/* stat_step - open the mailbox as a POP3 login does and sum its sizes */
static void stat_step(const char *box, long n)
{
    store_t *st = NULL;
    const char *err;
    unsigned long opens;
    long long bytes = 0;
    double t;

    step_start(&t, &opens);
    if (store_open(box, &st, &err) < 0)
	msg_fatal("bench-store: %s", err);
    for (size_t i = 0; i < st->count; i++)
	bytes += st->msgs[i].vsize;
    if (bytes <= 0)
	msg_fatal("bench-store: no messages");
    store_close(&st);
    report(n, "stat", t, opens, 1);
}

/* body_text - a message of size bytes in 72-octet lines */
static char *body_text(size_t size)
{
    char *b = mr_alloc(size + 1);

    for (size_t i = 0; i < size; i++)
	b[i] = (i % 73 == 72 || i + 1 == size) ? '\n' : (char)('a' + i % 26);
    b[size] = 0;
    return b;
}

/* bench_one - the steps for one mailbox of n messages */
static void bench_one(const char *dir, long n, size_t size)
{
    char *box = mr_format("%s/box%ld", dir, n), *body = body_text(size), *cmd;
    store_t *st = NULL;
    const char *err;
    unsigned long opens;
    double t;

    if (store_open(box, &st, &err) < 0)
	msg_fatal("bench-store: %s", err);
    for (long i = 0; i < n; i++)
	deliver(box, i, body, size);
    store_close(&st);
    step_start(&t, &opens);
    if (store_open(box, &st, &err) < 0)
	msg_fatal("bench-store: %s", err);
    report(n, "first", t, opens, 1);
    store_close(&st);
    step_start(&t, &opens);
    if (store_open(box, &st, &err) < 0)
	msg_fatal("bench-store: %s", err);
    report(n, "reopen", t, opens, 1);
    step_start(&t, &opens);
    if (store_sync(st, &err) < 0)
	msg_fatal("bench-store: %s", err);
    report(n, "sync", t, opens, 1);
    deliver(box, n, body, size);
    step_start(&t, &opens);
    if (store_sync(st, &err) < 0)
	msg_fatal("bench-store: %s", err);
    report(n, "deliver1", t, opens, 1);
    flag_steps(st, n);
    store_close(&st);
    stat_step(box, n);
    cmd = mr_format("%s", box);
    if (fork() == 0) {
	execlp("rm", "rm", "-rf", "--", cmd, (char *)NULL);
	_exit(127);
    }
    (void)wait(NULL);
    mr_free(cmd);
    mr_free(box);
    mr_free(body);
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp";
    size_t size = 2000;
    int c;

    while ((c = getopt(argc, argv, "d:s:")) != -1) {
	if (c == 'd')
	    dir = optarg;
	else if (c == 's')
	    size = (size_t)strtoul(optarg, NULL, 10);
	else
	    msg_fatal("usage: bench-store [-d dir] [-s size] N...");
    }
    if (optind >= argc || size < 2)
	msg_fatal("usage: bench-store [-d dir] [-s size] N...");
    for (int i = optind; i < argc; i++)
	bench_one(dir, strtol(argv[i], NULL, 10), size);
    return 0;
}
