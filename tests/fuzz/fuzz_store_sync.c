/*
 * fuzz_store_sync.c - libFuzzer target for a store opened over an index
 * the mailbox's user wrote: the input is written as mailroom.index of a
 * Maildir with a few real files, then the store is opened (which syncs the
 * index with the listing: the merge keeps, moves and forgets entries in
 * place) and every message it lists is opened. Whatever the index says,
 * the open must succeed or fail cleanly, every message must name a file
 * of the listing once, UIDs must ascend, and nothing may crash or leak.
 * The first line of the index is kept to notice a rewrite in place: one of
 * exactly 96 bytes was written one byte past its buffer (corpus:
 * head-line-of-96-bytes).
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"

/* The Maildir's files (cur/), as NAME:2,FLAGS; their bases are sorted */
static const char *const sync_files[] = {
    "1700000000.M1P1Q1.host:2,S",
    "1700000001.M2P1Q2.host:2,",
    "1700000002.M3P1Q3.host:2,RS",
    "1700000003.M4P1Q4.host:2,FT",
};
#define SYNC_FILES (sizeof(sync_files) / sizeof(sync_files[0]))

static char *sync_dir; /* the Maildir, made once */

/* sync_remove_one, sync_cleanup - remove the Maildir at exit */
static int sync_remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

static void sync_cleanup(void)
{
    (void)nftw(sync_dir, sync_remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* sync_setup - the Maildir with its files */
static void sync_setup(void)
{
    char tmpl[] = "/tmp/fuzz-store-sync-XXXXXX";
    char *path;
    int fd;

    if (mkdtemp(tmpl) == NULL)
	abort();
    sync_dir = mr_strdup(tmpl);
    atexit(sync_cleanup);
    for (const char *sub = "cur\0new\0tmp\0"; *sub; sub += strlen(sub) + 1) {
	path = mr_format("%s/%s", sync_dir, sub);
	if (mkdir(path, 0700) < 0)
	    abort();
	mr_free(path);
    }
    for (size_t i = 0; i < SYNC_FILES; i++) {
	path = mr_format("%s/cur/%s", sync_dir, sync_files[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write_all(fd, "Subject: x\r\n\r\nbody\r\n", 20) < 0)
	    abort();
	close(fd);
	mr_free(path);
    }
}

/* listed - is base the base of one of the files? */
static int listed(const char *base)
{
    for (size_t i = 0; i < SYNC_FILES; i++) {
	size_t n = strcspn(sync_files[i], ":");

	if (strlen(base) == n && strncmp(base, sync_files[i], n) == 0)
	    return 1;
    }
    return 0;
}

/* check_store - what the open made of the index and the files */
static void check_store(store_t *st)
{
    const char *err;
    int fd;

    if (st->count > SYNC_FILES)
	abort();
    for (size_t i = 0; i < st->count; i++) {
	if (st->msgs[i].base == NULL || !listed(st->msgs[i].base) ||
	    (i > 0 && st->msgs[i].uid <= st->msgs[i - 1].uid))
	    abort();
	for (size_t k = 0; k < i; k++)
	    if (strcmp(st->msgs[k].base, st->msgs[i].base) == 0)
		abort();
	if ((fd = store_msg_open(st, st->msgs[i].uid, &err)) >= 0)
	    close(fd);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *index;
    store_t *st;
    const char *err;
    int fd;

    if (sync_dir == NULL)
	sync_setup();
    index = mr_format("%s/%s", sync_dir, STORE_INDEX_NAME);
    fd = open(index, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write_all(fd, data, len) < 0)
	abort();
    close(fd);
    if (store_open(sync_dir, &st, &err) == 0) {
	check_store(st);
	store_close(&st);
    }
    mr_free(index);
    return 0;
}
