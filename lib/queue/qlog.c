/*
 * qlog.c - appending to and reading the bounce/ and defer/ logs (format
 * and guarantees in qlog.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "queue/qfile.h"
#include "queue/qlog.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/privs.h"
#include "util/safe_open.h"
#include "util/str.h"
#include "util/stream.h"

static char qlog_err[600];

/* qlog_fail - error text into static storage, -1 */
static int qlog_fail(const char **error_r, const char *what, const char *path)
{
    snprintf(qlog_err, sizeof(qlog_err), "%s %s: %s", what, path, strerror(errno));
    *error_r = qlog_err;
    return -1;
}

/* qlog_format - one record as name=value lines and the empty line */
void qlog_format(str_t *out, const qlog_entry_t *e)
{
    attr_list_t *l = attr_list_new();

    attr_add(l, MAIL_ATTR_RCPT, e->rcpt);
    attr_add(l, MAIL_ATTR_ORCPT, e->orcpt ? e->orcpt : "");
    attr_add(l, MAIL_ATTR_NOTIFY, e->notify ? e->notify : "");
    attr_addf(l, MAIL_ATTR_OFFSET, "%lld", e->offset);
    attr_add(l, MAIL_ATTR_DSN, e->dsn ? e->dsn : "");
    attr_add(l, MAIL_ATTR_ACTION, e->action ? e->action : "");
    attr_add(l, MAIL_ATTR_REASON, e->reason ? e->reason : "");
    attr_add(l, MAIL_ATTR_RELAY, e->relay ? e->relay : "");
    attr_addf(l, MAIL_ATTR_TIME, "%ld", e->time);
    str_reset(out);
    attr_format(out, l);
    attr_list_free(&l);
}

/*
 * qlog_owner_ids - as root (local), work as mail_owner until restore:
 * effective uid, gid and supplementary groups (privs_as_user), so that a
 * link the mail owner planted in bounce/ or defer/ (a hash directory
 * replaced by a link) reaches nothing the mail owner could not reach
 * itself, not even through root's groups. Not root, nothing to do.
 * Returns 0 or -1.
 */
static int qlog_owner_ids(int restore)
{
    uid_t uid;
    gid_t gid;

    if (restore) {
	privs_as_root();
	return 0;
    }
    if (geteuid() != 0)
	return 0;
    if (privs_lookup(config_str("mail_owner"), &uid, &gid) < 0) {
	errno = ENOENT;
	return -1;
    }
    privs_as_user(uid, gid);
    return 0;
}

/* qlog_open_append - open (creating with its hash dirs) for appending */
static int qlog_open_append(const char *path, const char **error_r)
{
    int flags = O_WRONLY | O_APPEND | O_CREAT | SAFE_OPEN_MAY_EXIST;
    int fd = safe_open(path, flags, 0600, (uid_t)-1, error_r);

    if (fd < 0 && errno == ENOENT && qfile_mkdirs(path) == 0)
	fd = safe_open(path, flags, 0600, (uid_t)-1, error_r);
    return fd;
}

/* qlog_append - one record, one write */
int qlog_append(const char *queue, const char *id, const qlog_entry_t *e, int sync,
		const char **error_r)
{
    str_t *path = str_new(100), *rec = str_new(256);
    int fd, ret = -1;

    qfile_abspath(path, queue, id);
    qlog_format(rec, e);
    if (qlog_owner_ids(0) < 0) {
	qlog_fail(error_r, "switch to mail_owner to write", str_data(path));
    } else {
	if ((fd = qlog_open_append(str_data(path), error_r)) >= 0) {
	    if (write_all(fd, str_data(rec), str_len(rec)) < 0)
		qlog_fail(error_r, "write", str_data(path));
	    else if (sync && fsync(fd) < 0)
		qlog_fail(error_r, "fsync", str_data(path));
	    else
		ret = 0;
	    close(fd);
	}
	qlog_owner_ids(1);
    }
    str_free(&path);
    str_free(&rec);
    return ret;
}

/* qlog_field - a value or "" */
static const char *qlog_field(const attr_list_t *l, const char *name)
{
    const char *v = attr_get(l, name);

    return v ? v : "";
}

/* qlog_entry_from - point an entry at the values of one record */
static void qlog_entry_from(qlog_entry_t *e, const attr_list_t *l)
{
    e->rcpt = qlog_field(l, MAIL_ATTR_RCPT);
    e->orcpt = qlog_field(l, MAIL_ATTR_ORCPT);
    e->notify = qlog_field(l, MAIL_ATTR_NOTIFY);
    e->offset = attr_get_long(l, MAIL_ATTR_OFFSET, -1);
    e->dsn = qlog_field(l, MAIL_ATTR_DSN);
    e->action = qlog_field(l, MAIL_ATTR_ACTION);
    e->reason = qlog_field(l, MAIL_ATTR_REASON);
    e->relay = qlog_field(l, MAIL_ATTR_RELAY);
    e->time = attr_get_long(l, MAIL_ATTR_TIME, 0);
}

/* qlog_walk - each complete record in order */
long qlog_walk(const char *queue, const char *id, qlog_walk_fn fn, void *context,
	       const char **error_r)
{
    str_t *path = str_new(100);
    attr_list_t *l = attr_list_new();
    qlog_entry_t e;
    stream_t *s;
    long count = 0;
    int fd, r;

    qfile_abspath(path, queue, id);
    if ((fd = safe_open_read(str_data(path), error_r)) < 0) {
	count = errno == ENOENT ? 0 : -1;
	str_free(&path);
	attr_list_free(&l);
	return count;
    }
    s = stream_open(fd);
    while ((r = attr_read(s, l)) > 0 && count < QLOG_MAX_ENTRIES) {
	if (attr_get(l, MAIL_ATTR_RCPT) == NULL)
	    continue;
	count++;
	qlog_entry_from(&e, l);
	if (fn(&e, context) != 0)
	    break;
    }
    /* A record cut short at the end of the file is a writer that died
     * mid-write: ignored. Anything else that fails to parse is an error. */
    if (r < 0 && !stream_eof(s)) {
	snprintf(qlog_err, sizeof(qlog_err), "%s: malformed record", str_data(path));
	*error_r = qlog_err;
	count = -1;
    }
    stream_close(&s);
    attr_list_free(&l);
    str_free(&path);
    return count;
}

/* qlog_remove - unlink; missing is fine */
int qlog_remove(const char *queue, const char *id, const char **error_r)
{
    str_t *path = str_new(100);
    int ret = 0;

    qfile_abspath(path, queue, id);
    if (unlink(str_data(path)) < 0 && errno != ENOENT)
	ret = qlog_fail(error_r, "remove", str_data(path));
    str_free(&path);
    return ret;
}
