/*
 * qshow.h - the queue listing shared by mailroom-queue (for users who can
 * read the queue) and the showq daemon (for everyone else), so the two
 * cannot differ. The showq protocol names are in global/mail_proto.h.
 */
#ifndef MR_QSHOW_H
#define MR_QSHOW_H

#include "util/stream.h"

/* Queues that hold messages, in the order the listing shows them */
extern const char *const qshow_queues[];

/* qshow_queue_missing - 1 if the queue directory does not exist */
int qshow_queue_missing(const char *queue);

/* qshow_open - open the queue file abspath of queue (NULL: a file
 * outside the queue, read as a queue file) read-only with the reader's
 * checks; a maildrop file with postdrop's rules and limits. QFILE_* */
struct qfile;
int qshow_open(const char *abspath, const char *queue, struct qfile **qf_r, const char **error_r);

/* qshow_list - write the listing of every message to out (json: the -j
 * form) and flush it. Problems with single files are logged (msg_warn)
 * and the listing goes on. Returns 0, EX_NOPERM if a queue could not be
 * read, or EX_IOERR if out could not be written. */
int qshow_list(stream_t *out, int json);

#endif
