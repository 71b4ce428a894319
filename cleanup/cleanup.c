/*
 * cleanup - the only writer of new queue files.
 *
 * smtpd and pickup (and anything else that injects mail) connect to
 * private/cleanup and speak the protocol of lib/queue/cleanup_client.h:
 * cleanup creates a temporary file in incoming/, names the queue ID in its
 * handshake, reads the client's flags and then queue-file records
 * (envelope, MESG, content lines, END). It rewrites and expands the
 * recipients (cleanup_env.c), adds missing Message-ID:, Date: and, for
 * local submissions, From: headers (cleanup_msg.c), enforces
 * header_size_limit and message_size_limit, and commits the file (see the
 * sequence below). Only then does it answer {status=0, queue_id=ID}; on
 * any failure the temp file is removed and the answer is a non-zero
 * CLEANUP_STAT_* with a reason. It logs "ID: message-id=<...>".
 *
 * Flow control: a message from smtpd or pickup (CLEANUP_FLAG_FLOW) first
 * takes a token that qmgr hands out as it finishes messages, waiting for
 * one at most in_flow_delay (cleanup_flow_wait, docs/qmgr.md).
 *
 * Commit sequence (details and the crash argument in lib/queue/qfile.c
 * and qfile_pool.c): each message is written into a queue file reserved
 * ahead of use (incoming/H/ID, empty, locked by this process, not marked
 * ready; its name made durable with its batch by one directory fsync);
 * write END, sealed with the file's ID and a checksum of every byte
 * before it (the SIZE value as patched included; queue/qfile.h); patch
 * the fixed-width SIZE record (in the output buffer
 * when the message fits in it: one write for the whole file); flush and
 * write the file out to the device (sync_file_range); set the ready bit;
 * fsync the file (the one device flush of the message); answer; then
 * wake qmgr with a wake-up naming the message on public/qmgr, over a
 * connection kept from one message to the next. After answering, while no client waits, a
 * new batch of reservations is made when the last one is used up or
 * older than queue_reservation_max_age. A crash before the ready bit
 * leaves an invisible file and no answer (the client reports a temporary
 * failure); after it the file is complete, so qmgr may deliver it even if
 * the client never heard the answer (a duplicate at worst, never a loss).
 * A lost wake-up only waits for qmgr's next periodic scan. At start a
 * cleanup sweeps incoming/ and hold/ (qfile_sweep) if none did since
 * master started or for queue_sweep_interval; at exit it removes its
 * unused reservations. With queue_recycle_limit > 0 the reservations are
 * files qmgr emptied and put in recycle/ (a new one only when none is
 * there), and unused ones go back there (lib/queue/qfile_recycle.c); the
 * file's queue ID is also written into it (the queue_id attribute, which
 * a client cannot set), so that a reader can tell a stale name.
 *
 * Trust: clients are other Mailroom daemons, but their records are
 * checked as if hostile: every record is bounded (REC_MAX_LEN), types,
 * order and attribute names go through the envelope validator postdrop
 * and pickup use (lib/queue/qenv.h: QENV_LOCAL for pickup's local
 * submissions, which may set only the attributes a user may, plus uid;
 * QENV_DAEMON for the others), counts are limited, and malformed input
 * gets CLEANUP_STAT_BAD, never a crash or a half-written file.
 *
 * Runs as mail_owner (master.conf: unpriv y), chrooted into
 * queue_directory in the shipped master.conf; tables are opened before
 * the privilege drop. Stand-alone: cleanup -S
 * serves one client on fd 0.
 *
 * Parameters: queue_directory, myhostname, myorigin, mydestination,
 * recipient_delimiter, virtual_alias_maps, canonical_maps,
 * sender_canonical_maps, recipient_canonical_maps,
 * virtual_alias_recursion_limit, virtual_alias_expansion_limit,
 * header_size_limit, message_size_limit, hash_queue_names,
 * hash_queue_depth, ipc_timeout, smtpd_recipient_limit (local
 * submissions), queue_reservation_limit, queue_reservation_max_age,
 * queue_sweep_interval, in_flow_delay.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cleanup.h"
#include "global/config.h"
#include "global/mail_flow.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "queue/cleanup_client.h"
#include "queue/mail_trigger.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/attr.h"
#include "util/crc32c.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* cleanup_read_message - records until END. Returns 1 when an answer is
 * due (END seen, or a malformed record: CLEANUP_STAT_BAD), 0 when the
 * client went away (EOF or I/O error) and nobody is left to answer. */
static int cleanup_read_message(cleanup_state_t *cs, stream_t *client)
{
    str_t *value = str_new(256);
    const char *why = "";
    int type = 0, done = 0;

    while (!done && (type = rec_get(client, value, &why)) > 0)
	done = cleanup_record(cs, type, value);
    str_free(&value);
    if (done)
	return 1;
    if (type < 0 && !stream_error(client) && !stream_eof(client)) {
	cleanup_fail(cs, CLEANUP_STAT_BAD, "malformed record from client: %s", why);
	return 1;
    }
    if (type < 0)
	msg_warn("%s: lost connection with client: %s", cs->id, why);
    else if (msg_verbose)
	msg_info("%s: client closed the connection before end of message", cs->id);
    return 0;
}

/* cleanup_size_value - the SIZE value the commit patches in */
static void cleanup_size_value(char buf[CLEANUP_SIZE_WIDTH + 1], const cleanup_state_t *cs)
{
    snprintf(buf, CLEANUP_SIZE_WIDTH + 1, "%0*lld", CLEANUP_SIZE_WIDTH, cs->size);
}

/* cleanup_seal - END with the file's ID and the sum of every byte before
 * it: the SIZE record as the commit patches it, then the rest, summed as
 * it was written (queue/qfile.h, "Seal") */
static void cleanup_seal(cleanup_state_t *cs)
{
    char size[CLEANUP_SIZE_WIDTH + 1], seal[QFILE_SEAL_BUFSIZE];
    uint32_t head;

    cleanup_size_value(size, cs);
    head = rec_sum(0, REC_TYPE_SIZE, size, CLEANUP_SIZE_WIDTH);
    qfile_seal_format(seal, cs->qo->id, crc32c_combine(head, cs->sum, cs->sum_len));
    cleanup_write(cs, REC_TYPE_END, seal, QFILE_SEAL_LEN);
}

/* cleanup_patch_size - write the real content size into SIZE: in the
 * output buffer while the file's start is still there (a message that
 * fits in it goes to the file in one write), else with pwrite */
static int cleanup_patch_size(cleanup_state_t *cs)
{
    char buf[CLEANUP_SIZE_WIDTH + 1];

    cleanup_size_value(buf, cs);
    if (stream_patch_buffered(cs->qo->stream, cs->size_offset, buf, CLEANUP_SIZE_WIDTH) == 0)
	return 0;
    if (stream_flush(cs->qo->stream) < 0 ||
	pwrite(stream_fd(cs->qo->stream), buf, CLEANUP_SIZE_WIDTH, cs->size_offset) !=
	    CLEANUP_SIZE_WIDTH)
	return -1;
    return 0;
}

/* cleanup_wake_qmgr - after the answer (the client waits for it, not for
 * qmgr): a wake-up naming the message, so that qmgr takes this file
 * without scanning incoming/ (queue/mail_trigger.h), over a connection
 * kept from one message to the next. A lost wake-up only delays the
 * message until qmgr's next scan. */
static void cleanup_wake_qmgr(cleanup_state_t *cs)
{
    str_t *buf;
    const char *why;

    if (cs->status != 0 || (cs->flags & CLEANUP_FLAG_HOLD))
	return;
    buf = str_new(QID_BUFSIZE + 2);
    mail_trigger_named(buf, cs->id);
    if (mail_trigger_keep(MAIL_SOCK_QMGR, str_data(buf), str_len(buf), &why) < 0 && msg_verbose)
	msg_info("%s: qmgr wake-up not sent: %s", cs->id, why);
    str_free(&buf);
}

/* cleanup_commit - END, size, commit */
static void cleanup_commit(cleanup_state_t *cs)
{
    const char *why;

    cleanup_seal(cs);
    if (cs->status)
	return;
    if (cleanup_patch_size(cs) < 0) {
	msg_warn("%s: write queue file: %m", cs->id);
	cleanup_fail(cs, CLEANUP_STAT_TEMP, "queue file write error");
	return;
    }
    if (cs->flags & CLEANUP_FLAG_HOLD) {
	mr_free(cs->qo->queue);
	cs->qo->queue = mr_strdup(MAIL_QUEUE_HOLD);
    }
    if (qfile_commit(cs->qo, &why) < 0) {
	msg_warn("%s: %s", cs->id, why);
	cleanup_fail(cs, CLEANUP_STAT_TEMP, "queue file write error");
	return;
    }
}

/* cleanup_answer - the verdict for the client */
static void cleanup_answer(cleanup_state_t *cs, stream_t *client)
{
    char status[16];

    if (cs->status == CLEANUP_STAT_TEMP)
	msg_warn("%s: message not accepted: %s", cs->id, str_data(cs->reason));
    else if (cs->status)
	msg_info("%s: reject: %s", cs->id, str_data(cs->reason));
    snprintf(status, sizeof(status), "%d", cs->status);
    (void)attr_send(client, MAIL_ATTR_STATUS, status, MAIL_ATTR_QUEUE_ID, cs->id, MAIL_ATTR_REASON,
		    str_data(cs->reason), (char *)0);
}

/* cleanup_read_flags - the client's {flags=N}; -1 if it went away. They
 * come with the message's first records, never right after the
 * handshake: wait for them rather than try a read first. */
static int cleanup_read_flags(stream_t *client, int *flags_r)
{
    attr_list_t *l = attr_list_new();
    int ret = stream_wait_input(client) == 1 && attr_read(client, l) == 1 ? 0 : -1;

    *flags_r = (int)attr_get_long(l, MAIL_ATTR_FLAGS, 0);
    attr_list_free(&l);
    return ret;
}

/*
 * cleanup_flow_wait - new mail from smtpd or pickup takes a flow token
 * from qmgr (global/mail_flow.h) before its records are read; with none
 * there it waits for one at most in_flow_delay, then goes on without.
 * The wait is before the queue file is written, so what the client hears
 * and when the file is durable do not change, only how soon: the client
 * waits at most in_flow_delay longer for its answer, and a stalled qmgr
 * (no tokens at all) costs each message exactly that, never more.
 * Mail from qmgr's notices, local's forwards and the 10025 re-injection
 * does not ask (it replaces mail qmgr has already counted, and qmgr
 * must not wait for itself).
 */
static void cleanup_flow_wait(cleanup_state_t *cs)
{
    long delay = config_time("in_flow_delay");

    if (!(cs->flags & CLEANUP_FLAG_FLOW) || delay <= 0 || !mail_flow_enabled())
	return;
    if (mail_flow_get(delay * 1000) == 0)
	msg_info("%s: no flow token from qmgr within in_flow_delay (%lds): delivery is behind "
		 "intake; the message is taken anyway",
		 cs->id, delay);
}

static qfile_pool_t *cleanup_pool; /* reserved queue files */

/* cleanup_service - one client, one message */
static void cleanup_service(stream_t *client, const char *service)
{
    const char *why;
    qfile_out_t *qo;
    cleanup_state_t *cs;

    stream_set_timeout(client, (int)config_time("ipc_timeout"));
    if ((qo = qfile_pool_take(cleanup_pool, &why)) == NULL) {
	msg_warn("cannot create queue file: %s", why);
	(void)attr_send(client, MAIL_ATTR_PROTOCOL, MAIL_PROTO_CLEANUP, MAIL_ATTR_REASON,
			"cannot create queue file", (char *)0);
	return;
    }
    cs = cleanup_state_new(qo);
    if (attr_send(client, MAIL_ATTR_PROTOCOL, MAIL_PROTO_CLEANUP, MAIL_ATTR_QUEUE_ID, cs->id,
		  (char *)0) == 0 &&
	cleanup_read_flags(client, &cs->flags) == 0) {
	cleanup_flow_wait(cs);
	cleanup_check_init(cs);
	cleanup_begin_file(cs);
	if (cleanup_read_message(cs, client)) {
	    if (!cs->status)
		cleanup_commit(cs);
	    cleanup_answer(cs, client);
	    cleanup_wake_qmgr(cs);
	}
    }
    cleanup_state_free(&cs);
    if (qfile_pool_fill(cleanup_pool, &why) < 0) /* while nobody waits */
	msg_warn("cannot reserve queue files: %s", why);
}

/* cleanup_pre_init - open tables while still privileged */
static void cleanup_pre_init(const char *service)
{
    cleanup_env_init();
}

/* cleanup_post_init - sweep what dead writers left; reserve files */
static void cleanup_post_init(const char *service)
{
    long interval = config_time("queue_sweep_interval");

    qfile_sweep_temps(MAIL_QUEUE_INCOMING);
    qfile_sweep_due(MAIL_QUEUE_INCOMING, interval);
    qfile_sweep_due(MAIL_QUEUE_HOLD, interval);
    cleanup_pool = qfile_pool_create(MAIL_QUEUE_INCOMING, 0600,
				     (int)config_int("queue_reservation_limit", 1, 1024),
				     config_time("queue_reservation_max_age"));
    qfile_pool_recycle(cleanup_pool, config_int("queue_recycle_limit", 0, 100000) > 0);
}

/* cleanup_pre_exit - remove the reservations not used */
static void cleanup_pre_exit(void)
{
    qfile_pool_free(&cleanup_pool);
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.pre_init = cleanup_pre_init,
	.post_init = cleanup_post_init,
	.service = cleanup_service,
	.pre_exit = cleanup_pre_exit,
    };

    return single_server_main(argc, argv, &params);
}
