/*
 * store_quota.c - Maildir++ quota: the "maildirsize" file at the top of a
 * user's Maildir.
 *
 * The file's first line gives the limits ("BYTESS,COUNTC"; 0 is no
 * limit), each further line a change "BYTES COUNT" (negative to remove);
 * their sum is the usage of every folder of the Maildir. A sync of any
 * folder appends one line for the messages it numbered and forgot (one
 * write with O_APPEND, whole or not at all), so the usage is what the
 * folders' indexes hold: a message counts from the first sync that sees
 * it. The file is recalculated (written whole under a temporary name,
 * then renamed) from every folder's index when it is missing, does not
 * parse, sums to less than nothing, has grown past 5120 bytes (the
 * Maildir++ rule), names other limits than mailbox_quota and
 * mailbox_quota_messages, or after a folder's index was rebuilt.
 * Weak spot (shared with every Maildir++ implementation): a line
 * appended by another folder's session while a recalculation is renaming
 * its new file is lost until the next recalculation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "store/store_int.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"

#define QUOTA_FILE "maildirsize"
#define QUOTA_MAX_FILE 5120 /* bigger: recalculate */

/* quota_limits_text - the first line for the configured limits, or for
 * the file's own when none are configured (as Dovecot does) */
static char *quota_limits_text(const store_quota_t *file)
{
    long long bytes = var_mailbox_quota, count = var_mailbox_quota_messages;

    if (bytes == 0 && count == 0 && file) {
	bytes = file->limit_bytes;
	count = file->limit_count;
    }
    return mr_format("%lldS,%lldC", bytes, count);
}

/* quota_parse_limits - "NS,NC" (either part may be missing); 0 or -1 */
static int quota_parse_limits(char *line, store_quota_t *q)
{
    q->limit_bytes = q->limit_count = 0;
    for (char *part; (part = next_token(&line, ",")) != 0;) {
	char *end;
	long long v = strtoll(part, &end, 10);

	if (end == part || v < 0 || end[1] != 0)
	    return -1;
	if (*end == 'S')
	    q->limit_bytes = v;
	else if (*end == 'C')
	    q->limit_count = v;
	else
	    return -1;
    }
    return 0;
}

/* store_quota_parse - see store_int.h */
int store_quota_parse(char *text, store_quota_t *q)
{
    char *rest = split_at(text, '\n');
    char *want;
    int ret;

    memset(q, 0, sizeof(*q));
    if (rest == 0 || quota_parse_limits(text, q) < 0)
	return -1;
    for (char *line = rest; *line; line = rest) {
	long long b, c;
	int used = 0;

	if ((rest = split_at(line, '\n')) == 0 || sscanf(line, "%lld %lld%n", &b, &c, &used) != 2 ||
	    line[used] != 0)
	    return -1;
	/* a sum that overflows is a broken file, recalculated like any other */
	if (__builtin_add_overflow(q->bytes, b, &q->bytes) ||
	    __builtin_add_overflow(q->count, c, &q->count))
	    return -1;
    }
    want = quota_limits_text(q);
    ret = q->bytes < 0 || q->count < 0 ? -1 : 0;
    if (var_mailbox_quota || var_mailbox_quota_messages) {
	store_quota_t conf;
	char *copy = mr_strdup(want);

	if (quota_parse_limits(copy, &conf) < 0 || conf.limit_bytes != q->limit_bytes ||
	    conf.limit_count != q->limit_count)
	    ret = -1;
	mr_free(copy);
    }
    mr_free(want);
    return ret;
}

/* quota_read - the maildirsize of root into q; 1 good, 0 missing or
 * stale (q has the limits if they parsed), -1 error */
static int quota_read(const char *root, store_quota_t *q)
{
    char *path = mr_format("%s/%s", root, QUOTA_FILE);
    char buf[QUOTA_MAX_FILE + 1];
    const char *err;
    int fd = safe_open(path, O_RDONLY, 0, (uid_t)-1, &err);
    ssize_t n = 0, r;

    mr_free(path);
    memset(q, 0, sizeof(*q));
    if (fd < 0)
	return errno == ENOENT ? 0 : -1;
    while (n < QUOTA_MAX_FILE + 1 && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
	n += r;
    close(fd);
    if (n > QUOTA_MAX_FILE || memchr(buf, 0, (size_t)n))
	return 0;
    buf[n] = 0;
    return store_quota_parse(buf, q) == 0;
}

/* msgs_usage - add the messages of an index to q */
static void msgs_usage(const store_t *st, store_quota_t *q)
{
    for (size_t i = 0; i < st->count; i++)
	q->bytes += st->msgs[i].size;
    q->count += (long long)st->count;
}

/* folder_usage - add the messages in the index of folder dir to q (from
 * st's memory when dir is st's own) */
static void folder_usage(const store_t *st, const char *dir, store_quota_t *q)
{
    char *path = mr_format("%s/%s", dir, STORE_INDEX_NAME);
    const char *err;
    store_t tmp = {0};
    str_t *s;
    size_t end;
    char buf[65536];
    ssize_t n;
    int fd;

    if (strcmp(dir, st->dir) == 0) {
	mr_free(path);
	msgs_usage(st, q);
	return;
    }
    fd = safe_open(path, O_RDONLY, 0, (uid_t)-1, &err);
    mr_free(path);
    if (fd < 0)
	return; /* never opened: counted at its first sync */
    s = str_new(sizeof(buf));
    while ((n = read(fd, buf, sizeof(buf))) > 0 &&
	   str_len(s) < (size_t)STORE_MAX_MESSAGES * (STORE_MAX_NAME + 120))
	str_append(s, buf, (size_t)n);
    close(fd);
    if (store_index_parse(&tmp, str_data(s), str_len(s), &end) == 0)
	msgs_usage(&tmp, q);
    store_index_clear(&tmp);
    str_free(&s);
}

/* quota_sum - usage of every folder of root */
static void quota_sum(const store_t *st, store_quota_t *q)
{
    DIR *d = opendir(st->root);
    struct dirent *de;

    q->bytes = q->count = 0;
    folder_usage(st, st->root, q);
    if (d == 0)
	return;
    while ((de = readdir(d)) != 0) {
	if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
	    continue;
	char *dir = mr_format("%s/%s", st->root, de->d_name);
	struct stat sb;

	if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
	    folder_usage(st, dir, q);
	mr_free(dir);
    }
    closedir(d);
}

/* quota_recalc - write maildirsize afresh from every folder's index */
static int quota_recalc(const store_t *st, store_quota_t *q, const char **error_r)
{
    char *tmp = mr_format("%s/%s.%ld.tmp", st->root, QUOTA_FILE, (long)getpid());
    char *path = mr_format("%s/%s", st->root, QUOTA_FILE);
    char *limits = quota_limits_text(q), *copy = mr_strdup(limits);
    char *text;
    int ret;

    quota_sum(st, q);
    (void)quota_parse_limits(copy, q);
    mr_free(copy);
    text = mr_format("%s\n%lld %lld\n", limits, q->bytes, q->count);
    ret = store_replace_file(path, tmp, text, strlen(text), error_r);
    mr_free(tmp);
    mr_free(path);
    mr_free(limits);
    mr_free(text);
    return ret;
}

/* quota_append - add one change line; 0 ok, -1 error */
static int quota_append(const store_t *st, const char **error_r)
{
    char *path = mr_format("%s/%s", st->root, QUOTA_FILE);
    char *line = mr_format("%lld %ld\n", st->quota_bytes, st->quota_count);
    int fd = safe_open(path, O_WRONLY | O_APPEND | SAFE_OPEN_MAY_EXIST, 0600, (uid_t)-1, error_r);
    int ret = fd < 0 || write_all(fd, line, strlen(line)) < 0 ? -1 : 0;

    if (ret < 0)
	store_fail(error_r, "append to %s: %s", path, errno);
    if (fd >= 0)
	close(fd);
    mr_free(path);
    mr_free(line);
    return ret;
}

/* store_quota_apply - see store_int.h */
void store_quota_apply(store_t *st)
{
    store_quota_t q;
    const char *err;
    int r;

    if (st->root == 0 || (!st->rebuilt && st->quota_bytes == 0 && st->quota_count == 0))
	return;
    r = quota_read(st->root, &q);
    if (r > 0 && !st->rebuilt)
	r = quota_append(st, &err);
    else
	r = quota_recalc(st, &q, &err);
    if (r < 0)
	msg_warn("store %s: quota: %s", st->dir, err);
    st->quota_bytes = 0;
    st->quota_count = 0;
}

/* store_quota - see store.h */
int store_quota(store_t *st, store_quota_t *q, const char **error_r)
{
    int r;

    memset(q, 0, sizeof(*q));
    if (st->root == 0)
	return store_fail(error_r, "quota of %s: %s", st->mbox, EOPNOTSUPP);
    if (store_lock(st, error_r) < 0)
	return -1;
    r = quota_read(st->root, q);
    if (r == 0)
	r = quota_recalc(st, q, error_r);
    store_unlock(st);
    if (r < 0 && errno != ENOENT)
	return store_fail(error_r, "read %s/" QUOTA_FILE ": %s", st->root, errno);
    return r < 0 ? -1 : 0;
}
