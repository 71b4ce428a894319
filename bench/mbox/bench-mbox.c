/*
 * bench-mbox.c - what a system user's mbox costs through lib/store: the
 * scan at a POP3 login and the rewrite at QUIT.
 *
 *   bench-mbox [-d dir] [-s size] N...
 *
 * For each N makes dir/mboxN, an mbox of N messages of size bytes
 * (default 2000) as local writes them (From_ line, a header, a body with
 * a ">From " line, an empty line), and its index directory, then times:
 *   first     store_open_mbox with no index (scan, keys, index written)
 *   reopen    store_open_mbox again (scan, index read, nothing new)
 *   read      store_msg_open and a read of every message (what RETR
 *             costs besides the sending)
 *   delete1   store_expunge of the last message (the rewrite's journal
 *             holds nothing: the file is cut)
 *   delfirst  store_expunge of the first message (the whole rest of the
 *             file goes through the journal and back)
 *   delhalf   store_expunge of every other message of what is left
 * Each line gives wall seconds, the process's CPU (user + system) in ms
 * and in microseconds per message of the mbox at the start of the step,
 * and the peak RSS:
 *   N=10000   first      0.081 s  cpu 80 ms  8.0 us/msg  maxrss 5012 kB
 * Run alone, the locks are free: this is the cost of the work, not of
 * waiting. The files are removed afterwards (dir is left).
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

#include "global/mail_params.h"
#include "store/store.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"

typedef struct {
    double wall, cpu;
} bench_mark_t;

/* bench_mark - the time now, wall and CPU */
static bench_mark_t bench_mark(void)
{
    struct timespec ts;
    struct rusage ru;
    bench_mark_t m;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    getrusage(RUSAGE_SELF, &ru);
    m.wall = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    m.cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return m;
}

/* report - one output line for a step over msgs messages */
static void report(long n, const char *step, bench_mark_t t0, size_t msgs)
{
    bench_mark_t t = bench_mark();
    struct rusage ru;
    double cpu = t.cpu - t0.cpu;

    getrusage(RUSAGE_SELF, &ru);
    printf("N=%-8ld %-9s %8.3f s  cpu %6.0f ms  %6.1f us/msg  maxrss %ld kB\n", n, step,
	   t.wall - t0.wall, cpu * 1e3, msgs ? cpu * 1e6 / (double)msgs : 0.0, ru.ru_maxrss);
    fflush(stdout);
}

/* make_mbox - n messages of about size bytes each into path */
static void make_mbox(const char *path, long n, size_t size)
{
    str_t *m = str_new(size + 200);
    FILE *fp = fopen(path, "w");

    if (fp == NULL)
	msg_fatal("bench-mbox: create %s: %m", path);
    for (long i = 0; i < n; i++) {
	str_truncate(m, 0);
	str_appendf(m,
		    "From s@example.org  Fri Nov 27 14:00:14 2026\nReturn-Path: <s@example.org>\n"
		    "Subject: message %ld\nMessage-ID: <%ld@bench>\n\n>From a quoted line\n",
		    i, i);
	while (str_len(m) + 74 < size)
	    str_appends(
		m, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrs\n");
	str_appends(m, "\n");
	if (fwrite(str_data(m), 1, str_len(m), fp) != str_len(m))
	    msg_fatal("bench-mbox: write %s: %m", path);
    }
    if (fclose(fp) != 0)
	msg_fatal("bench-mbox: write %s: %m", path);
    str_free(&m);
}

/* open_box - store_open_mbox or die */
static store_t *open_box(const char *path, const char *idx)
{
    store_t *st = NULL;
    const char *err;

    if (store_open_mbox(path, idx, &st, &err) < 0)
	msg_fatal("bench-mbox: %s", err);
    return st;
}

/* expunge - delete the k uids or die */
static void expunge(store_t *st, const unsigned long *uids, size_t k)
{
    const char *err;

    if (store_expunge(st, uids, k, &err) != (long)k)
	msg_fatal("bench-mbox: expunge: %s", err);
}

/* read_all - open and read every message, as RETR does */
static void read_all(store_t *st)
{
    static char buf[65536];
    const char *err;
    ssize_t got;
    int fd;

    for (size_t i = 0; i < st->count; i++) {
	if ((fd = store_msg_open(st, st->msgs[i].uid, &err)) < 0)
	    msg_fatal("bench-mbox: read: %s", err);
	while ((got = read(fd, buf, sizeof(buf))) > 0)
	    /* the bytes RETR would send */;
	if (got < 0)
	    msg_fatal("bench-mbox: read: %m");
	close(fd);
    }
}

/* bench_one - the steps for one mbox of n messages */
static void bench_one(const char *dir, long n, size_t size)
{
    char *path = mr_format("%s/mbox%ld", dir, n), *idx = mr_format("%s/mbox%ld.idx", dir, n);
    unsigned long *uids = mr_calloc((size_t)n + 1, sizeof(*uids));
    store_t *st;
    bench_mark_t t;
    size_t k = 0;

    make_mbox(path, n, size);
    t = bench_mark();
    st = open_box(path, idx);
    report(n, "first", t, st->count);
    store_close(&st);
    t = bench_mark();
    st = open_box(path, idx);
    report(n, "reopen", t, st->count);
    t = bench_mark();
    read_all(st);
    report(n, "read", t, st->count);
    t = bench_mark();
    expunge(st, &st->msgs[st->count - 1].uid, 1);
    report(n, "delete1", t, st->count + 1);
    t = bench_mark();
    expunge(st, &st->msgs[0].uid, 1);
    report(n, "delfirst", t, st->count + 1);
    for (size_t i = 0; i < st->count; i += 2)
	uids[k++] = st->msgs[i].uid;
    t = bench_mark();
    expunge(st, uids, k);
    report(n, "delhalf", t, st->count + k);
    store_close(&st);
    if (fork() == 0) {
	execlp("rm", "rm", "-rf", "--", path, idx, (char *)NULL);
	_exit(127);
    }
    (void)wait(NULL);
    mr_free(uids);
    mr_free(path);
    mr_free(idx);
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
	    msg_fatal("usage: bench-mbox [-d dir] [-s size] N...");
    }
    if (optind >= argc || size < 200)
	msg_fatal("usage: bench-mbox [-d dir] [-s size] N...");
    var_deliver_lock_attempts = 1; /* alone on its files: never waits */
    var_deliver_lock_delay = 1;
    var_stale_lock_time = 500;
    for (int i = optind; i < argc; i++)
	bench_one(dir, strtol(argv[i], NULL, 10), size);
    return 0;
}
