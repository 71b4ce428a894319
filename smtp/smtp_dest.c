/*
 * smtp_dest.c - where a next hop leads: the list of addresses to try.
 *
 * "[host]:port" and "[host]" name one host (no MX lookup); "host:port"
 * and "domain" name a mail domain: its MX hosts in preference order, or,
 * when it has no MX record, the domain's own address records (RFC 5321
 * section 5.1). A null MX (RFC 7505, "0 .") means the domain takes no
 * mail: 5.1.10. "unix:/path" is a Unix socket. The port defaults to 25
 * (smtp) or 24 (lmtp). Names are looked up in the DNS (lib/global/dns,
 * dns_servers), never in /etc/hosts; numeric addresses are used as they
 * are. Each address (A first, then AAAA) is one destination.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "global/config.h"
#include "global/dns.h"
#include "smtp.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* smtp_dest_init - the resolver, while resolv.conf is readable */
void smtp_dest_init(void)
{
    const char *err;

    if (dns_init(config_str("dns_servers"), &err) < 0)
	msg_fatal("dns_servers: %s", err);
}

/* smtp_dest_add - append one destination */
static void smtp_dest_add(smtp_dest_list_t *dl, const char *host, const char *addr, int family,
			  const char *port)
{
    smtp_dest_t *d;

    dl->dests = mr_reallocarray(dl->dests, dl->count + 1, sizeof(*dl->dests));
    d = dl->dests + dl->count++;
    d->host = mr_strdup(host);
    if (family == AF_UNIX) {
	d->connect = mr_format("unix:%s", addr);
	d->relay = mr_strdup(addr);
    } else {
	d->connect = mr_format(family == AF_INET6 ? "[%s]:%s" : "%s:%s", addr, port);
	d->relay = mr_format("%s[%s]:%s", host, addr, port);
    }
}

/* smtp_dest_host - every address of host: DNS_OK or why not */
static int smtp_dest_host(smtp_dest_list_t *dl, const char *host, const char *port,
			  const char **error_r)
{
    unsigned char bin[sizeof(struct in6_addr)];
    char **addrs;
    size_t count;
    int ret;

    if (inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1) {
	smtp_dest_add(dl, host, host, strchr(host, ':') ? AF_INET6 : AF_INET, port);
	return DNS_OK;
    }
    if ((ret = dns_lookup_addr(host, &addrs, &count, error_r)) != DNS_OK)
	return ret;
    for (size_t i = 0; i < count; i++)
	smtp_dest_add(dl, host, addrs[i], strchr(addrs[i], ':') ? AF_INET6 : AF_INET, port);
    dns_addr_free(&addrs, count);
    return DNS_OK;
}

/* smtp_dest_mx - the addresses of domain's MX hosts, or of the domain
 * itself when it has no MX record: DNS_OK or why not */
static int smtp_dest_mx(smtp_dest_list_t *dl, const char *domain, const char *port,
			const char **error_r)
{
    dns_mx_t *mx;
    size_t count;
    int ret, any = DNS_RETRY;

    if ((ret = dns_lookup_mx(domain, &mx, &count, error_r)) == DNS_NODATA)
	return smtp_dest_host(dl, domain, port, error_r);
    if (ret != DNS_OK)
	return ret;
    for (size_t i = 0; i < count; i++)
	if (smtp_dest_host(dl, mx[i].host, port, error_r) == DNS_OK)
	    any = DNS_OK;
    dns_mx_free(&mx, count);
    return any;
}

/* smtp_dest_dsn - the status of a failed lookup */
static const char *smtp_dest_dsn(int ret)
{
    switch (ret) {
    case DNS_NULLMX:
	return "5.1.10";
    case DNS_NOTFOUND:
    case DNS_NODATA:
	return "5.4.4";
    default:
	return "4.4.3";
    }
}

/* smtp_dest_split - host and port of a next hop (in place); 1 if the
 * host was in brackets (no MX lookup) */
static int smtp_dest_split(char *hop, char **host_r, const char **port_r)
{
    char *colon;

    if (hop[0] == '[' && (colon = strchr(hop, ']')) != NULL) {
	*colon = 0;
	*host_r = hop + 1;
	if (colon[1] == ':' && colon[2])
	    *port_r = colon + 2;
	return 1;
    }
    *host_r = hop;
    if ((colon = strrchr(hop, ':')) != NULL && strchr(hop, ':') == colon) {
	*colon = 0;
	if (colon[1])
	    *port_r = colon + 1;
    }
    return 0;
}

/* smtp_dest_resolve - the destinations of a next hop */
smtp_dest_list_t *smtp_dest_resolve(const char *nexthop, int lmtp, const char **dsn_r,
				    const char **error_r)
{
    smtp_dest_list_t *dl = mr_calloc(1, sizeof(*dl));
    char *hop = mr_strdup(nexthop), *host;
    const char *port = lmtp ? "24" : "25";

    if (strncmp(hop, "unix:", 5) == 0) {
	smtp_dest_add(dl, "localhost", hop + 5, AF_UNIX, NULL);
    } else {
	int bracket = smtp_dest_split(hop, &host, &port), ret;

	if (*host == 0 || strspn(port, "0123456789") != strlen(port)) {
	    *error_r = "malformed next hop";
	    *dsn_r = "4.3.5";
	} else if ((ret = bracket ? smtp_dest_host(dl, host, port, error_r)
				  : smtp_dest_mx(dl, host, port, error_r)) != DNS_OK) {
	    *dsn_r = smtp_dest_dsn(ret);
	}
    }
    mr_free(hop);
    if (dl->count == 0) {
	if (*error_r == NULL)
	    *error_r = "no address to connect to";
	smtp_dest_free(&dl);
    }
    return dl;
}

/* smtp_dest_free - free the list */
void smtp_dest_free(smtp_dest_list_t **dlp)
{
    smtp_dest_list_t *dl = *dlp;

    if (dl == NULL)
	return;
    for (size_t i = 0; i < dl->count; i++) {
	mr_free(dl->dests[i].host);
	mr_free(dl->dests[i].connect);
	mr_free(dl->dests[i].relay);
    }
    mr_free(dl->dests);
    mr_free(dl);
    *dlp = NULL;
}
