/*
 * anvil.c - the session count and rate server.
 *
 * What it does: counts, per ident (SERVICE:CLIENT-ADDRESS), the sessions
 * open now and the connections, messages and failed authentications per
 * anvil_rate_time_unit, in memory, for servers that limit what one
 * client may do (smtpd's smtpd_client_connection_count_limit,
 * _connection_rate_limit, _message_rate_limit and _auth_rate_limit). It only counts:
 * the server that asks decides and replies to its client. Protocol
 * (attribute lists, util/attr.h; names in global/mail_proto.h):
 *
 *   anvil:  protocol=anvil
 *   client: request=connect ident=ID     -> status=0 count=N rate=N
 *           request=disconnect ident=ID  -> status=0
 *           request=message ident=ID     -> status=0 message_rate=N
 *           request=auth_failure ident=ID -> status=0 auth_failure_rate=N
 *           request=lookup ident=ID      -> status=0 count=N rate=N message_rate=N
 *                                           auth_failure_rate=N
 *   anything else                        -> status=2 reason=TEXT
 *
 * A session is tied to the connection that opened it: when a client's
 * connection closes (the client exited, even by kill -9) anvil closes
 * every session it still held, so a count never leaks. An entry with no
 * session whose rate window is over is forgotten (anvil_count.c), so
 * memory follows the clients of the last two windows, not all clients
 * ever seen. anvil keeps its counts across max_use and max_idle (it is
 * long_lived); if it dies, master starts a new one with empty counts and
 * its clients go on without counting meanwhile.
 *
 * Trust: clients are other mailroom daemons (socket in private/), still
 * not trusted: requests are bounded by the attribute parser, an ident by
 * ANVIL_MAX_IDENT bytes, the sessions one connection holds by
 * ANVIL_MAX_HELD; a client can close only sessions it opened, so a
 * compromised daemon cannot lower the counts of others.
 *
 * Privileges: runs as mail_owner; needs no file, so it may chroot.
 * One process (master.conf: maxproc 1) on the event skeleton.
 *
 * Every anvil_status_update_time, and before it exits when master goes
 * away, anvil logs the
 * highest counts it saw since the last such report, with the ident and
 * the time, as Postfix does ("statistics: max connection rate 12/60s for
 * (smtp:192.0.2.1) at Nov 27 15:04:11"), to help choose the limits.
 *
 * Parameters: anvil_rate_time_unit, anvil_status_update_time;
 * ipc_timeout (an idle client connection is closed after it, its
 * sessions with it).
 */
#include <string.h>
#include <time.h>

#include "anvil.h"
#include "global/config.h"
#include "global/mail_proto.h"
#include "master/event_attr.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define ANVIL_MAX_IDENT 300 /* bytes of one ident */
#define ANVIL_MAX_HELD 1000 /* open sessions per connection */

typedef struct anvil_held {
    char *ident;
    long n; /* sessions open through this conn */
} anvil_held_t;

typedef struct anvil_conn {
    event_attr_t ea;
    anvil_held_t *held;
    size_t nheld;
} anvil_conn_t;

static anvil_table_t *anvil_table;
static long long anvil_unit_ms;

/* The highest of each count since the last statistics report. */
typedef struct anvil_max {
    const char *what; /* "connection count", ... */
    int is_rate;
    long value;
    char ident[ANVIL_MAX_IDENT + 1];
    time_t when;
} anvil_max_t;

static anvil_max_t anvil_max[] = {
    {"connection count", 0},
    {"connection rate", 1},
    {"message rate", 1},
    {"auth failure rate", 1},
};

#define ANVIL_MAX_COUNT 0
#define ANVIL_MAX_CONN 1
#define ANVIL_MAX_MAIL 2
#define ANVIL_MAX_AUTH 3

/* anvil_note - remember a new highest value */
static void anvil_note(int which, long value, const char *ident)
{
    anvil_max_t *m = anvil_max + which;

    if (value <= m->value)
	return;
    m->value = value;
    mr_strlcpy(m->ident, ident, sizeof(m->ident));
    m->when = time(NULL);
}

/* anvil_statistics - log and reset the highest values seen */
static void anvil_statistics(void)
{
    long unit = (long)(anvil_unit_ms / 1000);
    char when[64];

    for (size_t i = 0; i < sizeof(anvil_max) / sizeof(anvil_max[0]); i++) {
	anvil_max_t *m = anvil_max + i;

	if (m->value == 0)
	    continue;
	strftime(when, sizeof(when), "%b %e %H:%M:%S", localtime(&m->when));
	if (m->is_rate)
	    msg_info("statistics: max %s %ld/%lds for (%s) at %s", m->what, m->value, unit,
		     m->ident, when);
	else
	    msg_info("statistics: max %s %ld for (%s) at %s", m->what, m->value, m->ident, when);
	m->value = 0;
    }
}

/* anvil_held_find - this connection's record for ident, or NULL */
static anvil_held_t *anvil_held_find(anvil_conn_t *ac, const char *ident)
{
    for (size_t i = 0; i < ac->nheld; i++)
	if (strcmp(ac->held[i].ident, ident) == 0)
	    return ac->held + i;
    return NULL;
}

/* anvil_hold - remember a session opened through this connection; 0 ok,
 * -1 too many */
static int anvil_hold(anvil_conn_t *ac, const char *ident)
{
    anvil_held_t *h = anvil_held_find(ac, ident);

    if (h == NULL) {
	if (ac->nheld >= ANVIL_MAX_HELD)
	    return -1;
	ac->held = mr_reallocarray(ac->held, ac->nheld + 1, sizeof(*ac->held));
	h = ac->held + ac->nheld++;
	*h = (anvil_held_t){mr_strdup(ident), 0};
    }
    h->n++;
    return 0;
}

/* anvil_release - forget one session of ident; 1 if this connection held one */
static int anvil_release(anvil_conn_t *ac, const char *ident)
{
    anvil_held_t *h = anvil_held_find(ac, ident);

    if (h == NULL)
	return 0;
    if (--h->n == 0) {
	mr_free(h->ident);
	*h = ac->held[--ac->nheld];
    }
    return 1;
}

#define ANVIL_SHOW_SESSIONS 1 /* count= and rate= */
#define ANVIL_SHOW_MESSAGES 2 /* message_rate= */
#define ANVIL_SHOW_AUTH 4     /* auth_failure_rate= */

/* anvil_reply - status=0 and the counts asked for (ANVIL_SHOW_*) */
static void anvil_reply(str_t *out, const anvil_counts_t *c, int show)
{
    str_appends(out, MAIL_ATTR_STATUS "=0\n");
    if (show & ANVIL_SHOW_SESSIONS)
	str_appendf(out, MAIL_ATTR_COUNT "=%ld\n" MAIL_ATTR_RATE "=%ld\n", c->count, c->conn_rate);
    if (show & ANVIL_SHOW_MESSAGES)
	str_appendf(out, MAIL_ATTR_MAIL_RATE "=%ld\n", c->mail_rate);
    if (show & ANVIL_SHOW_AUTH)
	str_appendf(out, MAIL_ATTR_AUTH_RATE "=%ld\n", c->auth_rate);
    str_appendc(out, '\n');
}

/* anvil_error - status=2 with a reason, logged */
static void anvil_error(event_conn_t *conn, str_t *out, const char *reason)
{
    msg_warn("client %s: %s", event_conn_addr(conn), reason);
    attr_format_args(out, MAIL_ATTR_STATUS, "2", MAIL_ATTR_REASON, reason, (char *)NULL);
}

/* anvil_answer - one request */
static void anvil_answer(event_conn_t *conn, const attr_list_t *req, str_t *out)
{
    anvil_conn_t *ac = event_conn_context(conn);
    const char *request = attr_get(req, MAIL_ATTR_REQUEST);
    const char *ident = attr_get(req, MAIL_ATTR_IDENT);
    long long now = event_now_ms();
    anvil_counts_t c = {0, 0, 0};

    if (request == NULL || ident == NULL || *ident == 0) {
	anvil_error(conn, out, "request without request= or ident=");
    } else if (strlen(ident) > ANVIL_MAX_IDENT) {
	anvil_error(conn, out, "ident too long");
    } else if (strcmp(request, ANVIL_REQ_CONNECT) == 0) {
	if (anvil_hold(ac, ident) < 0) {
	    anvil_error(conn, out, "too many sessions on one connection");
	} else {
	    anvil_connect(anvil_table, ident, now, &c);
	    anvil_note(ANVIL_MAX_COUNT, c.count, ident);
	    anvil_note(ANVIL_MAX_CONN, c.conn_rate, ident);
	    anvil_reply(out, &c, ANVIL_SHOW_SESSIONS);
	}
    } else if (strcmp(request, ANVIL_REQ_DISCONNECT) == 0) {
	if (anvil_release(ac, ident))
	    anvil_disconnect(anvil_table, ident, now);
	anvil_reply(out, &c, 0);
    } else if (strcmp(request, ANVIL_REQ_MESSAGE) == 0) {
	anvil_message(anvil_table, ident, now, &c);
	anvil_note(ANVIL_MAX_MAIL, c.mail_rate, ident);
	anvil_reply(out, &c, ANVIL_SHOW_MESSAGES);
    } else if (strcmp(request, ANVIL_REQ_AUTH_FAILURE) == 0) {
	anvil_auth_failure(anvil_table, ident, now, &c);
	anvil_note(ANVIL_MAX_AUTH, c.auth_rate, ident);
	anvil_reply(out, &c, ANVIL_SHOW_AUTH);
    } else if (strcmp(request, ANVIL_REQ_LOOKUP) == 0) {
	(void)anvil_lookup(anvil_table, ident, now, &c);
	anvil_reply(out, &c, ANVIL_SHOW_SESSIONS | ANVIL_SHOW_MESSAGES | ANVIL_SHOW_AUTH);
    } else {
	anvil_error(conn, out, "unknown request");
    }
}

/* anvil_conn_open - a new client */
static void anvil_conn_open(event_conn_t *conn, const char *service)
{
    anvil_conn_t *ac = mr_calloc(1, sizeof(*ac));

    event_attr_init(&ac->ea);
    event_conn_set_context(conn, ac);
    event_attr_greet(conn, MAIL_PROTO_ANVIL);
}

/* anvil_conn_input - requests from a client */
static void anvil_conn_input(event_conn_t *conn, const char *buf, size_t len)
{
    anvil_conn_t *ac = event_conn_context(conn);

    event_attr_input(conn, &ac->ea, buf, len, anvil_answer);
}

/* anvil_conn_close - the client is gone: so are the sessions it held */
static void anvil_conn_close(event_conn_t *conn)
{
    anvil_conn_t *ac = event_conn_context(conn);
    long long now = event_now_ms();

    for (size_t i = 0; i < ac->nheld; i++) {
	while (ac->held[i].n-- > 0)
	    anvil_disconnect(anvil_table, ac->held[i].ident, now);
	mr_free(ac->held[i].ident);
    }
    mr_free(ac->held);
    event_attr_done(&ac->ea);
    mr_free(ac);
}

/* anvil_expire_timer - forget idle entries once a rate window */
static void anvil_expire_timer(int fd, int event, void *context)
{
    size_t n = anvil_expire(anvil_table, event_now_ms());

    if (msg_verbose && n > 0)
	msg_info("forgot %zu idle entries, %zu left", n, anvil_table_size(anvil_table));
    event_request_timer(anvil_expire_timer, NULL, (long)anvil_unit_ms);
}

/* anvil_status_timer - the periodic statistics report */
static void anvil_status_timer(int fd, int event, void *context)
{
    anvil_statistics();
    event_request_timer(anvil_status_timer, NULL, config_time("anvil_status_update_time") * 1000L);
}

/* anvil_post_init - the table and its timers */
static void anvil_post_init(const char *service)
{
    anvil_unit_ms = config_time("anvil_rate_time_unit") * 1000LL;
    anvil_table = anvil_table_new(anvil_unit_ms);
    event_request_timer(anvil_expire_timer, NULL, (long)anvil_unit_ms);
    event_request_timer(anvil_status_timer, NULL, config_time("anvil_status_update_time") * 1000L);
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.post_init = anvil_post_init,
	.pre_exit = anvil_statistics,
	.conn_open = anvil_conn_open,
	.conn_input = anvil_conn_input,
	.conn_close = anvil_conn_close,
	.long_lived = 1,
    };

    msg_init("anvil");
    return event_server_main(argc, argv, &params);
}
