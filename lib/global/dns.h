/*
 * dns.h - DNS lookups (MX, A, AAAA, PTR) over glibc's libresolv with a private
 * resolver state.
 *
 * The name servers come from dns_servers ("127.0.0.1:5353, 10.0.0.1";
 * IPv4 addresses, port 53 by default); empty means /etc/resolv.conf.
 * dns_init reads them once, before a chroot. Replies are parsed with
 * libresolv's own parser (ns_initparse, ns_parserr, ns_name_uncompress),
 * which bounds every record and name and rejects compression loops; a
 * reply that does not parse is a temporary failure, never "no such
 * domain".
 *
 * Results: DNS_OK (records found), DNS_NOTFOUND (the name does not
 * exist: NXDOMAIN), DNS_NODATA (the name exists, no record of that
 * type), DNS_RETRY (time-out, server failure, malformed reply: try
 * later), DNS_NULLMX (MX only: the domain publishes RFC 7505 "0 .").
 * Text for people comes back in *error_r (static, valid until the next
 * call) whenever the result is not DNS_OK.
 */
#ifndef MR_DNS_H
#define MR_DNS_H

#include <stddef.h>

#define DNS_OK 1
#define DNS_NOTFOUND 0
#define DNS_NODATA (-1)
#define DNS_RETRY (-2)
#define DNS_NULLMX (-3)

#define DNS_MAX_RECORDS 100 /* records kept from one reply */

typedef struct dns_mx {
    unsigned pref;
    char *host; /* without the trailing dot */
} dns_mx_t;

/* dns_init - set up the resolver from servers ("" : resolv.conf); 0 ok,
 * -1 (*error_r) on a malformed server list or resolver failure */
int dns_init(const char *servers, const char **error_r);

/* dns_lookup_mx - MX records of domain, sorted by preference (stable:
 * records of equal preference keep the server's order) */
int dns_lookup_mx(const char *domain, dns_mx_t **mx_r, size_t *count_r, const char **error_r);
/* dns_mx_free - free what dns_lookup_mx returned; sets *mxp to NULL */
void dns_mx_free(dns_mx_t **mxp, size_t count);

/* dns_lookup_addr - A then AAAA records of host as numeric strings
 * (DNS_OK if either type gave one) */
int dns_lookup_addr(const char *host, char ***addrs_r, size_t *count_r, const char **error_r);
/* dns_lookup_family - the same for one family only (AF_INET: A records,
 * AF_INET6: AAAA records) */
int dns_lookup_family(const char *host, int family, char ***addrs_r, size_t *count_r,
		      const char **error_r);

/* dns_lookup_ptr - the name of a numeric IPv4 or IPv6 address: the first
 * PTR record of its in-addr.arpa or ip6.arpa name, without the trailing
 * dot, in *name_r (mr_free it). Only a well-formed host name counts
 * (letters, digits, '-', '.'; labels of 1 to 63 bytes): any other PTR is
 * DNS_NODATA. DNS_NOTFOUND for a malformed address. */
int dns_lookup_ptr(const char *addr, char **name_r, const char **error_r);

/* dns_set_timeout - from now on, each query waits seconds (at least 1)
 * for a reply and is sent tries times (at least 1) */
void dns_set_timeout(int seconds, int tries);
/* dns_addr_free - free an address list; sets *addrsp to NULL */
void dns_addr_free(char ***addrsp, size_t count);

/*
 * The reply parsers, exposed for the unit test and the fuzzer: answer
 * is a whole DNS message of len bytes for name. They return DNS_OK,
 * DNS_NODATA (no record of the type in the answer), DNS_NULLMX or
 * DNS_RETRY (malformed).
 */
int dns_parse_mx(const unsigned char *answer, int len, dns_mx_t **mx_r, size_t *count_r);
int dns_parse_addr(const unsigned char *answer, int len, int type, char ***addrs_r,
		   size_t *count_r);
int dns_parse_ptr(const unsigned char *answer, int len, char **name_r);
/* dns_ptr_name - the reverse-lookup name of a numeric address into buf
 * (at least DNS_PTR_NAME_MAX bytes): 0 ok, -1 not an address */
#define DNS_PTR_NAME_MAX 80
int dns_ptr_name(const char *addr, char *buf, size_t size);
/* dns_valid_hostname - 1 if name is a host name (see dns_lookup_ptr) */
int dns_valid_hostname(const char *name);

#endif
