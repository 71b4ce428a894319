/*
 * smtpd_data.c - DATA and BDAT: reading the content and handing it to
 * cleanup.
 *
 * cleanup is connected at the first accepted recipient (smtpd_data_preopen,
 * without waiting, so that its start overlaps the client's next round
 * trip), and the connection is taken up when content starts (DATA after
 * its checks, or the first BDAT chunk): the envelope and our Received:
 * header, then one content line at a time. A transaction that ends
 * without content closes it, and cleanup removes its empty file. The
 * client hears "250 ... queued as ID" only after cleanup_finish()
 * returned CLEANUP_STAT_OK, i.e. the queue file is fsync'd and in
 * incoming/. Any failure on the way (cleanup gone, client gone, message
 * too big) ends in cleanup_abort(), which makes cleanup remove its
 * temporary file, so nothing half-written is queued.
 *
 * Run stand-alone by a local user (sendmail -bs), smtpd cannot reach
 * private/cleanup; the message then goes to mailroom-postdrop through
 * the same client interface (cleanup_open_postdrop), into maildrop/ for
 * pickup, and the queue ID in the reply is the maildrop file's.
 *
 * End-of-data detection and line splitting are in smtpd_dot.c.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "global/config.h"
#include "master/mail_server.h"
#include "util/msg.h"
#include "util/privs.h"
#include "util/mymalloc.h"
#include "smtpd.h"
#include "global/smtpd_addr.h"
#include "global/smtpd_dot.h"

#define DATA_READ_PIECE 16384 /* bytes read per call */

/* data_line - content piece from the splitter: count it, pass it on */
static void data_line(void *ctx, const char *data, size_t len, int complete)
{
    smtpd_state_t *st = ctx;

    st->msg_size += (long long)len + (complete ? 2 : 0);
    if (var_message_size_limit > 0 && st->msg_size > var_message_size_limit)
	st->too_big = 1;
    if (!st->too_big && st->cleanup)
	cleanup_line(st->cleanup, data, len, complete);
}

/* data_header_line - one line of our own header to cleanup */
static void data_header_line(smtpd_state_t *st, const char *line)
{
    cleanup_line(st->cleanup, line, strlen(line), 1);
}

/* data_received - prepend the Received: header (RFC 5321 4.4) */
static void data_received(smtpd_state_t *st, const char *queue_id)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    str_t *h = str_new(256);

    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
    str_printf(h, "Received: from %s (%s [%s])", st->helo, st->name, st->addr);
    data_header_line(st, str_data(h));
    if (smtpd_tls_received(st, h))
	data_header_line(st, str_data(h));
    str_printf(h, "\tby %s (Mailroom) with %s%s id %s%s", var_myhostname,
	       st->smtputf8 ? "UTF8" : "", st->protocol, queue_id, st->rcpt_count == 1 ? "" : ";");
    data_header_line(st, str_data(h));
    if (st->rcpt_count == 1)
	str_printf(h, "\tfor <%s>; %s", st->rcpts[0].addr, date);
    else
	str_printf(h, "\t%s", date);
    data_header_line(st, str_data(h));
    str_free(&h);
}

/* data_envelope - send the envelope to a fresh cleanup connection */
static void data_envelope(smtpd_state_t *st)
{
    cleanup_client_t *cc = st->cleanup;

    cleanup_attr(cc, "client_name", st->name);
    cleanup_attr(cc, "client_addr", st->addr);
    cleanup_attr(cc, "helo", st->helo);
    cleanup_attr(cc, "protocol", st->protocol);
    if (st->sasl_username) {
	cleanup_attr(cc, "sasl_method", st->sasl_method);
	cleanup_attr(cc, "sasl_username", st->sasl_username);
    }
    if (st->body)
	cleanup_attr(cc, "body", st->body);
    if (st->ret)
	cleanup_attr(cc, "ret", st->ret);
    if (st->envid)
	cleanup_attr(cc, "envid", st->envid);
    if (st->smtputf8)
	cleanup_attr(cc, "smtputf8", "1");
    cleanup_sender(cc, st->sender);
    for (int i = 0; i < st->rcpt_count; i++)
	cleanup_rcpt(cc, st->rcpts[i].addr, st->rcpts[i].orcpt, st->rcpts[i].notify);
}

/*
 * data_to_maildrop - does the message go through postdrop (maildrop/,
 * then pickup) instead of straight to cleanup? Only stand-alone (smtpd
 * -S, as sendmail -bs runs it) for a user other than mail_owner, who
 * cannot reach private/cleanup; root's sendmail -bs has become
 * mail_owner already (smtpd -S -u).
 */
static int data_to_maildrop(void)
{
    static int answer = -1;
    uid_t uid;
    gid_t gid;

    if (answer < 0)
	answer = server_stand_alone() &&
		 (privs_lookup(config_str("mail_owner"), &uid, &gid) < 0 || getuid() != uid);
    return answer;
}

/*
 * smtpd_data_preopen - at the first accepted recipient, connect to cleanup
 * without waiting for it: cleanup wakes up, creates the queue file and
 * sends its handshake while the client sends DATA. A failure here is
 * silent; data_open tries again and reports.
 */
void smtpd_data_preopen(smtpd_state_t *st)
{
    const char *error;

    if (st->cleanup_early == NULL && st->cleanup == NULL && !data_to_maildrop())
	st->cleanup_early = cleanup_connect(cleanup_flow_flag(), &error);
}

/* data_cleanup - the early connection if it works, else a new one; for
 * a local user's stand-alone smtpd, postdrop */
static cleanup_client_t *data_cleanup(smtpd_state_t *st, const char **error_r)
{
    cleanup_client_t *cc = st->cleanup_early;

    if (data_to_maildrop())
	return cleanup_open_postdrop(error_r);
    st->cleanup_early = NULL;
    if (cc != NULL && cleanup_ready(&cc, error_r) == 0)
	return cc;
    return cleanup_open(cleanup_flow_flag(), error_r);
}

/* data_open - connect to cleanup and send envelope and Received:;
 * 0 ok, -1 with a 451 reply sent */
static int data_open(smtpd_state_t *st)
{
    const char *error = "";

    st->msg_size = 0;
    st->too_big = 0;
    if ((st->cleanup = data_cleanup(st, &error)) == NULL) {
	msg_warn("cannot connect to cleanup: %s", error);
	smtpd_reply(st, "451 4.3.0 Error: queue file write error");
	smtpd_error(st);
	return -1;
    }
    if (st->sasl_username)
	msg_info("%s: client=%s, sasl_method=%s, sasl_username=%s", cleanup_queue_id(st->cleanup),
		 st->namaddr, st->sasl_method, st->sasl_username);
    else
	msg_info("%s: client=%s", cleanup_queue_id(st->cleanup), st->namaddr);
    data_envelope(st);
    data_received(st, cleanup_queue_id(st->cleanup));
    return 0;
}

/* smtpd_data_abort - drop the message in progress */
void smtpd_data_abort(smtpd_state_t *st)
{
    if (st->cleanup)
	cleanup_abort(&st->cleanup);
    if (st->cleanup_early)
	cleanup_abort(&st->cleanup_early);
    mr_free(st->bdat_splitter);
    st->bdat_splitter = NULL;
    st->bdat_active = 0;
}

/* data_finish - commit the message and give the final reply */
static void data_finish(smtpd_state_t *st, const char *cmd)
{
    char queue_id[64];
    str_t *reason = str_new(64);
    int stat;

    mr_strlcpy(queue_id, cleanup_queue_id(st->cleanup), sizeof(queue_id));
    if (st->too_big) {
	cleanup_abort(&st->cleanup);
	msg_info("%s: reject: %s from %s: 552 5.3.4 Message size exceeds fixed limit; "
		 "from=<%s> proto=%s helo=<%s>",
		 queue_id, st->where, st->namaddr, st->sender, st->protocol, st->helo);
	stat = CLEANUP_STAT_SIZE;
    } else if (cleanup_error(st->cleanup)) {
	cleanup_abort(&st->cleanup);
	str_set(reason, "queue file write error");
	stat = CLEANUP_STAT_TEMP;
    } else {
	stat = cleanup_finish(&st->cleanup, reason);
    }
    switch (stat) {
    case CLEANUP_STAT_OK:
	smtpd_guard_queued(st);
	smtpd_count(st, cmd, 1);
	smtpd_reply(st, "250 2.0.0 Ok: queued as %s", queue_id);
	break;
    case CLEANUP_STAT_SIZE:
	smtpd_count(st, cmd, 0);
	smtpd_reply(st, "552 5.3.4 Error: message file too big");
	break;
    case CLEANUP_STAT_BAD:
	smtpd_count(st, cmd, 0);
	smtpd_reply(st, "550 5.6.0 Error: %s",
		    str_len(reason) ? str_data(reason) : "malformed message");
	break;
    case CLEANUP_STAT_NORCPT:
	smtpd_count(st, cmd, 0);
	smtpd_reply(st, "554 5.5.1 Error: no valid recipients");
	break;
    default:
	msg_warn("%s: cleanup failed: %s", queue_id,
		 str_len(reason) ? str_data(reason) : "unknown");
	smtpd_count(st, cmd, 0);
	smtpd_reply(st, "451 4.3.0 Error: queue file write error");
	break;
    }
    str_free(&reason);
    if (stat != CLEANUP_STAT_OK)
	smtpd_error(st);
    smtpd_reset(st);
}

/* data_sequence - may the content start now? 0 yes, -1 replied */
static int data_sequence(smtpd_state_t *st, const char *cmd)
{
    const char *err = NULL;

    if (st->sender == NULL)
	err = "503 5.5.1 Error: need MAIL command";
    else if (st->rcpt_count == 0 && st->rcpt_tried == 0 && !st->bdat_active)
	err = "503 5.5.1 Error: need RCPT command";
    else if (st->rcpt_count == 0)
	err = "554 5.5.1 Error: no valid recipients";
    if (err == NULL)
	return 0;
    smtpd_count(st, cmd, 0);
    smtpd_reply(st, "%s", err);
    smtpd_error(st);
    return -1;
}

/* data_read - read DATA content up to the end marker; 0 done, -1 the
 * session is over (client gone, bare LF) */
static int data_read(smtpd_state_t *st, smtpd_dot_t *dot)
{
    str_t *piece = str_new(DATA_READ_PIECE);
    size_t used;
    int r = SMTPD_DOT_MORE, ret = 0;

    while (r == SMTPD_DOT_MORE) {
	str_reset(piece);
	if (stream_read_line(st->client, piece, DATA_READ_PIECE) <= 0) {
	    smtpd_lost(st);
	    ret = -1;
	    break;
	}
	smtpd_guard_credit(st, str_len(piece));
	r = smtpd_dot_feed(dot, str_data(piece), str_len(piece), &used);
    }
    if (r == SMTPD_DOT_BARE_LF) {
	smtpd_bare_lf(st);
	ret = -1;
    }
    str_free(&piece);
    return ret;
}

/* smtpd_data - the DATA command */
void smtpd_data(smtpd_state_t *st, char *args, int crlf)
{
    smtpd_dot_t *dot;

    if (*trim_space(args)) {
	smtpd_count(st, "data", 0);
	smtpd_reply(st, "501 5.5.4 Syntax: DATA");
	smtpd_error(st);
	return;
    }
    if (st->bdat_active) {
	smtpd_count(st, "data", 0);
	smtpd_reply(st, "503 5.5.1 Error: DATA after BDAT");
	smtpd_error(st);
	return;
    }
    if (data_sequence(st, "data") < 0)
	return;
    if (smtpd_improper_pipelining(st, "DATA")) {
	smtpd_count(st, "data", 0);
	return;
    }
    if (data_open(st) < 0) {
	smtpd_count(st, "data", 0);
	smtpd_reset(st);
	return;
    }
    smtpd_reply(st, "354 End data with <CR><LF>.<CR><LF>");
    smtpd_guard_data(st);
    dot = mr_alloc(sizeof(*dot));
    smtpd_dot_init(dot, var_dot_mode, 0, crlf, data_line, st);
    if (data_read(st, dot) < 0) {
	smtpd_count(st, "data", 0);
	smtpd_reset(st);
    } else {
	data_finish(st, "data");
    }
    mr_free(dot);
}

/* bdat_parse - "COUNT [LAST]"; 0 ok, -1 bad */
static int bdat_parse(char *args, long long *count_r, int *last_r)
{
    char *num = next_token(&args, " \t");
    char *last = next_token(&args, " \t");

    if (num == NULL || smtpd_size_parse(num, count_r) < 0 || next_token(&args, " \t"))
	return -1;
    if (last && strcasecmp(last, "LAST") != 0)
	return -1;
    *last_r = (last != NULL);
    return 0;
}

/* bdat_read - read count bytes into the splitter (or discard them if
 * dot is NULL); 0 ok, -1 client gone */
static int bdat_read(smtpd_state_t *st, smtpd_dot_t *dot, long long count)
{
    char buf[DATA_READ_PIECE];
    size_t used;

    while (count > 0) {
	size_t want = count > (long long)sizeof(buf) ? sizeof(buf) : (size_t)count;
	ssize_t n = stream_read(st->client, buf, want);

	if (n <= 0) {
	    smtpd_lost(st);
	    return -1;
	}
	smtpd_guard_credit(st, (size_t)n);
	if (dot)
	    (void)smtpd_dot_feed(dot, buf, (size_t)n, &used);
	count -= n;
    }
    return 0;
}

/* bdat_start - first chunk of a message; 0 ok, -1 replied */
static int bdat_start(smtpd_state_t *st)
{
    smtpd_dot_t *dot;

    if (data_sequence(st, "bdat") < 0)
	return -1;
    if (data_open(st) < 0) {
	smtpd_count(st, "bdat", 0);
	smtpd_reset(st);
	return -1;
    }
    dot = mr_alloc(sizeof(*dot));
    smtpd_dot_init(dot, var_dot_mode, 1, 1, data_line, st);
    st->bdat_splitter = dot;
    st->bdat_active = 1;
    return 0;
}

/* smtpd_bdat - the BDAT command (RFC 3030) */
void smtpd_bdat(smtpd_state_t *st, char *args)
{
    long long count;
    int last;

    if (bdat_parse(args, &count, &last) < 0) {
	smtpd_count(st, "bdat", 0);
	smtpd_reply(st, "501 5.5.4 Syntax: BDAT count [LAST]");
	smtpd_error(st);
	return;
    }
    if (!st->bdat_active && bdat_start(st) < 0) {
	(void)bdat_read(st, NULL, count); /* the chunk is on its way */
	return;
    }
    if (bdat_read(st, st->bdat_splitter, count) < 0) {
	smtpd_count(st, "bdat", 0);
	smtpd_reset(st);
	return;
    }
    if (last) {
	smtpd_dot_flush(st->bdat_splitter);
	data_finish(st, "bdat");
    } else if (cleanup_error(st->cleanup)) {
	smtpd_count(st, "bdat", 0);
	smtpd_reply(st, "451 4.3.0 Error: queue file write error");
	smtpd_reset(st);
	smtpd_error(st);
    } else {
	smtpd_count(st, "bdat", 1);
	smtpd_reply(st, "250 2.0.0 Ok: %lld bytes", count);
    }
}
