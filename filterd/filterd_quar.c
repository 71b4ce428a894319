/*
 * filterd_quar.c - filterd's quarantine: a message filterd keeps instead
 * of passing it, as a queue-format file (lib/queue/record.h: envelope,
 * attributes with the verdict, content, END) in
 * filterd_quarantine_directory, named by a queue ID.
 *
 * Commit sequence, and what a crash at each step costs:
 *   1. records into ".tPID.ID" (O_EXCL, 0600): a crash leaves a temp
 *      file that no reader takes for a message (the name is no queue ID);
 *      the client has no answer and sends again.
 *   2. fchmod 0700 (the ready bit, as in every queue), fsync: the data is
 *      on disk under the temp name; a crash: as 1.
 *   3. link to the ID, unlink the temp name (never replacing a file):
 *      a crash before the directory fsync may lose the name; the client
 *      still has no answer: as 1.
 *   4. fsync the directory: from here the file survives a crash, and
 *      only then does the worker answer 250.
 * A message can thus be quarantined twice (a crash between 4 and the
 * answer), never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "filterd.h"
#include "global/config.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/stream.h"

#define QUAR_PIECE 4096 /* content bytes per record */

/* quar_envelope - sender, the recipients, the attributes */
static void quar_envelope(stream_t *s, const filter_msg_t *m, const size_t *idx, size_t n,
			  const char *reason, const char *client)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    (void)rec_putf(s, REC_TYPE_TIME, "%ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
    (void)rec_puts(s, REC_TYPE_SENDER, m->sender);
    for (size_t k = 0; k < n; k++) {
	const filter_rcpt_t *r = &m->rcpts[idx[k]];

	(void)rec_puts(s, REC_TYPE_RCPT, r->address);
	if (r->orcpt)
	    (void)rec_puts(s, REC_TYPE_ORCPT, r->orcpt);
	if (r->notify)
	    (void)rec_puts(s, REC_TYPE_NOTIFY, r->notify);
    }
    (void)rec_putf(s, REC_TYPE_ATTR, "quarantine_reason=%s", reason);
    (void)rec_putf(s, REC_TYPE_ATTR, "client_addr=%s", client);
    (void)rec_putf(s, REC_TYPE_ATTR, "filter_id=%s", m->id);
    if (m->envid)
	(void)rec_putf(s, REC_TYPE_ATTR, "envid=%s", m->envid);
    if (m->ret)
	(void)rec_putf(s, REC_TYPE_ATTR, "ret=%s", m->ret);
    if (m->eightbit)
	(void)rec_puts(s, REC_TYPE_ATTR, "body=8bitmime");
    if (m->smtputf8)
	(void)rec_puts(s, REC_TYPE_ATTR, "smtputf8=1");
}

/* quar_content - the spool file as content records; 0 or -1 */
static int quar_content(stream_t *s, int spool_fd)
{
    stream_t *in;
    str_t *piece = str_new(QUAR_PIECE + 2);
    int r, ret = 0;
    size_t n;

    if (lseek(spool_fd, 0, SEEK_SET) < 0)
	return -1;
    in = stream_open(dup(spool_fd));
    (void)rec_put(s, REC_TYPE_MESG, "", 0);
    while ((r = stream_read_line(in, piece, QUAR_PIECE)) == STREAM_LINE || r == STREAM_PARTIAL) {
	n = str_len(piece);
	if (r == STREAM_LINE && n > 0 && str_data(piece)[n - 1] == '\n')
	    n -= n > 1 && str_data(piece)[n - 2] == '\r' ? 2 : 1;
	(void)rec_put(s, r == STREAM_LINE ? REC_TYPE_NORM : REC_TYPE_CONT, str_data(piece), n);
	str_reset(piece);
    }
    ret = r == STREAM_ERROR ? -1 : 0;
    (void)rec_put(s, REC_TYPE_END, "", 0);
    (void)stream_close(&in);
    str_free(&piece);
    return ret;
}

/* quar_commit - steps 2 to 4 of the sequence above: 0 or -1 (errno) */
static int quar_commit(int fd, const char *dir, const char *tmp, const char *final)
{
    if (fchmod(fd, 0700) < 0 || fsync(fd) < 0)
	return -1;
    if (link(tmp, final) < 0)
	return -1;
    (void)unlink(tmp);
    return fsync_dir(dir);
}

/* filter_quarantine - see filterd.h */
int filter_quarantine(const filter_msg_t *m, const size_t *idx, size_t n, const char *reason,
		      const char *client, char *id_r, const char **error_r)
{
    const char *dir = config_str("filterd_quarantine_directory");
    str_t *tmp = str_new(128), *final = str_new(128);
    struct stat st;
    stream_t *s;
    int fd, ret = -1;

    str_printf(tmp, "%s/.t%ld.%s", dir, (long)getpid(), m->id);
    if ((fd = open(str_data(tmp), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	fstat(fd, &st) < 0) {
	msg_warn("%s: create %s: %m", m->id, str_data(tmp));
	*error_r = "cannot create the quarantine file";
	goto out;
    }
    qid_new(id_r, (unsigned long)st.st_ino);
    str_printf(final, "%s/%s", dir, id_r);
    s = stream_open(dup(fd));
    quar_envelope(s, m, idx, n, reason, client);
    if (quar_content(s, m->fd) < 0 || stream_flush(s) < 0 || stream_error(s)) {
	*error_r = "cannot write the quarantine file";
	msg_warn("%s: write %s: %m", m->id, str_data(tmp));
    } else if (quar_commit(fd, dir, str_data(tmp), str_data(final)) < 0) {
	*error_r = "cannot commit the quarantine file";
	msg_warn("%s: commit %s: %m", m->id, str_data(final));
    } else {
	ret = 0;
    }
    (void)stream_close(&s);
    if (ret < 0)
	(void)unlink(str_data(tmp));
out:
    if (fd >= 0)
	(void)close(fd);
    str_free(&tmp);
    str_free(&final);
    return ret;
}
