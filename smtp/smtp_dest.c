/*
 * smtp_dest.c - where a next hop leads: the list of addresses to try.
 *
 * "[host]:port" and "[host]" name one host (no MX lookup); "host:port"
 * and "domain" name a mail domain; "unix:/path" a Unix socket. The port
 * defaults to 25 (smtp) or 24 (lmtp). Host names are turned into
 * addresses by the system resolver; each address is one destination, in
 * the resolver's order.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "smtp.h"
#include "util/mymalloc.h"

/* smtp_dest_init - nothing to read yet */
void    smtp_dest_init(void)
{
}

/* smtp_dest_add - append one destination */
static void smtp_dest_add(smtp_dest_list_t *dl, const char *host, const char *addr,
			  int family, const char *port)
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

/* smtp_dest_host - every address of host */
static int smtp_dest_host(smtp_dest_list_t *dl, const char *host, const char *port,
			  const char **error_r)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    char    addr[INET6_ADDRSTRLEN];
    int     err;

    if ((err = getaddrinfo(host, NULL, &hints, &res)) != 0) {
	static char buf[300];

	snprintf(buf, sizeof(buf), "Host or domain name not found: %.200s: %s", host,
		 gai_strerror(err));
	*error_r = buf;
	return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
	const void *a = ai->ai_family == AF_INET6
	    ? (const void *) &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr
	    : (const void *) &((struct sockaddr_in *) ai->ai_addr)->sin_addr;

	if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
	    continue;
	inet_ntop(ai->ai_family, a, addr, sizeof(addr));
	smtp_dest_add(dl, host, addr, ai->ai_family, port);
    }
    freeaddrinfo(res);
    return 0;
}

/* smtp_dest_split - host and port of a next hop (in place); 1 if the
 * host was in brackets (no MX lookup) */
static int smtp_dest_split(char *hop, char **host_r, const char **port_r)
{
    char   *colon;

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
    char   *hop = mr_strdup(nexthop), *host;
    const char *port = lmtp ? "24" : "25";

    if (strncmp(hop, "unix:", 5) == 0) {
	smtp_dest_add(dl, "localhost", hop + 5, AF_UNIX, NULL);
    } else {
	(void) smtp_dest_split(hop, &host, &port);
	if (*host == 0 || strspn(port, "0123456789") != strlen(port)) {
	    *error_r = "malformed next hop";
	    *dsn_r = "4.3.5";
	} else if (smtp_dest_host(dl, host, port, error_r) < 0) {
	    *dsn_r = "4.4.3";
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
void    smtp_dest_free(smtp_dest_list_t **dlp)
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
