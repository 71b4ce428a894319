/*
 * smtpd_guard.c - what keeps one client from holding a slot, the disk or
 * the logs: junk commands, per-request deadlines (shorter under stress),
 * the HELO/EHLO text, and free space in the queue at MAIL FROM.
 *
 * Deadlines. Every command line must arrive whole within smtpd_timeout
 * of the moment smtpd starts to wait for it (the reply to the previous
 * command goes out within the same deadline), and the DATA content
 * within smtpd_timeout plus one second per smtpd_min_data_rate bytes
 * received. A client that sends one byte every few seconds therefore
 * times out like a silent one; a slow but honest sender of a big message
 * keeps going. When master says the service is at its process limit
 * (server_stress), the deadline is cut to smtpd_stress_timeout, waits in
 * progress included, and the junk and hard error limits drop to 1, as in
 * Postfix's stress defaults.
 *
 * Junk commands (NOOP, VRFY, RSET, HELP, unknown verbs) do nothing for
 * the mail: after smtpd_junk_command_limit of them without a message
 * queued, the session ends with 421. Without this, a client could keep
 * a slot forever by sending a NOOP before each timeout.
 *
 * Free space (smtpd_guard_space): MAIL FROM is answered 452 4.3.1 when
 * the queue file system has less than max(queue_minfree, 1.5 x the
 * message size), the size being SIZE= when the client gave one and
 * message_size_limit otherwise, so a full disk is refused before the
 * client sends the message rather than after.
 */
#include <string.h>
#include <sys/statvfs.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "util/msg.h"
#include "util/str.h"
#include "smtpd.h"

static int var_junk_command_limit;
static int var_stress_timeout;
static int var_min_data_rate;
static long long var_queue_minfree;

/* smtpd_guard_init - read the parameters (post_init) */
void smtpd_guard_init(void)
{
    var_junk_command_limit = (int)config_int("smtpd_junk_command_limit", 1, 1000000);
    var_stress_timeout = (int)config_time("smtpd_stress_timeout");
    var_min_data_rate = (int)config_int("smtpd_min_data_rate", 1, 1 << 30);
    var_queue_minfree = config_size("queue_minfree");
    stream_set_stress_deadline(var_stress_timeout);
}

/* smtpd_guard_command - the deadline for the next command line */
void smtpd_guard_command(smtpd_state_t *st)
{
    stream_set_deadline(st->client, var_smtpd_timeout);
}

/* smtpd_guard_data - the deadline for message content (DATA) */
void smtpd_guard_data(smtpd_state_t *st)
{
    stream_set_deadline(st->client, var_smtpd_timeout);
}

/* smtpd_guard_credit - n content bytes arrived: more time for the rest */
void smtpd_guard_credit(smtpd_state_t *st, size_t n)
{
    stream_extend_deadline(st->client, (long long)n * 1000 / var_min_data_rate);
}

/* smtpd_guard_hard_limit - errors before we hang up (1 under stress) */
int smtpd_guard_hard_limit(int normal)
{
    return server_stress() ? 1 : normal;
}

/* smtpd_guard_junk - count one junk command; 1 if that was one too many
 * (then the 421 is sent and the session is over) */
int smtpd_guard_junk(smtpd_state_t *st)
{
    int limit = server_stress() ? 1 : var_junk_command_limit;

    if (++st->junk <= limit)
	return 0;
    msg_info("too many junk commands after %s from %s (%d)", st->where, st->namaddr, st->junk);
    smtpd_reply(st, "421 4.7.0 %s Error: too many errors", var_myhostname);
    st->done = 1;
    return 1;
}

/* smtpd_guard_queued - a message was queued: junk counting starts over */
void smtpd_guard_queued(smtpd_state_t *st)
{
    st->junk = 0;
}

/* smtpd_guard_helo - may this HELO/EHLO argument be used (in Received:,
 * the queue file, the log)? No control bytes, no broken UTF-8; 0 ok, -1 no */
int smtpd_guard_helo(const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < len; i++) {
	unsigned char ch = (unsigned char)name[i];

	if (ch < 0x20 || ch == 0x7f)
	    return -1;
    }
    return utf8_valid(name, len) ? 0 : -1;
}

/* smtpd_guard_space - enough room in the queue for this MAIL FROM? 1 yes,
 * 0 no (the caller replies 452 4.3.1) */
int smtpd_guard_space(smtpd_state_t *st)
{
    struct statvfs fs;
    long long size = st->size_hint > 0 ? st->size_hint : var_message_size_limit;
    long long need = size + size / 2, avail;

    if (need < var_queue_minfree)
	need = var_queue_minfree;
    if (statvfs(server_queue_path(MAIL_QUEUE_INCOMING), &fs) < 0) {
	msg_warn("statvfs %s: %m", server_queue_path(MAIL_QUEUE_INCOMING));
	return 1; /* cleanup will tell */
    }
    avail = (long long)fs.f_bavail * (long long)fs.f_frsize;
    if (avail >= need)
	return 1;
    msg_warn("not enough free space in the queue file system: %lld bytes, need %lld "
	     "(MAIL from %s)",
	     avail, need, st->namaddr);
    return 0;
}
