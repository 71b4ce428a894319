/*
 * qfile_read.c - reading a queue file: envelope, content, done marks.
 *
 * qfile_open walks the whole file once: the envelope is kept, the
 * content is only checked (types, CONT followed by CONT or NORM, END
 * last, nothing after END), and every record is summed on the way for
 * the END record's seal (queue/qfile.h: the file's ID and the CRC-32C of
 * every byte before END, a DONE type byte counted as RCPT); the sum at
 * MESG is kept, so the content reader checks the seal again at END
 * without reading the envelope. A file that fails any check is QFILE_CORRUPT
 * so that the caller moves it to corrupt/ instead of half-delivering it.
 * A file without the ready bit (a reservation, or one still being
 * written) is QFILE_MISSING: for a reader it is not there yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/qenv.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"

typedef struct qfile_walk {
    qfile_t *qf;
    qenv_t check; /* the envelope validator */
    off_t offset;
    uint32_t sum; /* of the records so far (rec_sum) */
    const char *error;
    int status;
} qfile_walk_t;

static char qfile_read_err[300];

/* qfile_corrupt - record a format problem at the current offset */
static int qfile_corrupt(qfile_walk_t *w, const char *why)
{
    snprintf(qfile_read_err, sizeof(qfile_read_err), "%s at offset %lld", why,
	     (long long)w->offset);
    w->error = qfile_read_err;
    w->status = QFILE_CORRUPT;
    return -1;
}

/* qfile_time - "SECONDS.MICROSECONDS" */
static int qfile_time(qfile_t *qf, const char *v)
{
    char *end;

    errno = 0;
    qf->arrival_sec = strtol(v, &end, 10);
    if (end == v || *end != '.' || errno || qf->arrival_sec < 0)
	return -1;
    v = end + 1;
    qf->arrival_usec = strtol(v, &end, 10);
    return (end == v || *end || qf->arrival_usec < 0 || qf->arrival_usec > 999999) ? -1 : 0;
}

/* qfile_size - decimal, leading zeros allowed */
static int qfile_size(qfile_t *qf, const char *v)
{
    char *end;

    if (*v < '0' || *v > '9')
	return -1;
    errno = 0;
    qf->size = strtoll(v, &end, 10);
    return (*end || errno) ? -1 : 0;
}

/* qfile_add_rcpt - remember a RCPT or DONE record */
static void qfile_add_rcpt(qfile_t *qf, const char *addr, int done, off_t offset)
{
    qfile_rcpt_t *r;

    qf->rcpts = mr_reallocarray(qf->rcpts, qf->rcpt_count + 1, sizeof(*qf->rcpts));
    r = qf->rcpts + qf->rcpt_count++;
    memset(r, 0, sizeof(*r));
    r->address = mr_strdup(addr);
    r->done = done;
    r->offset = offset;
}

/* qfile_attr - "name=value" (the validator checked the name) */
static void qfile_attr(qfile_t *qf, const char *v)
{
    const char *eq = strchr(v, '=');
    char *name = mr_strndup(v, (size_t)(eq - v));

    attr_add(qf->attrs, name, eq + 1);
    mr_free(name);
}

/* qfile_store - keep one envelope record the validator accepted */
static int qfile_store(qfile_walk_t *w, int type, const char *v)
{
    qfile_t *qf = w->qf;

    switch (type) {
    case REC_TYPE_TIME:
	return qfile_time(qf, v) < 0 ? qfile_corrupt(w, "bad time record") : 0;
    case REC_TYPE_SIZE:
	return qfile_size(qf, v) < 0 ? qfile_corrupt(w, "bad size record") : 0;
    case REC_TYPE_SENDER:
	qf->sender = mr_strdup(v);
	return 0;
    case REC_TYPE_RCPT:
    case REC_TYPE_DONE:
	qfile_add_rcpt(qf, v, type == REC_TYPE_DONE, w->offset);
	return 0;
    case REC_TYPE_ORCPT:
	qf->rcpts[qf->rcpt_count - 1].orcpt = mr_strdup(v);
	return 0;
    case REC_TYPE_NOTIFY:
	qf->rcpts[qf->rcpt_count - 1].notify = mr_strdup(v);
	return 0;
    case REC_TYPE_ATTR:
	qfile_attr(qf, v);
	return 0;
    default:
	return 0;
    }
}

/* qfile_seal_check - END's seal against the walk's sum and the name;
 * an empty END is legacy (unverified). 0 ok, -1 corrupt */
static int qfile_seal_check(qfile_walk_t *w, const str_t *value)
{
    qfile_t *qf = w->qf;
    char id[QID_BUFSIZE];
    uint32_t sum;
    int st = qfile_seal_parse(str_data(value), str_len(value), id, &sum);

    if (st < 0)
	return qfile_corrupt(w, "malformed end record");
    if (st == 0)
	return 0;
    if (qf->id[0] != 0 && strcmp(id, qf->id) != 0)
	return qfile_corrupt(w, "the end record names another queue ID than the file");
    if (sum != w->sum)
	return qfile_corrupt(w, "the content does not match the checksum of its end record");
    qf->seal.sealed = 1;
    qf->seal.sum = sum;
    return 0;
}

/* qfile_walk_record - one record the validator accepted */
static int qfile_walk_record(qfile_walk_t *w, int type, const str_t *value)
{
    if (type == REC_TYPE_END)
	return qfile_seal_check(w, value);
    w->sum = rec_sum(w->sum, type, str_data(value), str_len(value));
    if (type == REC_TYPE_MESG) {
	w->qf->content_offset = w->offset + (off_t)rec_wire_size(0);
	w->qf->seal.content_sum = w->sum;
	return 0;
    }
    return qfile_store(w, type, str_data(value));
}

/* qfile_walk - read every record until END or the first problem; the
 * validator stops the walk at its limits, so a hostile file costs no
 * more than they allow. 0 ok, -1 with w->status/w->error */
static int qfile_walk(qfile_walk_t *w, stream_t *s)
{
    str_t *value = str_new(256);
    const char *why;
    int type = 0, verdict, ret = 0;

    while (ret == 0 && !qenv_complete(&w->check) && (type = rec_get(s, value, &why)) > 0) {
	verdict = qenv_record(&w->check, type, str_data(value), str_len(value));
	if (verdict == QENV_REFUSE)
	    ret = qfile_corrupt(w, w->check.error);
	else if (verdict == QENV_KEEP)
	    ret = qfile_walk_record(w, type, value);
	else
	    w->sum = rec_sum(w->sum, type, str_data(value), str_len(value));
	w->offset += rec_wire_size(str_len(value));
    }
    if (ret == 0 && qenv_complete(&w->check) && (type = rec_get(s, value, &why)) != 0)
	ret = qfile_corrupt(w, type > 0 ? "data after end record" : why);
    if (ret == 0 && type < 0) {
	if (stream_error(s)) {
	    snprintf(qfile_read_err, sizeof(qfile_read_err), "%s", why);
	    w->error = qfile_read_err;
	    w->status = QFILE_ERROR;
	    ret = -1;
	} else
	    ret = qfile_corrupt(w, why);
    }
    if (ret == 0 && qenv_end(&w->check) < 0)
	ret = qfile_corrupt(w, w->check.error);
    str_free(&value);
    return ret;
}

/* qfile_new - an empty qfile_t */
static qfile_t *qfile_new(int fd, const char *name)
{
    qfile_t *qf = mr_calloc(1, sizeof(*qf));
    const char *base = strrchr(name, '/');

    base = base ? base + 1 : name;
    if (qid_valid(base))
	mr_strlcpy(qf->id, base, sizeof(qf->id));
    qf->fd = fd;
    qf->size = -1;
    qf->attrs = attr_list_new();
    return qf;
}

/* qfile_other_id - does the file record a queue ID other than its name?
 * (a name a power loss left on a recycled file: qfile_recycle.c) */
static int qfile_other_id(const qfile_t *qf)
{
    const char *recorded = attr_get(qf->attrs, QFILE_ID_ATTR);

    return recorded != NULL && qf->id[0] != 0 && strcmp(recorded, qf->id) != 0;
}

/* qfile_parse - parse an open file with the validator of source */
static int qfile_parse(int fd, const char *name, int source, const qenv_limits_t *limits,
		       qfile_t **qf_r, const char **error_r)
{
    qfile_walk_t w = {0};
    struct stat st;
    stream_t *s;

    w.qf = qfile_new(fd, name);
    qenv_init(&w.check, source, limits);
    if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
	snprintf(qfile_read_err, sizeof(qfile_read_err), "%s: %s", name, strerror(errno));
	*error_r = qfile_read_err;
	qfile_close(&w.qf);
	return QFILE_ERROR;
    }
    if (!qfile_ready(&st)) {
	snprintf(qfile_read_err, sizeof(qfile_read_err), "%s: not ready", name);
	*error_r = qfile_read_err;
	qfile_close(&w.qf);
	return QFILE_MISSING;
    }
    w.qf->file_size = st.st_size;
    w.qf->owner = st.st_uid;
    if (limits && limits->size > 0 && st.st_size > limits->size) {
	/* over the limit whatever it holds: not worth reading */
	*error_r = "message too large (file size)";
	qfile_close(&w.qf);
	return QFILE_CORRUPT;
    }
    s = stream_open_file(fd);
    (void)qfile_walk(&w, s);
    (void)stream_release(&s);
    if (w.status == 0 && qfile_other_id(w.qf))
	w.status = QFILE_CORRUPT, w.error = "the file records another queue ID than its name";
    if (w.status != 0) {
	*error_r = w.error;
	qfile_close(&w.qf);
	return w.status;
    }
    *qf_r = w.qf;
    return QFILE_OK;
}

/* qfile_open_fd - parse an open queue file */
int qfile_open_fd(int fd, const char *name, int writable, qfile_t **qf_r, const char **error_r)
{
    (void)writable;
    return qfile_parse(fd, name, QENV_QUEUE, NULL, qf_r, error_r);
}

/* qfile_records_own_name - is the file at abspath (which has more than
 * one link) a complete queue file that records its own name? After a
 * power loss a recycled file may keep its old name beside its new one
 * (docs/queue.md, "Recycled queue files"); the old name is the one to set
 * aside, whichever of the two a reader meets first. */
static int qfile_records_own_name(const char *abspath)
{
    const char *recorded, *why;
    qfile_t *qf = NULL;
    struct stat st;
    int fd, own;

    if ((fd = open(abspath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
	return 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
	(void)close(fd);
	return 0;
    }
    if (qfile_parse(fd, abspath, QENV_QUEUE, NULL, &qf, &why) != QFILE_OK)
	return 0;
    recorded = attr_get(qf->attrs, QFILE_ID_ATTR);
    own = recorded != NULL && qf->id[0] != 0 && strcmp(recorded, qf->id) == 0;
    qfile_close(&qf);
    return own;
}

/* qfile_safe_open - safe_open; QFILE_OK with *fd_r, or its refusal
 * as a QFILE_* status */
static int qfile_safe_open(const char *abspath, int writable, int *fd_r, const char **error_r)
{
    int flags = writable ? O_RDWR : O_RDONLY;

    if ((*fd_r = safe_open(abspath, flags, 0, (uid_t)-1, error_r)) >= 0)
	return QFILE_OK;
    if (errno == ENOENT)
	return QFILE_MISSING;
    if (errno == EMLINK && qfile_records_own_name(abspath)) {
	snprintf(qfile_read_err, sizeof(qfile_read_err),
		 "%s: another name links to this file; it waits until that one is set aside",
		 abspath);
	*error_r = qfile_read_err;
	return QFILE_ERROR;
    }
    /* a FIFO, device, directory, link, or hard-linked file: never ours */
    if (errno == ELOOP || errno == EFTYPE_SAFE || errno == EMLINK)
	return QFILE_CORRUPT;
    return QFILE_ERROR;
}

/* qfile_open - safe_open, then parse */
int qfile_open(const char *abspath, int writable, qfile_t **qf_r, const char **error_r)
{
    int fd, st;

    if ((st = qfile_safe_open(abspath, writable, &fd, error_r)) != QFILE_OK)
	return st;
    return qfile_open_fd(fd, abspath, writable, qf_r, error_r);
}

/* qfile_open_from - qfile_open with the rules and limits of a source */
int qfile_open_from(const char *abspath, int source, const qenv_limits_t *limits, qfile_t **qf_r,
		    const char **error_r)
{
    int fd, st;

    if ((st = qfile_safe_open(abspath, 0, &fd, error_r)) != QFILE_OK)
	return st;
    return qfile_parse(fd, abspath, source, limits, qf_r, error_r);
}

/* qfile_content_start - a fresh stream at the first content record */
static int qfile_content_start(qfile_t *qf, const char **error_r)
{
    int fd;

    if (qf->content)
	return 0;
    if ((fd = dup(qf->fd)) < 0 || lseek(fd, qf->content_offset, SEEK_SET) < 0) {
	snprintf(qfile_read_err, sizeof(qfile_read_err), "seek: %s", strerror(errno));
	*error_r = qfile_read_err;
	if (fd >= 0)
	    close(fd);
	return -1;
    }
    qf->content = stream_open_file(fd);
    qf->run_sum = qf->seal.content_sum;
    return 0;
}

/* qfile_line_end - END: does the content add up to the seal? 0, -1 */
static int qfile_line_end(qfile_t *qf, const char **error_r)
{
    if (!qf->seal.sealed || qf->run_sum == qf->seal.sum)
	return 0;
    qf->damaged = 1;
    *error_r = "queue file corrupt: the content does not match the checksum of its end record";
    return -1;
}

/* qfile_line - next content line, CONT pieces joined up to max */
int qfile_line(qfile_t *qf, str_t *line, size_t max, int *complete_r, const char **error_r)
{
    str_t *piece = str_new(256);
    int type, ret = -1;

    str_reset(line);
    if (qfile_content_start(qf, error_r) < 0) {
	str_free(&piece);
	return -1;
    }
    while ((type = rec_get(qf->content, piece, error_r)) > 0) {
	if (type == REC_TYPE_END && str_len(line) == 0) {
	    ret = qfile_line_end(qf, error_r);
	    break;
	}
	if (type != REC_TYPE_NORM && type != REC_TYPE_CONT) {
	    *error_r = "unexpected record in content";
	    break;
	}
	qf->run_sum = rec_sum(qf->run_sum, type, str_data(piece), str_len(piece));
	str_append(line, str_data(piece), str_len(piece));
	*complete_r = (type == REC_TYPE_NORM);
	if (type == REC_TYPE_NORM || str_len(line) >= max) {
	    ret = 1;
	    break;
	}
    }
    if (type == 0)
	*error_r = "missing end record";
    str_free(&piece);
    return ret;
}

/* qfile_rewind - drop the content reader; the next read starts over */
void qfile_rewind(qfile_t *qf)
{
    if (qf->content)
	stream_close(&qf->content);
}

/*
 * qfile_rcpt_done - rewrite the recipient's type byte, without a flush.
 * Callers make what the mark stands for durable first (the Maildir file
 * and its name, the bounce log record), so a mark on disk always means
 * the delivery is. Once pwrite returns the byte is in the kernel's page
 * cache: a kill -9 of this process, of qmgr or of master cannot lose it,
 * so after such a crash the recipient is never delivered again. Only a
 * power loss or a kernel crash can lose a mark that was not written out
 * yet, and then the recipient is delivered again: a duplicate, never a
 * loss (docs/decisions.md; Postfix's done mark is not flushed either).
 */
int qfile_rcpt_done(qfile_t *qf, size_t i, const char **error_r)
{
    char type = REC_TYPE_DONE;

    if (i >= qf->rcpt_count)
	msg_panic("qfile_rcpt_done: index %zu out of range", i);
    if (pwrite(qf->fd, &type, 1, qf->rcpts[i].offset) != 1) {
	snprintf(qfile_read_err, sizeof(qfile_read_err), "mark recipient done: %s",
		 strerror(errno));
	*error_r = qfile_read_err;
	return -1;
    }
    qf->rcpts[i].done = 1;
    return 0;
}

/* qfile_close - close and free */
void qfile_close(qfile_t **qfp)
{
    qfile_t *qf = *qfp;

    if (qf == NULL)
	return;
    for (size_t i = 0; i < qf->rcpt_count; i++) {
	mr_free(qf->rcpts[i].address);
	mr_free(qf->rcpts[i].orcpt);
	mr_free(qf->rcpts[i].notify);
    }
    mr_free(qf->rcpts);
    mr_free(qf->sender);
    attr_list_free(&qf->attrs);
    if (qf->content)
	stream_close(&qf->content);
    if (qf->fd >= 0)
	close(qf->fd);
    mr_free(qf);
    *qfp = NULL;
}
