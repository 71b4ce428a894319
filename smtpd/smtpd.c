/*
 * smtpd.c - the SMTP server: main, session loop, replies, error limits.
 *
 * What it does: speaks ESMTP (RFC 5321) with PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES, DSN, SMTPUTF8 and CHUNKING to one client per
 * process, checks each recipient against the relay and recipient policy
 * (smtpd_check.c), and hands each accepted message to cleanup, which
 * writes the queue file. smtpd answers "250 ... queued as ID" only after
 * cleanup has the file fsync'd and renamed into incoming/.
 *
 * Files: smtpd.c (this: session), smtpd_cmd.c (verb table and
 * handlers), smtpd_data.c (DATA/BDAT and the hand-off to cleanup),
 * lib/global/smtpd_dot.c (end-of-data state machine), lib/global/smtpd_addr.c (MAIL/RCPT
 * argument parsing), smtpd_check.c (relay/recipient policy),
 * smtpd_anvil.c (limits per client address, counted by anvil),
 * smtpd_tls.c (STARTTLS, wrapper mode), smtpd_guard.c (junk commands,
 * deadlines, stress, HELO text, queue space), smtpd_auth.c (AUTH, sender
 * login check), smtpd_restrict.c (client and relay restriction lists).
 *
 * Trust: nothing the client sends is trusted. Every line read is bounded
 * (line_length_limit for commands, a fixed piece size for content), every
 * read and write has a timeout (smtpd_timeout), every count is limited
 * (recipients, errors, message size). The configuration and the tables
 * come from root and are trusted.
 *
 * Privileges: runs as mail_owner, chrooted into queue_directory in the
 * shipped master.conf: tables and keys are opened in pre_init, before the
 * drop, and so is the list of login names for the system-user check; the
 * SASL modules are loaded there too, but libsasl2 opens its password
 * backend (a sasldb file, the saslauthd socket) at each AUTH, so an
 * authenticating smtpd runs without chroot or finds the backend inside it.
 *
 * Parameters: smtpd_banner, myhostname, message_size_limit,
 * smtpd_recipient_limit, line_length_limit, smtpd_timeout,
 * smtpd_soft_error_limit, smtpd_hard_error_limit, smtpd_error_sleep_time,
 * smtpd_client_connection_count_limit, smtpd_client_connection_rate_limit,
 * smtpd_client_message_rate_limit, smtpd_client_auth_rate_limit,
 * anvil_rate_time_unit, anvil_ipc_timeout,
 * smtpd_client_event_limit_exceptions, smtpd_forbid_bare_newline,
 * smtpd_pregreet_wait, smtpd_reject_unauth_pipelining,
 * disable_vrfy_command, mynetworks, mydestination, relay_domains,
 * virtual_mailbox_domains, virtual_alias_domains, virtual_mailbox_maps,
 * virtual_alias_maps,
 * alias_maps, local_recipient_maps, recipient_delimiter,
 * smtpd_tls_* and tls_* (smtpd_tls.c), smtpd_sasl_*, cyrus_sasl_config_path,
 * smtpd_tls_auth_only*, smtpd_sender_login_maps (smtpd_auth.c),
 * smtpd_client_restrictions, smtpd_relay_restrictions (smtpd_restrict.c),
 * smtpd_peername_lookup, smtpd_peername_timeout, dns_servers
 * (smtpd_peer.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "master/mail_server.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"
#include "smtpd.h"
#include "global/smtpd_dot.h"

const char *var_myhostname;
long long var_message_size_limit;
int var_smtpd_recipient_limit;
int var_line_length_limit;
int var_smtpd_timeout;
int var_dot_mode;
int var_reject_unauth_pipelining;
static int var_soft_error_limit;
static int var_hard_error_limit;
static int var_error_sleep_time;
static int var_pregreet_wait;

/* Command counters for the disconnect log line, in Postfix's order */
static smtpd_count_t smtpd_counts[] = {
    {"helo", 0, 0}, {"ehlo", 0, 0}, {"starttls", 0, 0}, {"auth", 0, 0},    {"mail", 0, 0},
    {"rcpt", 0, 0}, {"bdat", 0, 0}, {"data", 0, 0},     {"rset", 0, 0},    {"noop", 0, 0},
    {"vrfy", 0, 0}, {"help", 0, 0}, {"quit", 0, 0},     {"unknown", 0, 0},
};
#define SMTPD_NCOUNTS (sizeof(smtpd_counts) / sizeof(smtpd_counts[0]))

/*
 * smtpd_vreply - format and send one reply line. A complete reply is
 * flushed at once unless more pipelined input is already buffered (RFC
 * 2920): then it waits and goes out with the replies to the rest of the
 * batch. The client stream also flushes by itself before it reads from or
 * waits for the socket (stream_set_autoflush), so no reply is ever held
 * back while smtpd waits for the client.
 */
static void smtpd_vreply(smtpd_state_t *st, int flush, const char *fmt, va_list ap)
{
    str_reset(st->buf);
    str_vappendf(st->buf, fmt, ap);
    str_appends(st->buf, "\r\n");
    if (stream_write(st->client, str_data(st->buf), str_len(st->buf)) < 0 ||
	(flush && stream_pending(st->client) == 0 && stream_flush(st->client) < 0))
	st->done = 1;
}

/* smtpd_reply - one complete reply (or its last line) */
void smtpd_reply(smtpd_state_t *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    smtpd_vreply(st, 1, fmt, ap);
    va_end(ap);
}

/* smtpd_reply_more - a non-final line of a multi-line reply */
void smtpd_reply_more(smtpd_state_t *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    smtpd_vreply(st, 0, fmt, ap);
    va_end(ap);
}

/* smtpd_count - count one command */
void smtpd_count(smtpd_state_t *st, const char *name, int ok)
{
    (void)st;
    for (size_t i = 0; i < SMTPD_NCOUNTS; i++) {
	if (strcmp(smtpd_counts[i].name, name) == 0) {
	    smtpd_counts[i].total++;
	    smtpd_counts[i].ok += ok != 0;
	    return;
	}
    }
}

/* smtpd_error - count an error reply; delay or hang up past the limits */
void smtpd_error(smtpd_state_t *st)
{
    st->errors++;
    if (st->errors >= smtpd_guard_hard_limit(var_hard_error_limit)) {
	msg_info("too many errors after %s from %s", st->where, st->namaddr);
	smtpd_reply(st, "421 4.7.0 %s Error: too many errors", var_myhostname);
	st->done = 1;
    } else if (st->errors >= var_soft_error_limit && var_error_sleep_time > 0) {
	if (stream_flush(st->client) < 0)
	    st->done = 1;
	sleep((unsigned)var_error_sleep_time);
    }
}

/* smtpd_lost - the client went away or went quiet */
void smtpd_lost(smtpd_state_t *st)
{
    if (stream_timedout(st->client)) {
	msg_info("timeout after %s from %s", st->where, st->namaddr);
	stream_clear_error(st->client);
	smtpd_guard_command(st); /* a new deadline for the reply */
	smtpd_reply(st, "421 4.4.2 %s Error: timeout exceeded", var_myhostname);
    } else {
	msg_info("lost connection after %s from %s", st->where, st->namaddr);
    }
    st->done = 1;
}

/* smtpd_bare_lf - smtpd_forbid_bare_newline = yes and a bare LF came */
void smtpd_bare_lf(smtpd_state_t *st)
{
    msg_info("disconnect: bare <LF> received from %s after %s", st->namaddr, st->where);
    smtpd_reply(st, "521 5.5.2 %s Error: bare <LF> received", var_myhostname);
    st->done = 1;
}

/* smtpd_printable - a loggable copy of client bytes (static storage) */
static const char *smtpd_printable(const char *data, size_t len)
{
    static char buf[128];
    size_t i, n = 0;

    for (i = 0; i < len && n + 5 < sizeof(buf); i++) {
	unsigned char ch = (unsigned char)data[i];

	if (ch >= 0x20 && ch < 0x7f && ch != '\\')
	    buf[n++] = (char)ch;
	else
	    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\\%03o", ch);
    }
    buf[n] = 0;
    return buf;
}

/* smtpd_improper_pipelining - input that arrived before our reply */
int smtpd_improper_pipelining(smtpd_state_t *st, const char *after)
{
    char peek[100];
    ssize_t n;

    if (!var_reject_unauth_pipelining || stream_wait_readable(st->client, 0) <= 0)
	return 0;
    if ((n = stream_read(st->client, peek, sizeof(peek))) <= 0)
	return 0; /* hang-up: the next read reports it */
    msg_info("improper command pipelining after %s from %s: %s", after, st->namaddr,
	     smtpd_printable(peek, (size_t)n));
    smtpd_reply(st, "554 5.5.0 %s Error: improper use of SMTP command pipelining", var_myhostname);
    st->done = 1;
    return 1;
}

/* smtpd_pregreet - with smtpd_pregreet_wait, is the client talking first? */
static int smtpd_pregreet(smtpd_state_t *st)
{
    char peek[100];
    ssize_t n;

    if (var_pregreet_wait <= 0 || stream_wait_readable(st->client, var_pregreet_wait * 1000) <= 0)
	return 0;
    n = stream_read(st->client, peek, sizeof(peek));
    if (n <= 0)
	return 1; /* hung up before the greeting */
    msg_info("PREGREET %zd after greeting pause from %s: %s", n, st->namaddr,
	     smtpd_printable(peek, (size_t)n));
    smtpd_reply(st, "554 5.5.0 %s Error: talking before the greeting", var_myhostname);
    return 1;
}

/* smtpd_reset - forget the mail transaction */
void smtpd_reset(smtpd_state_t *st)
{
    smtpd_data_abort(st);
    mr_free(st->sender);
    mr_free(st->body);
    mr_free(st->envid);
    mr_free(st->ret);
    st->sender = st->body = st->envid = st->ret = NULL;
    for (int i = 0; i < st->rcpt_count; i++) {
	mr_free(st->rcpts[i].addr);
	mr_free(st->rcpts[i].orcpt);
	mr_free(st->rcpts[i].notify);
    }
    st->rcpt_count = st->rcpt_tried = 0;
    st->size_hint = 0;
    st->smtputf8 = 0;
}

/* smtpd_log_disconnect - "disconnect from X ehlo=1 ... commands=N" */
static void smtpd_log_disconnect(smtpd_state_t *st)
{
    int ok = 0, total = 0;

    str_reset(st->buf);
    for (size_t i = 0; i < SMTPD_NCOUNTS; i++) {
	smtpd_count_t *c = smtpd_counts + i;

	if (c->total == 0)
	    continue;
	if (c->ok == c->total)
	    str_appendf(st->buf, " %s=%d", c->name, c->total);
	else
	    str_appendf(st->buf, " %s=%d/%d", c->name, c->ok, c->total);
	ok += c->ok;
	total += c->total;
	c->ok = c->total = 0;
    }
    if (ok == total)
	str_appendf(st->buf, " commands=%d", total);
    else
	str_appendf(st->buf, " commands=%d/%d", ok, total);
    msg_info("disconnect from %s%s", st->namaddr, str_data(st->buf));
}

/* smtpd_read_command - read one bounded command line and dispatch it */
static void smtpd_read_command(smtpd_state_t *st)
{
    char *data;
    size_t len;
    int crlf;

    str_reset(st->line);
    smtpd_guard_command(st);
    switch (stream_read_line(st->client, st->line, (size_t)var_line_length_limit)) {
    case STREAM_PARTIAL:
	if (stream_skip_line(st->client) != 1) {
	    smtpd_lost(st);
	    return;
	}
	msg_info("warning: %s: command line too long", st->namaddr);
	smtpd_count(st, "unknown", 0);
	smtpd_reply(st, "500 5.5.2 %s Error: line too long", var_myhostname);
	smtpd_error(st);
	return;
    case STREAM_LINE:
	break;
    default:
	smtpd_lost(st);
	return;
    }
    data = str_data(st->line);
    len = str_len(st->line);
    if (len == 0 || data[len - 1] != '\n') { /* EOF inside a line */
	smtpd_lost(st);
	return;
    }
    crlf = (len >= 2 && data[len - 2] == '\r');
    if (!crlf && var_dot_mode == SMTPD_DOT_MODE_YES) {
	smtpd_bare_lf(st);
	return;
    }
    data[len - 1 - crlf] = 0;
    if (memchr(data, 0, len - 1 - (size_t)crlf) != NULL) {
	smtpd_count(st, "unknown", 0);
	smtpd_reply(st, "500 5.5.2 %s Error: bad syntax", var_myhostname);
	smtpd_error(st);
	return;
    }
    smtpd_command(st, data, crlf);
}

/*
 * smtpd_local_client - stand-alone on pipes (smtpd -S, as sendmail -bs
 * runs it): the client is a local user's program on our standard input. It may
 * send anywhere, as sendmail -bm may: it counts as localhost[127.0.0.1]
 * in mynetworks. Programs that feed a whole dialogue through a pipe at
 * once are not the spam engines the pipelining check is for.
 */
static void smtpd_local_client(smtpd_state_t *st)
{
    st->name = mr_strdup("localhost");
    mr_strlcpy(st->addr, "127.0.0.1", sizeof(st->addr));
    st->port = 0;
    st->in_mynetworks = 1;
    var_reject_unauth_pipelining = 0;
}

/* smtpd_session_init - fill in the client identity */
static void smtpd_session_init(smtpd_state_t *st, stream_t *client, const char *service)
{
    struct stat sb;

    memset(st, 0, sizeof(*st));
    st->client = client;
    st->service = service;
    sock_peer_addr(stream_fd(client), st->addr, sizeof(st->addr), &st->port);
    st->in_mynetworks = smtpd_check_mynetworks(st->addr);
    if (server_stand_alone() && fstat(stream_fd(client), &sb) == 0 && !S_ISSOCK(sb.st_mode))
	smtpd_local_client(st);
    else
	st->name = smtpd_peer_name(st->addr);
    st->namaddr = mr_format("%s[%s]", st->name, st->addr);
    st->protocol = "SMTP";
    st->where = "CONNECT";
    st->line = str_new(512);
    st->buf = str_new(512);
    stream_set_timeout(client, var_smtpd_timeout);
    stream_set_autoflush(client, 1);
}

/* smtpd_session_free - release the session */
static void smtpd_session_free(smtpd_state_t *st)
{
    smtpd_reset(st);
    mr_free(st->rcpts);
    mr_free(st->name);
    mr_free(st->namaddr);
    mr_free(st->helo);
    smtpd_auth_reset(st);
    str_free(&st->line);
    str_free(&st->buf);
}

/* smtpd_service - one SMTP session */
static void smtpd_service(stream_t *client, const char *service)
{
    smtpd_state_t st;

    smtpd_session_init(&st, client, service);
    msg_info("connect from %s", st.namaddr);
    if (!smtpd_anvil_connect(&st)) {
	/* over a limit: smtpd_anvil_connect replied */
    } else if (smtpd_tls_wrapper(&st) == 0 && !smtpd_pregreet(&st)) {
	smtpd_reply(&st, "220 %s", config_str("smtpd_banner"));
	while (!st.done)
	    smtpd_read_command(&st);
    }
    smtpd_anvil_disconnect(&st);
    smtpd_log_disconnect(&st);
    smtpd_session_free(&st);
}

/* smtpd_pre_init - privileged: tables, TLS keys and SASL (not for a
 * local user's session on a pipe, sendmail -bs: there is nothing to
 * encrypt and no one to authenticate) */
static void smtpd_pre_init(const char *service)
{
    struct stat sb;

    (void)service;
    smtpd_check_init();
    if (server_stand_alone() && fstat(0, &sb) == 0 && !S_ISSOCK(sb.st_mode))
	return;
    smtpd_peer_pre_init();
    smtpd_tls_pre_init();
    smtpd_auth_pre_init();
}

/* smtpd_dot_mode - smtpd_forbid_bare_newline as a SMTPD_DOT_MODE_* */
static int smtpd_dot_mode(void)
{
    const char *v = config_str("smtpd_forbid_bare_newline");

    if (strcasecmp(v, "normalize") == 0)
	return SMTPD_DOT_MODE_NORMALIZE;
    if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "reject") == 0)
	return SMTPD_DOT_MODE_YES;
    if (strcasecmp(v, "no") == 0)
	return SMTPD_DOT_MODE_NO;
    msg_fatal("smtpd_forbid_bare_newline: expected no, normalize or yes, not \"%s\"", v);
}

/* smtpd_post_init - read the parameters */
static void smtpd_post_init(const char *service)
{
    (void)service;
    var_myhostname = config_str("myhostname");
    var_message_size_limit = config_size("message_size_limit");
    var_smtpd_recipient_limit = (int)config_int("smtpd_recipient_limit", 1, 1000000);
    var_line_length_limit = (int)config_int("line_length_limit", 512, 1 << 20);
    var_smtpd_timeout = (int)config_time("smtpd_timeout");
    smtpd_guard_init();
    var_soft_error_limit = (int)config_int("smtpd_soft_error_limit", 1, 100000);
    var_hard_error_limit = (int)config_int("smtpd_hard_error_limit", 1, 100000);
    var_error_sleep_time = (int)config_time("smtpd_error_sleep_time");
    var_pregreet_wait = (int)config_time("smtpd_pregreet_wait");
    var_reject_unauth_pipelining = config_bool("smtpd_reject_unauth_pipelining");
    var_dot_mode = smtpd_dot_mode();
    smtpd_anvil_init();
    smtpd_tls_post_init();
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.pre_init = smtpd_pre_init,
	.post_init = smtpd_post_init,
	.service = smtpd_service,
    };

    msg_init("smtpd");
    return single_server_main(argc, argv, &params);
}
