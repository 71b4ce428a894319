/*
 * store_keywords.c - IMAP keywords of a Maildir: the letters a-z in the
 * file names, named by the mailbox's "dovecot-keywords" file.
 *
 * The file is Dovecot's: one line per keyword, "N NAME", where N (0-25)
 * is the letter 'a' + N. Lines that do not parse are ignored when read
 * (a name we cannot use is simply not offered). It is replaced the way
 * Dovecot replaces it: the new text is written into the dot-lock file
 * "dovecot-keywords.lock" (created with O_EXCL, so a Dovecot process that
 * shares the Maildir waits for us and we for it), fsync'd, and renamed
 * over the old file. Letters are only ever added: a name once given keeps
 * its letter, so a file name never changes meaning.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"

#define KEYWORDS_LOCK_TRIES 50  /* 100 ms apart */
#define KEYWORDS_LOCK_STALE 120 /* seconds: a dot-lock older than this is left over */
#define KEYWORDS_MAX_FILE 16384 /* a longer file is read only this far */

/* store_keyword_ok - see store.h */
int store_keyword_ok(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > STORE_MAX_KEYWORD_LEN)
	return 0;
    for (const char *cp = name; *cp; cp++)
	if (*cp <= 0x20 || *cp >= 0x7f || strchr("(){%*\"\\]", *cp))
	    return 0;
    return 1;
}

/* keywords_clear - forget every name */
static void keywords_clear(store_t *st)
{
    for (int i = 0; i < STORE_MAX_KEYWORDS; i++) {
	mr_free(st->keywords[i]);
	st->keywords[i] = NULL;
    }
}

/* keywords_line - take one "N NAME" line */
static void keywords_line(store_t *st, char *line)
{
    char *num = next_token(&line, " "), *end;
    long n;

    if (num == 0 || line == 0 || *num < '0' || *num > '9')
	return;
    n = strtol(num, &end, 10);
    if (*end || n >= STORE_MAX_KEYWORDS || !store_keyword_ok(line) || st->keywords[n])
	return;
    st->keywords[n] = mr_strdup(line);
}

/* store_keywords_load - see store_int.h */
void store_keywords_load(store_t *st)
{
    char *path = store_path(st, STORE_KEYWORDS_NAME, NULL);
    char buf[KEYWORDS_MAX_FILE + 1], *cut;
    const char *err;
    int fd = safe_open(path, O_RDONLY, 0, (uid_t)-1, &err);
    ssize_t n = 0, r;

    keywords_clear(st);
    mr_free(path);
    if (fd < 0)
	return;
    while (n < KEYWORDS_MAX_FILE && (r = read(fd, buf + n, KEYWORDS_MAX_FILE - n)) > 0)
	n += r;
    close(fd);
    buf[n] = 0;
    if (n == KEYWORDS_MAX_FILE && (cut = strrchr(buf, '\n')) != 0)
	cut[1] = 0; /* the last line was cut by our bound */
    store_keywords_parse(st, buf);
}

/* store_keywords_parse - see store_int.h */
void store_keywords_parse(store_t *st, char *text)
{
    for (char *line = text, *rest; line && *line; line = rest) {
	rest = split_at(line, '\n');
	keywords_line(st, line);
    }
}

/* keywords_lock - create the dot-lock, removing a stale one; fd or -1 */
static int keywords_lock(const char *lock, const char **error_r)
{
    struct stat sb;
    int fd;

    for (int i = 0; i < KEYWORDS_LOCK_TRIES; i++) {
	if ((fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) >= 0)
	    return fd;
	if (errno != EEXIST)
	    break;
	if (lstat(lock, &sb) == 0 && sb.st_mtime + KEYWORDS_LOCK_STALE < time(NULL)) {
	    msg_warn("store: removing stale lock %s", lock);
	    (void)unlink(lock);
	    continue;
	}
	(void)nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    return store_fail(error_r, "lock %s: %s", lock, errno == EEXIST ? EAGAIN : errno);
}

/* keywords_write - replace dovecot-keywords with st->keywords */
static int keywords_write(store_t *st, const char **error_r)
{
    char *lock = store_path(st, STORE_KEYWORDS_NAME ".lock", NULL);
    char *path = store_path(st, STORE_KEYWORDS_NAME, NULL);
    str_t *text = str_new(256);
    int fd, ret = -1;

    for (int i = 0; i < STORE_MAX_KEYWORDS; i++)
	if (st->keywords[i])
	    str_appendf(text, "%d %s\n", i, st->keywords[i]);
    if ((fd = keywords_lock(lock, error_r)) >= 0) {
	if (write_all(fd, str_data(text), str_len(text)) < 0 || fsync(fd) < 0 ||
	    rename(lock, path) < 0) {
	    store_fail(error_r, "write %s: %s", path, errno);
	    (void)unlink(lock);
	} else {
	    ret = fsync_dir(path) < 0 ? store_fail(error_r, "fsync %s: %s", path, errno) : 0;
	}
	close(fd);
    }
    mr_free(lock);
    mr_free(path);
    str_free(&text);
    return ret;
}

/* keyword_find - the letter of name in st->keywords, or 0 */
static int keyword_find(const store_t *st, const char *name)
{
    for (int i = 0; i < STORE_MAX_KEYWORDS; i++)
	if (st->keywords[i] && mr_strcaseeq(st->keywords[i], name))
	    return 'a' + i;
    return 0;
}

/* keyword_create - give name the first free letter; under the lock */
static int keyword_create(store_t *st, const char *name, const char **error_r)
{
    int letter;

    store_keywords_load(st); /* another session may have added it */
    if ((letter = keyword_find(st, name)) != 0)
	return letter;
    for (int i = 0; i < STORE_MAX_KEYWORDS; i++) {
	if (st->keywords[i])
	    continue;
	st->keywords[i] = mr_strdup(name);
	if (keywords_write(st, error_r) < 0) {
	    store_keywords_load(st);
	    return -1;
	}
	return 'a' + i;
    }
    return store_fail(error_r, "keywords of %s: %s", st->dir, ENOSPC);
}

/* store_keyword - see store.h */
int store_keyword(store_t *st, const char *name, int create, const char **error_r)
{
    int letter;

    if (!store_keyword_ok(name))
	return store_fail(error_r, "keyword %s: %s", "name", EINVAL);
    if ((letter = keyword_find(st, name)) != 0 || !create)
	return letter;
    if (st->mbox)
	return store_fail(error_r, "keyword in %s: %s", st->mbox, EROFS);
    if (store_lock(st, error_r) < 0)
	return -1;
    letter = keyword_create(st, name, error_r);
    store_unlock(st);
    return letter;
}
