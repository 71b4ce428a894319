/*
 * test_dns.c - the DNS reply parsers with well-formed and hostile replies
 * built byte by byte: MX preference order, null MX, compression loops,
 * replies cut at every length, record counts that lie, bad address
 * lengths; PTR replies and the names they may give, reverse names.
 */
#include <arpa/nameser.h>
#include <string.h>

#include "unit_helpers.h"
#include "global/dns.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* put16 - a 16-bit big-endian number */
static void put16(str_t *m, unsigned v)
{
    str_appendc(m, (int)(v >> 8) & 0xff);
    str_appendc(m, (int)v & 0xff);
}

/* put_name - a name as labels ("a.example") */
static void put_name(str_t *m, const char *name)
{
    while (*name) {
	size_t n = strcspn(name, ".");

	str_appendc(m, (int)n);
	str_append(m, name, n);
	name += n + (name[n] == '.');
    }
    str_appendc(m, 0);
}

/* reply_start - header and question for example.test, ancount answers */
static str_t *reply_start(unsigned ancount, unsigned qtype)
{
    str_t *m = str_new(512);

    put16(m, 0x1234);
    put16(m, 0x8180); /* response, RD, RA, NOERROR */
    put16(m, 1);
    put16(m, ancount);
    put16(m, 0);
    put16(m, 0);
    put_name(m, "example.test"); /* at offset 12 */
    put16(m, qtype);
    put16(m, ns_c_in);
    return m;
}

/* rr_start - an answer for the question's name (pointer to 12) */
static void rr_start(str_t *m, unsigned type, unsigned rdlen)
{
    put16(m, 0xc00c);
    put16(m, type);
    put16(m, ns_c_in);
    put16(m, 0);
    put16(m, 60);
    put16(m, rdlen);
}

/* put_mx - one MX record */
static void put_mx(str_t *m, unsigned pref, const char *host)
{
    str_t *rd = str_new(64);

    put16(rd, pref);
    put_name(rd, host);
    rr_start(m, ns_t_mx, (unsigned)str_len(rd));
    str_append(m, str_data(rd), str_len(rd));
    str_free(&rd);
}

#define DATA(m) ((const unsigned char *)str_data(m)), ((int)str_len(m))

static void test_mx_order(void **state)
{
    str_t *m = reply_start(3, ns_t_mx);
    dns_mx_t *mx;
    size_t n;

    put_mx(m, 20, "b.example.test");
    put_mx(m, 10, "a.example.test");
    put_mx(m, 20, "c.example.test");
    assert_int_equal(dns_parse_mx(DATA(m), &mx, &n), DNS_OK);
    assert_int_equal(n, 3);
    assert_string_equal(mx[0].host, "a.example.test");
    assert_int_equal(mx[0].pref, 10);
    assert_string_equal(mx[1].host, "b.example.test"); /* stable */
    assert_string_equal(mx[2].host, "c.example.test");
    dns_mx_free(&mx, n);
    assert_null(mx);
    str_free(&m);
}

static void test_null_mx_and_nodata(void **state)
{
    str_t *m = reply_start(1, ns_t_mx);
    str_t *empty = reply_start(0, ns_t_mx);
    dns_mx_t *mx;
    size_t n;

    put_mx(m, 0, "");
    assert_int_equal(dns_parse_mx(DATA(m), &mx, &n), DNS_NULLMX);
    assert_null(mx);
    assert_int_equal(dns_parse_mx(DATA(empty), &mx, &n), DNS_NODATA);
    str_free(&m);
    str_free(&empty);
}

static void test_compression_loop(void **state)
{
    str_t *m = reply_start(1, ns_t_mx);
    size_t at;
    dns_mx_t *mx;
    size_t n;

    rr_start(m, ns_t_mx, 4);
    put16(m, 10);
    at = str_len(m); /* a pointer to itself */
    put16(m, 0xc000 | (unsigned)at);
    assert_int_equal(dns_parse_mx(DATA(m), &mx, &n), DNS_RETRY);
    assert_null(mx);
    str_free(&m);
}

static void test_cut_at_every_length(void **state)
{
    str_t *m = reply_start(2, ns_t_mx);
    dns_mx_t *mx;
    size_t n, full;

    put_mx(m, 10, "a.example.test");
    put_mx(m, 20, "b.example.test");
    full = str_len(m);
    for (size_t len = 0; len < full; len++) {
	int ret = dns_parse_mx((const unsigned char *)str_data(m), (int)len, &mx, &n);

	assert_int_equal(ret, DNS_RETRY);
	assert_null(mx);
    }
    assert_int_equal(dns_parse_mx(DATA(m), &mx, &n), DNS_OK);
    dns_mx_free(&mx, n);
    str_free(&m);
}

static void test_count_lies(void **state)
{
    str_t *m = reply_start(5, ns_t_mx); /* says 5, holds 1 */
    dns_mx_t *mx;
    size_t n;

    put_mx(m, 10, "a.example.test");
    assert_int_equal(dns_parse_mx(DATA(m), &mx, &n), DNS_RETRY);
    assert_null(mx);
    str_free(&m);
}

static void test_addresses(void **state)
{
    str_t *m = reply_start(2, ns_t_a);
    str_t *bad = reply_start(1, ns_t_a);
    str_t *six = reply_start(1, ns_t_aaaa);
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    char **addrs = NULL;
    size_t n = 0;

    rr_start(m, ns_t_a, 4);
    str_append(m, "\x7f\x00\x00\x03", 4);
    rr_start(m, ns_t_a, 4);
    str_append(m, "\xc0\x00\x02\x01", 4);
    assert_int_equal(dns_parse_addr(DATA(m), ns_t_a, &addrs, &n), DNS_OK);
    rr_start(six, ns_t_aaaa, 16);
    str_append(six, (const char *)v6, 16);
    assert_int_equal(dns_parse_addr(DATA(six), ns_t_aaaa, &addrs, &n), DNS_OK);
    assert_int_equal(n, 3);
    assert_string_equal(addrs[0], "127.0.0.3");
    assert_string_equal(addrs[1], "192.0.2.1");
    assert_string_equal(addrs[2], "2001:db8::1");
    dns_addr_free(&addrs, n);
    n = 0;
    rr_start(bad, ns_t_a, 3); /* an A record of 3 bytes */
    str_append(bad, "\x7f\x00\x00", 3);
    assert_int_equal(dns_parse_addr(DATA(bad), ns_t_a, &addrs, &n), DNS_RETRY);
    assert_int_equal(n, 0);
    str_free(&m);
    str_free(&bad);
    str_free(&six);
}

/* put_ptr - one PTR record */
static void put_ptr(str_t *m, const char *host)
{
    str_t *rd = str_new(64);

    put_name(rd, host);
    rr_start(m, ns_t_ptr, (unsigned)str_len(rd));
    str_append(m, str_data(rd), str_len(rd));
    str_free(&rd);
}

static void test_ptr(void **state)
{
    str_t *m = reply_start(2, ns_t_ptr);
    str_t *bad = reply_start(1, ns_t_ptr);
    str_t *none = reply_start(0, ns_t_ptr);
    char *name;

    put_ptr(m, "Host-1.example.test");
    put_ptr(m, "second.example.test");
    assert_int_equal(dns_parse_ptr(DATA(m), &name), DNS_OK);
    assert_string_equal(name, "Host-1.example.test"); /* the first */
    mr_free(name);
    put_ptr(bad, "bad name.example.test");
    assert_int_equal(dns_parse_ptr(DATA(bad), &name), DNS_NODATA);
    assert_null(name);
    assert_int_equal(dns_parse_ptr(DATA(none), &name), DNS_NODATA);
    for (size_t len = 0; len < str_len(m); len++) { /* cut anywhere */
	int ret = dns_parse_ptr((const unsigned char *)str_data(m), (int)len, &name);

	assert_true(ret == DNS_RETRY || ret == DNS_NODATA);
	assert_null(name);
    }
    str_free(&m);
    str_free(&bad);
    str_free(&none);
}

static void test_hostname_rules(void **state)
{
    static const char *good[] = {"a", "mx.example.test", "a-b.c1.test", "1.2.3.4.example"};
    static const char *bad[] = {"",         ".",   "a..b",    "-a.test",   "a-.test",
				"a_b.test", "a b", "a.test.", "\001.test", "caf\303\251.test"};
    char label[80];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
	assert_true(dns_valid_hostname(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	assert_false(dns_valid_hostname(bad[i]));
    memset(label, 'a', 64);
    label[64] = 0; /* a label of 64 bytes */
    assert_false(dns_valid_hostname(label));
    label[63] = 0;
    assert_true(dns_valid_hostname(label));
}

static void test_ptr_names(void **state)
{
    char buf[DNS_PTR_NAME_MAX];

    assert_int_equal(dns_ptr_name("192.0.2.10", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "10.2.0.192.in-addr.arpa");
    assert_int_equal(dns_ptr_name("2001:db8::1", buf, sizeof(buf)), 0);
    assert_string_equal(buf,
			"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    assert_int_equal(dns_ptr_name("not-an-address", buf, sizeof(buf)), -1);
    assert_int_equal(dns_ptr_name("192.0.2.10", buf, 10), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_mx_order),
	cmocka_unit_test(test_null_mx_and_nodata),
	cmocka_unit_test(test_compression_loop),
	cmocka_unit_test(test_cut_at_every_length),
	cmocka_unit_test(test_count_lies),
	cmocka_unit_test(test_addresses),
	cmocka_unit_test(test_ptr),
	cmocka_unit_test(test_hostname_rules),
	cmocka_unit_test(test_ptr_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
