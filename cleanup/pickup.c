/*
 * pickup - move locally submitted mail from maildrop/ into the queue.
 *
 * The postdrop helper (used by sendmail) writes each message as a file
 * in maildrop/ in the queue-file format (lib/queue/record.h): envelope
 * (TIME, SENDER, RCPT with ORCPT/NOTIFY, ATTR), MESG, content, END. It
 * commits it with qfile_create/qfile_commit, so the name is a queue ID
 * and appears only when complete, and then wakes pickup with one byte on
 * public/pickup. pickup also scans maildrop/ every `wakeup` seconds
 * (master.conf), so a lost wake-up only delays mail.
 *
 * For each file pickup checks the whole file (qfile_open_from with the
 * envelope validator's QENV_USER rules and postdrop's limits), hands it to
 * cleanup with CLEANUP_FLAG_LOCAL, and deletes it only after cleanup
 * answered 0, so a crash at any point leaves the message in maildrop/ (a
 * duplicate at worst). A malformed file is moved to corrupt/ and logged,
 * never dropped silently. A file that cleanup refuses for good (too big,
 * no valid recipient) is moved to corrupt/ as well, with the reason.
 * After a temporary failure the scan stops and is retried later.
 *
 * Trust: maildrop files come from unprivileged local users and are
 * untrusted: a user can write one by hand, without postdrop. They are
 * opened without following links and without blocking (a FIFO named like
 * a queue ID must not hang the scan) and must be regular files with one
 * link, else they are moved to corrupt/ (so the warning comes once per
 * file, not once per scan). Every record goes through the validator
 * postdrop uses (lib/queue/qenv.h), with the same limits:
 * message_size_limit for all records together and smtpd_recipient_limit
 * for the recipients, checked while reading, so a hostile file costs at
 * most that much time and memory. Only the attributes a user may set
 * (fullname envid ret body) are passed on (a user must not claim a
 * client address or an authenticated name); the file owner's uid is
 * logged and recorded as attribute uid.
 *
 * Runs as mail_owner (master.conf: unpriv y), chrooted into
 * queue_directory in the shipped master.conf (it reads only the queue).
 * Logs "ID: uid=N from=<sender> orig_id=MAILDROP_ID" with cleanup's
 * queue ID: the maildrop ID is the one sendmail -v printed.
 *
 * Parameters: queue_directory, hash_queue_names, hash_queue_depth,
 * ipc_timeout, message_size_limit, smtpd_recipient_limit.
 */
#include <stdio.h>
#include <string.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "queue/cleanup_client.h"
#include "queue/qenv.h"
#include "queue/qfile.h"
#include "util/msg.h"
#include "util/str.h"

#define PICKUP_LINE_PIECE (64 * 1024)

#define PICKUP_DONE 0     /* delivered to cleanup, or set aside */
#define PICKUP_RETRY (-1) /* temporary trouble: stop this scan */

/* pickup_set_aside - move a file we cannot take to corrupt/ */
static int pickup_set_aside(const char *id, const char *what, const char *why)
{
    const char *err;

    if (qfile_move(id, MAIL_QUEUE_MAILDROP, MAIL_QUEUE_CORRUPT, &err) < 0) {
	msg_warn("%s: %s (%s); cannot move to corrupt: %s", id, what, why, err);
	return PICKUP_RETRY;
    }
    msg_warn("%s: %s (%s) moved to corrupt", id, what, why);
    return PICKUP_DONE;
}

/* pickup_send - envelope and content to cleanup; -1 on a read error */
static int pickup_send(cleanup_client_t *cc, qfile_t *qf, const char **why_r)
{
    str_t *line = str_new(256);
    int complete, ret;
    char uid[32];

    snprintf(uid, sizeof(uid), "%ld", (long)qf->owner);
    cleanup_attr(cc, "uid", uid);
    /* only what qenv lets a user set is left in attrs */
    for (size_t i = 0; i < qf->attrs->count; i++)
	cleanup_attr(cc, qf->attrs->items[i].name, qf->attrs->items[i].value);
    cleanup_sender(cc, qf->sender);
    for (size_t i = 0; i < qf->rcpt_count; i++)
	cleanup_rcpt(cc, qf->rcpts[i].address, qf->rcpts[i].orcpt, qf->rcpts[i].notify);
    while ((ret = qfile_line(qf, line, PICKUP_LINE_PIECE, &complete, why_r)) > 0 &&
	   !cleanup_error(cc))
	cleanup_line(cc, str_data(line), str_len(line), complete);
    str_free(&line);
    return ret < 0 ? -1 : 0;
}

/* pickup_verdict - act on cleanup's answer */
static int pickup_verdict(const char *id, int status, const char *reason)
{
    const char *err;

    if (status == CLEANUP_STAT_OK) {
	if (qfile_remove(MAIL_QUEUE_MAILDROP, id, &err) < 0)
	    msg_warn("%s: %s", id, err);
	return PICKUP_DONE;
    }
    if (status == CLEANUP_STAT_TEMP) {
	msg_warn("%s: cleanup failed, will retry: %s", id, reason);
	return PICKUP_RETRY;
    }
    return pickup_set_aside(id, "maildrop file refused by cleanup", reason);
}

/* pickup_deliver - one parsed maildrop file to cleanup */
static int pickup_deliver(const char *id, qfile_t *qf)
{
    cleanup_client_t *cc;
    str_t *reason;
    const char *why;
    int status;

    if ((cc = cleanup_open(CLEANUP_FLAG_LOCAL | cleanup_flow_flag(), &why)) == NULL) {
	msg_warn("%s: cannot connect to cleanup service: %s", id, why);
	return PICKUP_RETRY;
    }
    msg_info("%s: uid=%ld from=<%s> orig_id=%s", cleanup_queue_id(cc), (long)qf->owner, qf->sender,
	     id);
    if (pickup_send(cc, qf, &why) < 0) {
	cleanup_abort(&cc);
	return pickup_set_aside(id, "malformed maildrop file", why);
    }
    reason = str_new(100);
    status = cleanup_finish(&cc, reason);
    status = pickup_verdict(id, status, str_data(reason));
    str_free(&reason);
    return status;
}

/* pickup_file - one maildrop file */
static int pickup_file(const char *id)
{
    str_t *path = str_new(100);
    qfile_t *qf = NULL;
    qenv_limits_t limits;
    const char *why;
    int ret;

    /* postdrop's limits, plus the two records postdrop adds itself */
    qenv_local_limits(&limits);
    if (limits.size > 0)
	limits.size += QENV_POSTDROP_STAMPS;
    ret = qfile_open_from(qfile_abspath(path, MAIL_QUEUE_MAILDROP, id), QENV_USER, &limits, &qf,
			  &why);
    str_free(&path);
    switch (ret) {
    case QFILE_MISSING:
	return PICKUP_DONE;
    case QFILE_ERROR:
	msg_warn("%s: cannot read maildrop file: %s", id, why);
	return PICKUP_DONE;
    case QFILE_CORRUPT:
	return pickup_set_aside(id, "malformed maildrop file", why);
    }
    ret = pickup_deliver(id, qf);
    qfile_close(&qf);
    return ret;
}

/* pickup_trigger - scan maildrop/ until done or a temporary failure */
static void pickup_trigger(const char *buf, size_t len, const char *service)
{
    const char *why;
    char id[QID_BUFSIZE];
    qscan_t *qs;

    if (len == 0)
	qfile_sweep_temps(MAIL_QUEUE_MAILDROP);
    if ((qs = qscan_open(MAIL_QUEUE_MAILDROP, &why)) == NULL) {
	msg_warn("%s: %s", MAIL_QUEUE_MAILDROP, why);
	return;
    }
    while (qscan_next(qs, id))
	if (pickup_file(id) == PICKUP_RETRY)
	    break;
    qscan_close(&qs);
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.trigger = pickup_trigger,
    };

    return trigger_server_main(argc, argv, &params);
}
