/*
 * qmgr - the queue manager: moves mail from incoming/ to active/, decides
 * where each recipient goes, hands deliveries to the agents, and retries,
 * expires or removes each message.
 *
 * Wake-ups: bytes on public/qmgr (queue/mail_trigger.h): cleanup names
 * the message it has just committed (TRIGGER_WAKEUP + queue ID), and that
 * file alone is taken, if it is there and marked ready, without a scan of
 * incoming/ (whose reservations would cost a stat each, per message); a
 * plain TRIGGER_WAKEUP (mailroom-queue, or anything that does not parse)
 * and the master.conf wakeup timer scan all of incoming/;
 * TRIGGER_FLUSH (mailroom-queue -f) also takes all of deferred/, which is
 * otherwise scanned every queue_run_delay. A trigger is only a hint: a
 * lost one only delays mail until the next scan, and a named wake-up
 * brings a scan of incoming/ within a second (QMGR_CATCHUP_MS; wake-ups
 * are lost when qmgr falls behind accepting them). Files left in incoming/
 * because the active queue was full are taken by a scan as soon as an
 * eighth of it is free again.
 *
 * The life of a message (all state changes are renames):
 *   incoming/ -> active/      when the in-memory active queue has room
 *                             (qmgr_message_active_limit; the rest waits
 *                             on disk, so memory stays bounded). The
 *                             rename is not fsync'd: a crash that undoes
 *                             it leaves the file in incoming/, where it
 *                             is taken again, as restart recovery would
 *                             from active/ (docs/decisions.md)
 *   active/   -> (removed)    every recipient done; bounce notice first
 *   active/   -> deferred/    some recipient deferred; the file's mtime
 *                             is the time of the next attempt
 *   deferred/ -> active/      when due, or at once on TRIGGER_FLUSH
 *   active/   -> corrupt/     the file does not parse or fails its seal
 *                             (here, or at an agent: corrupt=1 in its reply)
 * A recipient is marked done in the queue file by the agent (or by qmgr
 * when it bounces one itself) before anyone acts on it, so after a crash
 * of qmgr or an agent a recipient marked done is never delivered again
 * and one not marked is delivered again (a duplicate at worst, never a
 * loss).
 *
 * Flow control (global/mail_flow.h, qmgr_flow.c): qmgr keeps master's
 * token pipe topped up to in_flow_limit less the messages taken from
 * incoming/ that are still in memory (each for at most
 * in_flow_hold_time), at start and whenever one lets go. cleanup takes a
 * token per message from smtpd or pickup and waits for one at most
 * in_flow_delay, so when delivery falls behind intake the wait moves
 * into the client's transaction instead of the queue (a message's delay
 * after its 250 stays about in_flow_limit messages' delivery time), and
 * a stalled qmgr slows intake to one in_flow_delay per message, never
 * stops it.
 *
 * Restart recovery: at start qmgr moves every file left in active/ back
 * to incoming/ and takes them up again from there.
 *
 * Trust: queue files come from cleanup and are parsed by the checking
 * reader; agents' replies are checked by deliver_reply_decode (bounded,
 * anything odd counts as deferred). A delivery agent cannot make qmgr
 * remove a recipient it did not mark done itself in the file.
 *
 * Runs as mail_owner (master.conf: unpriv y), one process (maxproc 1),
 * long-lived on the event server skeleton in trigger mode; chrooted into
 * queue_directory in the shipped master.conf (transport_maps is opened
 * before the privilege drop; agents are reached under private/).
 *
 * Parameters: queue_directory, qmgr_message_active_limit,
 * queue_run_delay, minimal_backoff_time, maximal_backoff_time,
 * maximal_queue_lifetime, bounce_queue_lifetime, delay_warning_time,
 * transport_maps, local_transport, virtual_transport, relay_transport,
 * default_transport, relayhost, mydestination, virtual_mailbox_domains,
 * relay_domains, default_process_limit (and master.conf maxproc),
 * initial_destination_concurrency, default_destination_concurrency_limit,
 * default_destination_recipient_limit (and TRANSPORT_destination_
 * concurrency_limit, TRANSPORT_destination_recipient_limit for local,
 * smtp and lmtp), delivery_time_limit,
 * bounce_notice_recipient, double_bounce_sender, bounce_size_limit,
 * hash_queue_names, hash_queue_depth, ipc_timeout, in_flow_delay,
 * in_flow_limit, in_flow_hold_time.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "queue/mail_trigger.h"
#include "queue/qfile.h"
#include "queue/resolve.h"
#include "util/event.h"
#include "util/msg.h"
#include "qmgr.h"

int qmgr_active_count;

static long long qmgr_last_deferred_scan;
static int qmgr_incoming_left;   /* incoming/ has files that found no room */
static int qmgr_refill_pending;  /* a scan for them is on the timer */
static int qmgr_catchup_pending; /* a scan after named wake-ups is */

#define QMGR_CATCHUP_MS 1000 /* most time from a named wake-up to a scan */

/* qmgr_now - wall-clock seconds */
long qmgr_now(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long)tv.tv_sec;
}

/* qmgr_active_limit - qmgr_message_active_limit */
static long qmgr_active_limit(void)
{
    return config_int("qmgr_message_active_limit", 1, 10000000);
}

/* qmgr_room - may another message come into memory? */
static int qmgr_room(void)
{
    return qmgr_active_count < qmgr_active_limit();
}

/* qmgr_take - move one file into active/ and load it */
static void qmgr_take(const char *queue, const char *id)
{
    int incoming = strcmp(queue, MAIL_QUEUE_INCOMING) == 0;
    qmgr_message_t *msg;
    const char *why;

    if (qmgr_message_find(id) != NULL)
	return; /* requeued while still in memory */
    if ((incoming ? qfile_move_unsynced(id, queue, MAIL_QUEUE_ACTIVE, &why)
		  : qfile_move(id, queue, MAIL_QUEUE_ACTIVE, &why)) < 0) {
	if (errno != ENOENT)
	    msg_warn("%s: %s", id, why);
	return;
    }
    qmgr_message_load(id);
    if (incoming && (msg = qmgr_message_find(id)) != NULL)
	qmgr_flow_hold(msg);
}

/* qmgr_due - is the deferred file's next attempt due? */
static int qmgr_due(const char *id, long now)
{
    str_t *path = str_new(100);
    struct stat st;
    int due;

    due = stat(qfile_abspath(path, MAIL_QUEUE_DEFERRED, id), &st) == 0 && st.st_mtime <= now;
    str_free(&path);
    return due;
}

/* qmgr_scan - take files from queue while there is room; in deferred/
 * only those due (all with flush) */
static void qmgr_scan(const char *queue, int flush)
{
    char id[QID_BUFSIZE];
    const char *why;
    long now = qmgr_now();
    int deferred = strcmp(queue, MAIL_QUEUE_DEFERRED) == 0;
    qscan_t *qs;

    if (!deferred)
	qmgr_incoming_left = 0;
    if (!qmgr_room()) {
	qmgr_incoming_left |= !deferred;
	return;
    }
    if ((qs = qscan_open(queue, &why)) == NULL) {
	msg_warn("%s: %s", queue, why);
	return;
    }
    while (qscan_next(qs, id) > 0) {
	if (!qmgr_room()) {
	    qmgr_incoming_left |= !deferred;
	    break;
	}
	if (!deferred || flush || qmgr_due(id, now))
	    qmgr_take(queue, id);
    }
    qscan_close(&qs);
}

/* qmgr_take_named - a wake-up named this file in incoming/: take it if it
 * is there and ready (the name comes from anyone who may write to
 * public/qmgr, so a reservation is left alone like in a scan) */
static void qmgr_take_named(const char *id)
{
    str_t *path;
    struct stat st;
    int ready;

    if (!qmgr_room()) {
	qmgr_incoming_left = 1;
	return;
    }
    path = str_new(100);
    ready = lstat(qfile_abspath(path, MAIL_QUEUE_INCOMING, id), &st) == 0 && qfile_ready(&st);
    str_free(&path);
    if (ready)
	qmgr_take(MAIL_QUEUE_INCOMING, id);
}

/* qmgr_refill - timer: take what waited in incoming/ for room */
static void qmgr_refill(int unused_fd, int event, void *context)
{
    qmgr_refill_pending = 0;
    qmgr_trigger_scan();
}

/* qmgr_catchup - timer: a scan for files whose wake-up was lost */
static void qmgr_catchup(int unused_fd, int event, void *context)
{
    qmgr_catchup_pending = 0;
    qmgr_trigger_scan();
}

/* qmgr_catchup_arm - a scan within QMGR_CATCHUP_MS, unless one is due */
static void qmgr_catchup_arm(void)
{
    if (!qmgr_catchup_pending) {
	qmgr_catchup_pending = 1;
	event_request_timer(qmgr_catchup, NULL, QMGR_CATCHUP_MS);
    }
}

/* qmgr_room_made - a message left memory: once an eighth of the active
 * queue is free, scan for the files that found no room (one scan per
 * batch, not per message, however long incoming/ is) */
void qmgr_room_made(void)
{
    long limit = qmgr_active_limit();
    long batch = limit / 8 > 1 ? limit / 8 : 1;

    if (qmgr_incoming_left && !qmgr_refill_pending && limit - qmgr_active_count >= batch) {
	qmgr_refill_pending = 1;
	event_request_timer(qmgr_refill, NULL, 0);
    }
}

/* qmgr_flush_all - TRIGGER_FLUSH: everything deferred is due now */
static void qmgr_flush_all(void)
{
    qmgr_scan(MAIL_QUEUE_DEFERRED, 1);
    qmgr_last_deferred_scan = event_now_ms();
}

/* qmgr_trigger - a wake-up (bytes from a client) or a timer tick (len 0):
 * named files are taken at once; anything else asks for a scan */
static void qmgr_trigger(const char *buf, size_t len, const char *service)
{
    long long delay_ms = config_time("queue_run_delay") * 1000LL;
    char id[QID_BUFSIZE];
    int flush = 0, scan = (len == 0), req;
    size_t pos = 0;

    while ((req = mail_trigger_next(buf, len, &pos, id)) >= 0) {
	if (req == TRIGGER_FLUSH)
	    flush = 1;
	else if (req == TRIGGER_WAKEUP && *id) {
	    qmgr_take_named(id);
	    qmgr_catchup_arm();
	} else
	    scan = 1;
    }
    if (flush)
	qmgr_flush_all();
    else if (event_now_ms() - qmgr_last_deferred_scan >= delay_ms) {
	qmgr_scan(MAIL_QUEUE_DEFERRED, 0);
	qmgr_last_deferred_scan = event_now_ms();
    }
    if (scan || flush)
	qmgr_scan(MAIL_QUEUE_INCOMING, 0);
    qmgr_sched_run();
}

/* qmgr_trigger_scan - incoming/ and dispatch, outside a wake-up */
void qmgr_trigger_scan(void)
{
    qmgr_scan(MAIL_QUEUE_INCOMING, 0);
    qmgr_sched_run();
}

/* qmgr_recover - files left in active/ by an earlier qmgr go back to
 * incoming/ and are taken up again from there */
static void qmgr_recover(void)
{
    char id[QID_BUFSIZE];
    const char *why;
    qscan_t *qs;
    int n = 0;

    if ((qs = qscan_open(MAIL_QUEUE_ACTIVE, &why)) == NULL)
	return;
    while (qscan_next(qs, id) > 0)
	if (qfile_move(id, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_INCOMING, &why) == 0)
	    n++;
	else
	    msg_warn("%s: %s", id, why);
    qscan_close(&qs);
    if (n)
	msg_info("%d message%s left in active/ taken up again", n, n == 1 ? "" : "s");
}

/* qmgr_deferred_tick - scan deferred/ every queue_run_delay even without
 * wake-ups (the master.conf wakeup column may be longer) */
static void qmgr_deferred_tick(int unused_fd, int event, void *context)
{
    qmgr_trigger("", 0, "");
    event_request_timer(qmgr_deferred_tick, NULL, config_time("queue_run_delay") * 1000L);
}

/* qmgr_pre_init - open transport_maps while privileged */
static void qmgr_pre_init(const char *service)
{
    const char *why;

    if (resolve_init(&why) < 0)
	msg_warn("%s: recipients are deferred until it can be opened", why);
    qmgr_sched_init();
}

/* qmgr_post_init - restart recovery, periodic scans */
static void qmgr_post_init(const char *service)
{
    signal(SIGPIPE, SIG_IGN);
    qmgr_unlink_init();
    qmgr_recover();
    qmgr_flow_refill();
    qmgr_last_deferred_scan = event_now_ms() - config_time("queue_run_delay") * 1000LL;
    event_request_timer(qmgr_deferred_tick, NULL, config_time("queue_run_delay") * 1000L);
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.pre_init = qmgr_pre_init,
	.post_init = qmgr_post_init,
	.trigger = qmgr_trigger,
	.long_lived = 1,
    };

    return event_server_main(argc, argv, &params);
}
