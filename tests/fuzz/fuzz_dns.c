/*
 * fuzz_dns.c - libFuzzer target for the DNS reply parsers
 * (lib/global/dns.c): any bytes as an MX, A, AAAA and PTR reply. The parsers
 * must not read outside the input, must free what they allocate on
 * failure, and must return one of their documented results.
 */
#include <arpa/nameser.h>
#include <stdint.h>
#include <stdlib.h>

#include "global/dns.h"
#include "util/mymalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dns_mx_t *mx;
    char **addrs = NULL, *name;
    size_t n, na = 0;
    int ret;

    if (size > 65535)
	return 0;
    ret = dns_parse_mx(data, (int)size, &mx, &n);
    if (ret != DNS_OK && ret != DNS_NODATA && ret != DNS_NULLMX && ret != DNS_RETRY)
	abort();
    if (ret == DNS_OK && (n == 0 || mx == NULL))
	abort();
    dns_mx_free(&mx, n);
    (void)dns_parse_addr(data, (int)size, ns_t_a, &addrs, &na);
    (void)dns_parse_addr(data, (int)size, ns_t_aaaa, &addrs, &na);
    if (na > 2 * DNS_MAX_RECORDS)
	abort();
    dns_addr_free(&addrs, na);
    ret = dns_parse_ptr(data, (int)size, &name);
    if (ret != DNS_OK && ret != DNS_NODATA && ret != DNS_RETRY)
	abort();
    if ((ret == DNS_OK) != (name != NULL) || (name && !dns_valid_hostname(name)))
	abort();
    mr_free(name);
    return 0;
}
