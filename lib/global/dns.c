/*
 * dns.c - MX, A, AAAA and PTR lookups over libresolv (see dns.h).
 *
 * One private res_state per process, set up by dns_init before any
 * chroot (it may read /etc/resolv.conf). Queries go out with res_nquery,
 * which retries over TCP when a reply comes back truncated. Every reply
 * is parsed with ns_initparse/ns_parserr, and names with
 * ns_name_uncompress, so a hostile server cannot walk us out of the
 * buffer or around a compression loop: such a reply is DNS_RETRY.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "util/mymalloc.h"

#define DNS_ANSWER_MAX 65535

static struct __res_state dns_res;
static int dns_ready;
static char dns_errbuf[512];

/* dns_fail - format error text, return result */
static int dns_fail(const char **error_r, int result, const char *fmt, const char *name,
		    const char *type)
{
    snprintf(dns_errbuf, sizeof(dns_errbuf), fmt, name, type);
    *error_r = dns_errbuf;
    return result;
}

/* dns_add_server - one "addr[:port]" into the resolver state */
static int dns_add_server(const char *spec, size_t len)
{
    char buf[64], *colon;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};

    if (len == 0 || len >= sizeof(buf) || dns_res.nscount >= MAXNS)
	return -1;
    memcpy(buf, spec, len);
    buf[len] = 0;
    if ((colon = strchr(buf, ':')) != NULL) {
	char *end;
	long port = strtol(colon + 1, &end, 10);

	if (*end || port < 1 || port > 65535)
	    return -1;
	sin.sin_port = htons((unsigned short)port);
	*colon = 0;
    }
    if (inet_pton(AF_INET, buf, &sin.sin_addr) != 1)
	return -1;
    dns_res.nsaddr_list[dns_res.nscount++] = sin;
    return 0;
}

/* dns_init - resolver state from servers or resolv.conf */
int dns_init(const char *servers, const char **error_r)
{
    const char *p = servers ? servers : "";

    if (res_ninit(&dns_res) != 0) {
	*error_r = "cannot initialize the resolver";
	return -1;
    }
    dns_res.options &= ~(RES_DEFNAMES | RES_DNSRCH);
    dns_res.retrans = 2;
    dns_res.retry = 2;
    p += strspn(p, " ,\t");
    if (*p)
	dns_res.nscount = 0;
    while (*p) {
	size_t len = strcspn(p, " ,\t");

	if (dns_add_server(p, len) < 0)
	    return dns_fail(error_r, -1, "bad name server \"%.100s\" in dns_servers%s", p, "");
	p += len;
	p += strspn(p, " ,\t");
    }
    dns_ready = 1;
    return 0;
}

/* dns_set_timeout - per-query wait and tries */
void dns_set_timeout(int seconds, int tries)
{
    const char *err;

    if (!dns_ready)
	(void)dns_init("", &err);
    dns_res.retrans = seconds < 1 ? 1 : seconds;
    dns_res.retry = tries < 1 ? 1 : tries;
}

/* dns_type_name - a query type for people */
static const char *dns_type_name(int type)
{
    switch (type) {
    case ns_t_mx:
	return "MX";
    case ns_t_a:
	return "A";
    case ns_t_aaaa:
	return "AAAA";
    default:
	return "PTR";
    }
}

/* dns_query - one query: reply length, or a DNS_* failure */
static int dns_query(const char *name, int type, unsigned char *answer, const char **error_r)
{
    const char *tname = dns_type_name(type);
    int len;

    if (!dns_ready && dns_init("", error_r) < 0)
	return DNS_RETRY;
    if (strlen(name) > NS_MAXDNAME - 2)
	return dns_fail(error_r, DNS_NOTFOUND,
			"Name service error for name=%.100s type=%s: "
			"name too long",
			name, tname);
    if ((len = res_nquery(&dns_res, name, ns_c_in, type, answer, DNS_ANSWER_MAX)) >= 0)
	return len;
    switch (dns_res.res_h_errno) {
    case HOST_NOT_FOUND:
	return dns_fail(error_r, DNS_NOTFOUND,
			"Host or domain name not found. Name service "
			"error for name=%.200s type=%s: Host not found",
			name, tname);
    case NO_DATA:
	return dns_fail(error_r, DNS_NODATA,
			"Name service error for name=%.200s type=%s: "
			"No address associated with hostname",
			name, tname);
    default:
	return dns_fail(error_r, DNS_RETRY,
			"Host or domain name not found. Name service "
			"error for name=%.200s type=%s: Host not found, try again",
			name, tname);
    }
}

/* dns_mx_cmp - by preference */
static int dns_mx_cmp(const void *a, const void *b)
{
    const dns_mx_t *x = a, *y = b;

    return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/* dns_parse_mx - MX records from a reply */
int dns_parse_mx(const unsigned char *answer, int len, dns_mx_t **mx_r, size_t *count_r)
{
    ns_msg msg;
    ns_rr rr;
    char host[NS_MAXDNAME];
    dns_mx_t *mx = NULL;
    size_t n = 0;
    int nullmx = 0;

    *mx_r = NULL;
    *count_r = 0;
    if (ns_initparse(answer, len, &msg) < 0)
	return DNS_RETRY;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < DNS_MAX_RECORDS; i++) {
	if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
	    goto bad;
	if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
	    continue;
	if (ns_rr_rdlen(rr) < 3 || ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg),
						      ns_rr_rdata(rr) + 2, host, sizeof(host)) < 0)
	    goto bad;
	if (strcmp(host, ".") == 0 || host[0] == 0) {
	    nullmx = 1;
	    continue;
	}
	mx = mr_reallocarray(mx, n + 1, sizeof(*mx));
	mx[n].pref = ns_get16(ns_rr_rdata(rr));
	mx[n++].host = mr_strdup(host);
    }
    if (nullmx && n == 0)
	return DNS_NULLMX;
    if (n == 0)
	return DNS_NODATA;
    qsort(mx, n, sizeof(*mx), dns_mx_cmp); /* glibc's qsort is a stable merge sort */
    *mx_r = mx;
    *count_r = n;
    return DNS_OK;

bad:
    dns_mx_free(&mx, n);
    return DNS_RETRY;
}

/* dns_parse_addr - A or AAAA records from a reply */
int dns_parse_addr(const unsigned char *answer, int len, int type, char ***addrs_r, size_t *count_r)
{
    ns_msg msg;
    ns_rr rr;
    char buf[INET6_ADDRSTRLEN];
    size_t start = *count_r, want = type == ns_t_a ? 4 : 16;

    if (ns_initparse(answer, len, &msg) < 0)
	return DNS_RETRY;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an) && *count_r < DNS_MAX_RECORDS; i++) {
	if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
	    return DNS_RETRY;
	if ((int)ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in)
	    continue;
	if (ns_rr_rdlen(rr) != want)
	    return DNS_RETRY;
	inet_ntop(type == ns_t_a ? AF_INET : AF_INET6, ns_rr_rdata(rr), buf, sizeof(buf));
	*addrs_r = mr_reallocarray(*addrs_r, *count_r + 1, sizeof(**addrs_r));
	(*addrs_r)[(*count_r)++] = mr_strdup(buf);
    }
    return *count_r > start ? DNS_OK : DNS_NODATA;
}

/* dns_lookup_mx - MX records of domain */
int dns_lookup_mx(const char *domain, dns_mx_t **mx_r, size_t *count_r, const char **error_r)
{
    unsigned char *answer = mr_alloc(DNS_ANSWER_MAX);
    int len, ret;

    *mx_r = NULL;
    *count_r = 0;
    if ((len = dns_query(domain, ns_t_mx, answer, error_r)) < 0 || len == 0) {
	mr_free(answer);
	return len;
    }
    ret = dns_parse_mx(answer, len, mx_r, count_r);
    mr_free(answer);
    if (ret == DNS_RETRY)
	return dns_fail(error_r, ret, "malformed DNS reply for name=%.200s type=%s", domain, "MX");
    if (ret == DNS_NODATA)
	return dns_fail(error_r, ret, "no MX record for name=%.200s%s", domain, "");
    if (ret == DNS_NULLMX)
	return dns_fail(error_r, ret, "Domain %.200s does not accept mail (nullMX)%s", domain, "");
    return ret;
}

/* dns_lookup_types - the address records of host, of each type in turn */
static int dns_lookup_types(const char *host, const int *types, size_t ntypes, char ***addrs_r,
			    size_t *count_r, const char **error_r)
{
    unsigned char *answer = mr_alloc(DNS_ANSWER_MAX);
    int result = DNS_NOTFOUND, len, ret;

    *addrs_r = NULL;
    *count_r = 0;
    for (size_t t = 0; t < ntypes; t++) {
	if ((len = dns_query(host, types[t], answer, error_r)) <= 0) {
	    if (result != DNS_OK &&
		(len == DNS_RETRY || (len == DNS_NODATA && result == DNS_NOTFOUND)))
		result = len;
	    continue;
	}
	if ((ret = dns_parse_addr(answer, len, types[t], addrs_r, count_r)) == DNS_OK)
	    result = DNS_OK;
	else if (ret == DNS_RETRY && result != DNS_OK)
	    result = dns_fail(error_r, ret, "malformed DNS reply for name=%.200s type=%s", host,
			      dns_type_name(types[t]));
    }
    mr_free(answer);
    if (result == DNS_OK)
	return DNS_OK;
    dns_addr_free(addrs_r, *count_r);
    *count_r = 0;
    return result;
}

/* dns_lookup_addr - A and AAAA records of host */
int dns_lookup_addr(const char *host, char ***addrs_r, size_t *count_r, const char **error_r)
{
    static const int types[] = {ns_t_a, ns_t_aaaa};

    return dns_lookup_types(host, types, 2, addrs_r, count_r, error_r);
}

/* dns_lookup_family - A or AAAA records of host */
int dns_lookup_family(const char *host, int family, char ***addrs_r, size_t *count_r,
		      const char **error_r)
{
    int type = family == AF_INET6 ? ns_t_aaaa : ns_t_a;

    return dns_lookup_types(host, &type, 1, addrs_r, count_r, error_r);
}

/* dns_valid_hostname - letters, digits, '-' and '.', sane labels */
int dns_valid_hostname(const char *name)
{
    size_t len = strlen(name), label = 0;

    if (len == 0 || len > 253)
	return 0;
    for (size_t i = 0; i < len; i++) {
	unsigned char ch = (unsigned char)name[i];

	if (ch == '.') {
	    if (label == 0 || name[i - 1] == '-')
		return 0;
	    label = 0;
	} else if (isalnum(ch) || (ch == '-' && label > 0)) {
	    if (++label > 63)
		return 0;
	} else {
	    return 0;
	}
    }
    return label > 0 && name[len - 1] != '-';
}

/* dns_ptr_name - d.c.b.a.in-addr.arpa or the ip6.arpa nibbles */
int dns_ptr_name(const char *addr, char *buf, size_t size)
{
    unsigned char bin[16];
    size_t used = 0;
    static const char hex[] = "0123456789abcdef";

    if (size < DNS_PTR_NAME_MAX)
	return -1;
    if (inet_pton(AF_INET, addr, bin) == 1) {
	snprintf(buf, size, "%u.%u.%u.%u.in-addr.arpa", bin[3], bin[2], bin[1], bin[0]);
	return 0;
    }
    if (inet_pton(AF_INET6, addr, bin) != 1)
	return -1;
    for (int i = 15; i >= 0; i--) {
	buf[used++] = hex[bin[i] & 15];
	buf[used++] = '.';
	buf[used++] = hex[bin[i] >> 4];
	buf[used++] = '.';
    }
    snprintf(buf + used, size - used, "ip6.arpa");
    return 0;
}

/* dns_parse_ptr - the first PTR name of a reply */
int dns_parse_ptr(const unsigned char *answer, int len, char **name_r)
{
    ns_msg msg;
    ns_rr rr;
    char host[NS_MAXDNAME];

    *name_r = NULL;
    if (ns_initparse(answer, len, &msg) < 0)
	return DNS_RETRY;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an) && i < DNS_MAX_RECORDS; i++) {
	if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
	    return DNS_RETRY;
	if (ns_rr_type(rr) != ns_t_ptr || ns_rr_class(rr) != ns_c_in)
	    continue;
	if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr), host,
			       sizeof(host)) < 0)
	    return DNS_RETRY;
	if (!dns_valid_hostname(host))
	    return DNS_NODATA;
	*name_r = mr_strdup(host);
	return DNS_OK;
    }
    return DNS_NODATA;
}

/* dns_lookup_ptr - the name of an address */
int dns_lookup_ptr(const char *addr, char **name_r, const char **error_r)
{
    unsigned char *answer;
    char rname[DNS_PTR_NAME_MAX + 8];
    int len, ret;

    *name_r = NULL;
    if (dns_ptr_name(addr, rname, sizeof(rname)) < 0)
	return dns_fail(error_r, DNS_NOTFOUND, "not a numeric address: %.100s%s", addr, "");
    answer = mr_alloc(DNS_ANSWER_MAX);
    if ((len = dns_query(rname, ns_t_ptr, answer, error_r)) <= 0) {
	mr_free(answer);
	return len == 0 ? DNS_NODATA : len;
    }
    ret = dns_parse_ptr(answer, len, name_r);
    mr_free(answer);
    if (ret == DNS_RETRY)
	return dns_fail(error_r, ret, "malformed DNS reply for name=%.200s type=%s", rname, "PTR");
    if (ret == DNS_NODATA)
	return dns_fail(error_r, ret, "no valid PTR record for name=%.200s%s", rname, "");
    return ret;
}

/* dns_mx_free - free MX records */
void dns_mx_free(dns_mx_t **mxp, size_t count)
{
    if (*mxp == NULL)
	return;
    for (size_t i = 0; i < count; i++)
	mr_free((*mxp)[i].host);
    mr_free(*mxp);
    *mxp = NULL;
}

/* dns_addr_free - free an address list */
void dns_addr_free(char ***addrsp, size_t count)
{
    if (*addrsp == NULL)
	return;
    for (size_t i = 0; i < count; i++)
	mr_free((*addrsp)[i]);
    mr_free(*addrsp);
    *addrsp = NULL;
}
