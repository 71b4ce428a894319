/*
 * smtpd_peer.c - the client's host name: the PTR record of its address,
 * confirmed by a forward lookup of that name (A for an IPv4 client, AAAA
 * for IPv6) that gives the address back. Anything else is "unknown": no
 * PTR, a PTR that is not a host name, a name that does not resolve to the
 * address, a lookup that fails or takes too long.
 *
 * The name is what the Received: header and every "name[addr]" log line
 * show; no policy decision depends on it (relay permission and limits
 * go by the address), so a wrong name costs nothing but a wrong label.
 *
 * The weak spot is time: a slow name server could hold every new session.
 * Both lookups together get smtpd_peername_timeout: each query is sent
 * once and waits at most what is left of it, and the forward lookup is
 * skipped once it is used up. The resolver (dns_servers) is set up in
 * pre_init, before the chroot.
 *
 * Parameters: smtpd_peername_lookup, smtpd_peername_timeout, dns_servers.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "global/config.h"
#include "global/dns.h"
#include "smtpd.h"
#include "util/msg.h"
#include "util/mymalloc.h"

static int peer_lookup;
static int peer_timeout;

/* smtpd_peer_pre_init - the resolver, while resolv.conf is readable */
void smtpd_peer_pre_init(void)
{
    const char *err;

    if (!config_bool("smtpd_peername_lookup"))
	return;
    if (dns_init(config_str("dns_servers"), &err) < 0)
	msg_fatal("dns_servers: %s", err);
    peer_lookup = 1;
    peer_timeout = (int)config_time("smtpd_peername_timeout");
}

/* smtpd_peer_same_addr - do two numeric addresses name the same host? */
static int smtpd_peer_same_addr(const char *a, const char *b, int family)
{
    unsigned char x[16], y[16];

    if (inet_pton(family, a, x) != 1 || inet_pton(family, b, y) != 1)
	return 0;
    return memcmp(x, y, family == AF_INET6 ? 16 : 4) == 0;
}

/* smtpd_peer_confirm - does name resolve to addr within seconds? */
static int smtpd_peer_confirm(const char *name, const char *addr, int seconds)
{
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    char **addrs;
    size_t count;
    const char *err = "time for the lookup used up";
    int ret = DNS_RETRY, found = 0;

    if (seconds > 0) {
	dns_set_timeout(seconds, 1);
	ret = dns_lookup_family(name, family, &addrs, &count, &err);
    }
    if (ret == DNS_OK) {
	for (size_t i = 0; i < count && !found; i++)
	    found = smtpd_peer_same_addr(addrs[i], addr, family);
	dns_addr_free(&addrs, count);
    }
    if (!found)
	msg_warn("hostname %s does not resolve to address %s%s%s", name, addr,
		 ret == DNS_OK ? "" : ": ", ret == DNS_OK ? "" : err);
    return found;
}

/* smtpd_peer_name - the confirmed name of addr, or "unknown" (mr_free it) */
char *smtpd_peer_name(const char *addr)
{
    time_t start = time(NULL);
    char *name;
    const char *err;
    int ret;

    if (!peer_lookup)
	return mr_strdup("unknown");
    dns_set_timeout(peer_timeout, 1);
    if ((ret = dns_lookup_ptr(addr, &name, &err)) != DNS_OK) {
	if (ret == DNS_RETRY)
	    msg_warn("hostname lookup for %s failed: %s", addr, err);
	return mr_strdup("unknown");
    }
    if (!smtpd_peer_confirm(name, addr, peer_timeout - (int)(time(NULL) - start))) {
	mr_free(name);
	return mr_strdup("unknown");
    }
    return name;
}
