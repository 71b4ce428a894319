/*
 * smtpd_anvil.c - limits per client address, counted by anvil.
 *
 * smtpd processes serve one client each, so what one client address does
 * across processes is counted by the anvil service (anvil/anvil.c) in
 * memory: at connect smtpd reports the session and gets back the
 * sessions that address has open and its connections in this
 * anvil_rate_time_unit, both including this one; at the end it reports
 * the disconnect. Above smtpd_client_connection_count_limit or
 * smtpd_client_connection_rate_limit the client gets 421 4.7.0 and the
 * session ends (as in Postfix, the rejected connection was counted).
 * Each MAIL FROM is reported as a message; above
 * smtpd_client_message_rate_limit it gets 450 4.7.1 (the session goes on).
 * Each failed AUTH is reported too; a client that has failed
 * smtpd_client_auth_rate_limit times in this window, in any of its
 * sessions, gets 421 4.7.0 at its next AUTH, without a password being
 * tried, and the session ends (docs/decisions.md says why at AUTH and
 * not at connect).
 *
 * anvil ties each session to smtpd's connection to it, so a killed smtpd
 * leaks no count. If anvil cannot be asked (down, restarting, throttled)
 * smtpd logs a warning and serves the client without counting: a
 * missing counter must not stop mail. Clients in
 * smtpd_client_event_limit_exceptions (default $mynetworks) are not
 * counted, and neither is the one client of a stand-alone smtpd (-S:
 * sendmail -bs, run by a local user who may not reach anvil's socket).
 * Nothing is kept on disk.
 */
#include <stdio.h>

#include "global/net_list.h"
#include "global/anvil_client.h"
#include "global/config.h"
#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "master/mail_server.h"
#include "util/msg.h"
#include "smtpd.h"

static anvil_client_t *smtpd_anvil; /* NULL: no limit is set */
static long smtpd_count_limit, smtpd_rate_limit, smtpd_mail_limit, smtpd_auth_limit;
static int smtpd_anvil_counted; /* this session was reported */

/* smtpd_anvil_init - after the privilege drop: is anvil needed at all? */
void smtpd_anvil_init(void)
{
    smtpd_count_limit = config_int("smtpd_client_connection_count_limit", 0, 100000);
    smtpd_rate_limit = config_int("smtpd_client_connection_rate_limit", 0, 1000000000);
    smtpd_mail_limit = config_int("smtpd_client_message_rate_limit", 0, 1000000000);
    smtpd_auth_limit = config_int("smtpd_client_auth_rate_limit", 0, 1000000000);
    if ((smtpd_count_limit > 0 || smtpd_rate_limit > 0 || smtpd_mail_limit > 0 ||
	 smtpd_auth_limit > 0) &&
	!server_stand_alone())
	smtpd_anvil = anvil_client_new(mail_queue_path(MAIL_SOCK_ANVIL));
}

/* smtpd_anvil_unit - "minute", or "N seconds", for the rate reply */
static const char *smtpd_anvil_unit(void)
{
    static char buf[40];
    long unit = config_time("anvil_rate_time_unit");

    if (unit == 60)
	return "minute";
    snprintf(buf, sizeof(buf), "%ld seconds", unit);
    return buf;
}

/* smtpd_anvil_over - check the counts; 0 within the limits, else 1 (421 sent) */
static int smtpd_anvil_over(smtpd_state_t *st, long count, long rate)
{
    if (smtpd_count_limit > 0 && count > smtpd_count_limit) {
	msg_warn("Connection concurrency limit exceeded: %ld from %s for service %s", count,
		 st->namaddr, st->service);
	smtpd_reply(st, "421 4.7.0 %s Error: too many connections from %s", var_myhostname,
		    st->addr);
	return 1;
    }
    if (smtpd_rate_limit > 0 && rate > smtpd_rate_limit) {
	msg_warn("Connection rate limit exceeded: %ld from %s for service %s", rate, st->namaddr,
		 st->service);
	smtpd_reply(st, "421 4.7.0 %s Error: too many connections per %s from %s", var_myhostname,
		    smtpd_anvil_unit(), st->addr);
	return 1;
    }
    return 0;
}

/* smtpd_anvil_exempt - is this client not to be counted? */
static int smtpd_anvil_exempt(smtpd_state_t *st)
{
    return net_list_match(st->addr, config_str("smtpd_client_event_limit_exceptions"));
}

/* smtpd_anvil_connect - report the session; 1 serve it, 0 over a limit */
int smtpd_anvil_connect(smtpd_state_t *st)
{
    const char *why;
    long count, rate;

    smtpd_anvil_counted = 0;
    if (smtpd_anvil == NULL || (smtpd_count_limit == 0 && smtpd_rate_limit == 0) ||
	smtpd_anvil_exempt(st))
	return 1;
    if (anvil_client_connect(smtpd_anvil, anvil_client_ident(st->service, st->addr), &count, &rate,
			     &why) < 0) {
	msg_warn("anvil: %s: client limits not enforced for %s", why, st->namaddr);
	return 1;
    }
    smtpd_anvil_counted = 1;
    return !smtpd_anvil_over(st, count, rate);
}

/* smtpd_anvil_disconnect - the session is over */
void smtpd_anvil_disconnect(smtpd_state_t *st)
{
    const char *why;

    if (!smtpd_anvil_counted)
	return;
    smtpd_anvil_counted = 0;
    if (anvil_client_disconnect(smtpd_anvil, anvil_client_ident(st->service, st->addr), &why) < 0 &&
	msg_verbose)
	msg_info("anvil: %s", why);
}

/* smtpd_anvil_message - count a MAIL FROM; 1 go on, 0 over the limit */
int smtpd_anvil_message(smtpd_state_t *st)
{
    const char *why;
    long rate;

    if (smtpd_anvil == NULL || smtpd_mail_limit == 0 || smtpd_anvil_exempt(st))
	return 1;
    if (anvil_client_message(smtpd_anvil, anvil_client_ident(st->service, st->addr), &rate, &why) <
	0) {
	msg_warn("anvil: %s: client limits not enforced for %s", why, st->namaddr);
	return 1;
    }
    if (rate > smtpd_mail_limit) {
	msg_warn("Message delivery request rate limit exceeded: %ld from %s for service %s", rate,
		 st->namaddr, st->service);
	return 0;
    }
    return 1;
}

/* smtpd_anvil_auth_counted - are this client's AUTH failures counted? */
static int smtpd_anvil_auth_counted(smtpd_state_t *st)
{
    return smtpd_anvil != NULL && smtpd_auth_limit > 0 && !smtpd_anvil_exempt(st);
}

/* smtpd_anvil_auth - before an AUTH exchange; 1 go on, 0 over the limit
 * (421 sent, the session ends) */
int smtpd_anvil_auth(smtpd_state_t *st)
{
    const char *why;
    long rate;

    if (!smtpd_anvil_auth_counted(st))
	return 1;
    if (anvil_client_auth_lookup(smtpd_anvil, anvil_client_ident(st->service, st->addr), &rate,
				 &why) < 0) {
	msg_warn("anvil: %s: client limits not enforced for %s", why, st->namaddr);
	return 1;
    }
    if (rate < smtpd_auth_limit)
	return 1;
    msg_warn("AUTH failure rate limit exceeded: %ld from %s for service %s", rate, st->namaddr,
	     st->service);
    smtpd_reply(st, "421 4.7.0 %s Error: too many failed authentications per %s from %s",
		var_myhostname, smtpd_anvil_unit(), st->addr);
    st->done = 1;
    return 0;
}

/* smtpd_anvil_auth_failed - report a failed AUTH */
void smtpd_anvil_auth_failed(smtpd_state_t *st)
{
    const char *why;
    long rate;

    if (smtpd_anvil_auth_counted(st) &&
	anvil_client_auth_failure(smtpd_anvil, anvil_client_ident(st->service, st->addr), &rate,
				  &why) < 0)
	msg_warn("anvil: %s: client limits not enforced for %s", why, st->namaddr);
}
