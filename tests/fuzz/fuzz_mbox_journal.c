/*
 * fuzz_mbox_journal.c - libFuzzer target for the mbox rewrite journal
 * (global/mbox_lock.c): the input is written as BOX.rewrite beside an mbox
 * of fixed content, and mbox_journal_finish must either leave the mbox as
 * it was (0: the journal removed as incomplete; -1: kept as not fitting)
 * or make it exactly its first FROM bytes followed by the journal's bytes
 * (1), never grow it, never crash.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "global/mbox_lock.h"

#define BOX "From a  Mon\none\n\nFrom b  Mon\ntwo\n\nFrom c  Mon\nthree\n\n"

static int dfd = -1;
static char dir[] = "/tmp/fuzz-mbox-journal.XXXXXX";

/* cleanup - remove the directory at exit */
static void cleanup(void)
{
    (void)unlinkat(dfd, "box", 0);
    (void)unlinkat(dfd, "box" MBOX_JOURNAL_SUFFIX, 0);
    (void)rmdir(dir);
}

/* put - replace name in the directory with len bytes of data */
static int put(const char *name, const void *data, size_t len)
{
    int fd = openat(dfd, name, O_RDWR | O_CREAT | O_TRUNC, 0600);

    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
	abort();
    return fd;
}

/* check - the mbox after a finish that returned r */
static void check(int fd, int r, const uint8_t *data, size_t len)
{
    char now[sizeof(BOX) + 64];
    ssize_t n = pread(fd, now, sizeof(now), 0);
    const char *nl = memchr(data, '\n', len);
    long long from = -1;

    if (n < 0 || n > (ssize_t)strlen(BOX))
	abort();
    if (r <= 0) {
	if (n != (ssize_t)strlen(BOX) || memcmp(now, BOX, (size_t)n) != 0)
	    abort();
	return;
    }
    if (nl == NULL || sscanf((const char *)data, "MRJ1 %lld", &from) != 1 || from < 0 || from > n)
	abort();
    if (memcmp(now, BOX, (size_t)from) != 0 ||
	(size_t)(n - from) != len - (size_t)(nl + 1 - (const char *)data) ||
	memcmp(now + from, nl + 1, (size_t)(n - from)) != 0)
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    const char *err;
    int fd, jfd, r;

    if (dfd < 0) {
	if (mkdtemp(dir) == NULL || (dfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
	    abort();
	atexit(cleanup);
	var_deliver_lock_attempts = 1;
    }
    fd = put("box", BOX, strlen(BOX));
    jfd = put("box" MBOX_JOURNAL_SUFFIX, data, len);
    close(jfd);
    r = mbox_journal_finish(dfd, "box", fd, &err);
    check(fd, r, data, len);
    (void)unlinkat(dfd, "box" MBOX_JOURNAL_SUFFIX, 0);
    close(fd);
    return 0;
}
