/*
 * filterd_limit.c - what one client may hold of filterd: sessions at
 * once (filterd_client_connection_limit) and new connections per
 * anvil_rate_time_unit (filterd_client_connection_rate_limit), counted by
 * anvil across every filterd process of the service.
 *
 * Who a client is. filterd listens on loopback, where every local user
 * connects from the same address (or from any 127.0.0.0/8 address it
 * likes), so a client of this host is counted by the uid that owns its
 * socket (util/sock_owner.h), a remote one by its address. The mail
 * owner's sessions (qmgr's filter transport, bounded by that transport's
 * process limit) and root's are not counted: what a local user holds can
 * then never refuse the transport's own sessions.
 *
 * Why a rate too. A filterd process stops accepting after max_use clients
 * and lives on until its last session ends, and the service has a fixed
 * number of processes: without a rate limit a user could drain every
 * process with short connections and keep each one alive with a single
 * session. The rate bounds how fast processes can be drained, and
 * filterd_message_timeout bounds how long one session keeps one.
 *
 * If anvil cannot be asked, the client is served uncounted and a warning
 * is logged (as smtpd does: a missing anvil never stops mail).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "filterd.h"
#include "global/anvil_client.h"
#include "global/config.h"
#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "master/mail_server.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock_owner.h"

static anvil_client_t *filter_anvil; /* NULL: no limit is set */
static long filter_count_limit, filter_rate_limit;

void filter_limit_init(void)
{
    filter_count_limit = config_int("filterd_client_connection_limit", 0, 100000);
    filter_rate_limit = config_int("filterd_client_connection_rate_limit", 0, 1000000000);
    if ((filter_count_limit > 0 || filter_rate_limit > 0) && !server_stand_alone())
	filter_anvil = anvil_client_new(mail_queue_path(MAIL_SOCK_ANVIL));
}

/* filter_limit_who - how the client is counted ("uid:N" or its
 * address) and named in the log; 0 count it, 1 exempt */
static int filter_limit_who(int fd, const char *addr, char *who, size_t len, char *name,
			    size_t namelen)
{
    uid_t uid;
    int r = sock_peer_uid(fd, &uid);

    if (r < 0)
	msg_warn("cannot tell which user holds the socket of client %s: %m", addr);
    if (r > 0 && (uid == 0 || uid == getuid()))
	return 1;
    if (r > 0) {
	snprintf(who, len, "uid:%lu", (unsigned long)uid);
	snprintf(name, namelen, "%s (uid %lu)", addr, (unsigned long)uid);
    } else {
	snprintf(who, len, "%s", addr);
	snprintf(name, namelen, "%s", addr);
    }
    return 0;
}

/* filter_limit_over - the counts against the limits: NULL, or the
 * reply that refuses the client (logged) */
static const char *filter_limit_over(const char *service, const char *name, long count, long rate)
{
    static char reply[256];

    if (filter_count_limit > 0 && count > filter_count_limit) {
	msg_warn("Connection concurrency limit exceeded: %ld from %s for service %s", count, name,
		 service);
	snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many connections from %s",
		 config_str("myhostname"), name);
	return reply;
    }
    if (filter_rate_limit > 0 && rate > filter_rate_limit) {
	msg_warn("Connection rate limit exceeded: %ld from %s for service %s", rate, name, service);
	snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many connections per %lds from %s",
		 config_str("myhostname"), config_time("anvil_rate_time_unit"), name);
	return reply;
    }
    return NULL;
}

const char *filter_limit_open(int fd, const char *addr, const char *service, char **ident_r)
{
    char who[64], name[128];
    const char *why, *ident;
    long count, rate;

    *ident_r = NULL;
    if (filter_anvil == NULL ||
	filter_limit_who(fd, addr, who, sizeof(who), name, sizeof(name)) != 0)
	return NULL;
    ident = anvil_client_ident(service, who);
    if (anvil_client_connect(filter_anvil, ident, &count, &rate, &why) < 0) {
	msg_warn("anvil: %s: client limits not enforced for %s", why, name);
	return NULL;
    }
    *ident_r = mr_strdup(ident);
    return filter_limit_over(service, name, count, rate);
}

void filter_limit_close(char **ident)
{
    const char *why;

    if (*ident == NULL)
	return;
    if (anvil_client_disconnect(filter_anvil, *ident, &why) < 0 && msg_verbose)
	msg_info("anvil: %s", why);
    mr_free(*ident);
    *ident = NULL;
}
