/*
 * local - final delivery to local users and virtual mailboxes.
 *
 * qmgr connects to private/local and sends one delivery request
 * (docs/delivery.md): a message in active/ and the recipients to deliver;
 * or a batch of such requests, one per message, for one destination
 * (local_service below: their Maildir names are flushed once).
 * For each recipient local works out where the mail goes - aliases
 * (alias_maps, with :include:), the user's .forward, the mailbox
 * (home_mailbox: a Maildir by default, or an mbox in
 * mail_spool_directory), a "|command", a "/file", a virtual mailbox
 * (virtual_mailbox_domains, virtual_mailbox_maps), or another address
 * (forwarded through cleanup) - delivers, and reports each recipient
 * sent, bounced or deferred through the delivery library, which marks
 * the recipient done in the queue file (or writes the bounce/defer log)
 * before the reply. Logs "ID: to=<rcpt>, relay=local, delay=...,
 * delays=..., dsn=2.0.0, status=sent (delivered to maildir)".
 *
 * Every copy gets "Return-Path: <sender>" and "Delivered-To: rcpt" in
 * front of the content as queued; a message that already carries
 * "Delivered-To: rcpt" is bounced (5.4.6, mail forwarding loop). A
 * Maildir copy is fsync'd in tmp/, renamed into new/ and new/ fsync'd
 * before success is reported, so a crash never loses a message that was
 * reported delivered, and a recipient marked done is never delivered
 * again (at worst one not yet marked is delivered twice).
 *
 * Trust: the request comes from qmgr and is checked by the delivery
 * library (bounded, offsets verified against the queue file, which must
 * belong to mail_owner). Message content is untrusted data: it is copied,
 * never interpreted, except the header scan for Delivered-To. Alias
 * tables and mailroom.conf are trusted (root's). .forward and :include:
 * files are trusted only as far as their owner: read as that user, and
 * their commands and files run as that user.
 *
 * Privileges: local keeps root (master.conf: unprivileged n) only to
 * become each recipient: every delivery step runs in a child that drops
 * to the recipient's (or the list owner's) uid and gid for good
 * (local_user.c argues why a child rather than effective ids). Root
 * itself only opens tables, the spool directory's mbox and its dot-lock
 * (through a directory descriptor, O_NOFOLLOW, owner checked), and the
 * queue file. Not chrooted (it needs home directories and the passwd
 * database). Not started as root, everything runs as the invoking user.
 *
 * Parameters: alias_maps, home_mailbox, mail_spool_directory,
 * recipient_delimiter, mydestination, virtual_mailbox_domains,
 * virtual_mailbox_maps, virtual_mailbox_base, virtual_uid_maps,
 * virtual_gid_maps, virtual_uid, virtual_gid, virtual_minimum_uid,
 * allow_mail_to_commands, allow_mail_to_files, command_time_limit,
 * default_privs, deliver_lock_attempts, deliver_lock_delay,
 * stale_lock_time, local_child_idle_time, local_child_time_limit; see
 * docs/local.md.
 */
#include "global/config.h"
#include "local.h"
#include "master/mail_server.h"
#include "queue/deliver_request.h"
#include "queue/qfile.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define LOCAL_LINE_PIECE (64 * 1024)

/* local_qf_line - content reader over the queue file */
static int local_qf_line(void *ctx, str_t *line, int *complete_r, const char **error_r)
{
    return qfile_line(ctx, line, LOCAL_LINE_PIECE, complete_r, error_r);
}

/* local_qf_rewind - start the content again */
static void local_qf_rewind(void *ctx)
{
    qfile_rewind(ctx);
}

/* local_report - hand one outcome to the delivery library */
static void local_report(deliver_request_t *req, size_t i, const local_result_t *r)
{
    switch (r->status) {
    case LOCAL_SENT:
	deliver_sent(req, i, "local", r->dsn, "%s", r->text);
	break;
    case LOCAL_BOUNCE:
	deliver_bounced(req, i, "local", r->dsn, "%s", r->text);
	break;
    default:
	deliver_deferred(req, i, "local", r->dsn, "%s", r->text);
	break;
    }
}

/* One request of a batch and its outcomes, reported after the flush. */
typedef struct local_job {
    deliver_request_t *req;
    local_result_t *results; /* per recipient */
    unsigned long *held;     /* per recipient: its held delivery's number, or 0 */
} local_job_t;

/* local_run_request - deliver (or verify) every recipient of a request;
 * an outcome is reported at once, unless its Maildir flush is held: then
 * it waits in job */
static void local_run_request(deliver_request_t *req, local_job_t *job)
{
    local_body_t body = {NULL, 0};
    const char *err;
    local_msg_t msg;

    job->req = req;
    job->results = mr_calloc(req->rcpt_count, sizeof(*job->results));
    job->held = mr_calloc(req->rcpt_count, sizeof(*job->held));
    msg.queue_id = req->queue_id;
    msg.sender = req->sender;
    msg.arrival = (long)req->arrival_time;
    msg.line = local_qf_line;
    msg.rewind = local_qf_rewind;
    msg.ctx = req->qf;
    msg.envid = req->envid;
    msg.ret = req->ret;
    msg.body = req->qf->attrs ? attr_get(req->qf->attrs, "body") : NULL;
    msg.qf = req->qf;
    msg.text = NULL;
    /* the content read once; a read error shows again where it is read */
    if (!(req->flags & DELIVER_FLAG_VERIFY) &&
	req->qf->file_size - req->qf->content_offset <= LOCAL_BODY_MAX &&
	local_body_load(&body, &msg, LOCAL_BODY_MAX, &err) == 1) {
	msg.line = local_body_line;
	msg.rewind = local_body_rewind;
	msg.ctx = &body;
	msg.text = body.text;
    }
    for (size_t i = 0; i < req->rcpt_count; i++) {
	const deliver_rcpt_t *rc = req->rcpts + i;
	unsigned long held = local_keep_held();

	if (req->flags & DELIVER_FLAG_VERIFY)
	    local_verify(rc->address, job->results + i);
	else
	    local_deliver(&msg, rc->address, (long long)rc->offset, rc->orcpt, rc->notify,
			  job->results + i);
	if ((job->held[i] = local_keep_held() != held ? local_keep_held() : 0) == 0)
	    local_report(req, i, job->results + i);
    }
    if (body.text)
	str_free(&body.text);
}

/* local_finish - after the flush: report each held recipient with what
 * its delivery came to (deferred if the flush failed), reply, free */
static void local_finish(stream_t *client, local_job_t *job, int flushed, const char *why)
{
    deliver_request_t *req = job->req;
    const local_result_t *o;

    for (size_t i = 0; i < req->rcpt_count; i++) {
	local_result_t *r = job->results + i;

	if (!job->held[i])
	    continue;
	if ((o = local_keep_outcome(job->held[i])) != NULL)
	    local_result_merge(r, o);
	if ((!flushed || o == NULL) && r->status == LOCAL_SENT)
	    local_result_set(r, LOCAL_DEFER, "4.3.0", "maildir delivery not made durable: %s",
			     flushed ? "delivery process gave no answer" : why);
	local_report(req, i, r);
    }
    deliver_request_done(client, &job->req);
    mr_free(job->results);
    mr_free(job->held);
}

/*
 * local_service - one delivery request, or a batch of them (several
 * messages for one destination, deliver_request.h). In a batch the kept
 * Maildir child writes every file (tmp/, fsync, rename into new/) and
 * holds the fsync of new/; local_keep_flush then makes all the names
 * durable at once, and only then is a held recipient reported (marked
 * done in its queue file); any other outcome is durable when it is known
 * and is reported at once. A crash before the reports leaves every held
 * recipient of the batch unmarked: qmgr counts them deferred (the
 * connection was lost) and delivers them again, a duplicate where the
 * name had reached the disk, never a loss. A flush that fails, or a
 * child that dies with unflushed names, defers every held recipient.
 */
static void local_service(stream_t *client, const char *service)
{
    local_job_t jobs[DELIVER_MAX_BATCH];
    deliver_request_t *req;
    size_t n = 0;
    const char *why = "";
    int flushed, r, more;

    /* every request of a batch first, so that qmgr never waits to write
     * one; one refused (answered at once) does not end the batch */
    r = deliver_request_read(client, &req);
    for (size_t reads = 1;; reads++) {
	if (r == 1)
	    jobs[n++].req = req;
	more = r == 1 ? req->more : r == DELIVER_REFUSED_MORE;
	if (!more || reads >= DELIVER_MAX_BATCH)
	    break;
	r = deliver_request_next(client, &req);
    }
    if (n == 0)
	return;
    /* the queue files are locked now; a qmgr that died before may have
     * let its successor take them up first (deliver_request.h) */
    if (deliver_request_client_gone(client)) {
	msg_warn("%s: qmgr went away before the delivery: %zu request(s) left to the next one",
		 jobs[0].req->queue_id, n);
	for (size_t k = 0; k < n; k++)
	    deliver_request_abandon(&jobs[k].req);
	return;
    }
    local_resolve_refresh();
    local_keep_group(n > 1);
    for (size_t k = 0; k < n; k++)
	local_run_request(jobs[k].req, jobs + k);
    flushed = local_keep_flush(&why) == 0;
    local_keep_group(0);
    for (size_t k = 0; k < n; k++)
	local_finish(client, jobs + k, flushed, why);
}

/* local_pre_init - open the tables while we may read anything */
static void local_pre_init(const char *service)
{
    local_resolve_init();
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.pre_init = local_pre_init,
	.service = local_service,
	.pre_exit = local_keep_end,
	.keep_root = 1,
    };

    return single_server_main(argc, argv, &params);
}
