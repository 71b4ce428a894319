/*
 * test_record.c - queue-file records: round trip, varint edges, every
 * truncation point, byte-at-a-time parsing, hostile lengths.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "queue/record.h"
#include "util/str.h"
#include "util/stream.h"

/* sample - a small but complete file image */
static str_t *sample(void)
{
    str_t *s = str_new(100);
    char big[300];

    memset(big, 'x', sizeof(big));
    rec_encode(s, REC_TYPE_TIME, "1700000000.123456", 17);
    rec_encode(s, REC_TYPE_SENDER, "", 0);
    rec_encode(s, REC_TYPE_RCPT, "a@example.com", 13);
    rec_encode(s, REC_TYPE_ATTR, "helo=x", 6);
    rec_encode(s, REC_TYPE_MESG, "", 0);
    rec_encode(s, REC_TYPE_NORM, "Subject: hi", 11);
    rec_encode(s, REC_TYPE_CONT, big, sizeof(big));
    rec_encode(s, REC_TYPE_NORM, "a\0b", 3);
    rec_encode(s, REC_TYPE_END, "", 0);
    return s;
}

static const int sample_types[] = {
    REC_TYPE_TIME, REC_TYPE_SENDER, REC_TYPE_RCPT, REC_TYPE_ATTR, REC_TYPE_MESG,
    REC_TYPE_NORM, REC_TYPE_CONT,   REC_TYPE_NORM, REC_TYPE_END,
};
#define SAMPLE_COUNT (int)(sizeof(sample_types) / sizeof(sample_types[0]))

/* parse_all - feed buf in chunks of step bytes; returns records seen,
 * or -1 on error; *boundary_r says if it ended between records */
static int parse_all(const str_t *buf, size_t step, int *boundary_r)
{
    rec_parser_t p = {0};
    size_t off = 0, used;
    int n = 0, ret;

    rec_parser_init(&p);
    while (off < str_len(buf)) {
	size_t len = str_len(buf) - off < step ? str_len(buf) - off : step;

	while (len > 0) {
	    if ((ret = rec_parse(&p, str_data(buf) + off, len, &used)) < 0) {
		rec_parser_free(&p);
		return -1;
	    }
	    off += used;
	    len -= used;
	    if (ret == 1) {
		assert_int_equal(p.type, sample_types[n]);
		n++;
	    }
	}
    }
    *boundary_r = rec_parser_boundary(&p);
    rec_parser_free(&p);
    return n;
}

/* test_varint_edges - lengths around each 7-bit boundary round trip */
static void test_varint_edges(void **state)
{
    size_t lens[] = {0, 1, 127, 128, 16383, 16384, REC_MAX_LEN - 1, REC_MAX_LEN};
    unsigned char buf[REC_VARINT_MAX];

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
	str_t *s = str_new(lens[i] + 10);
	char *data = calloc(1, lens[i] + 1);
	rec_parser_t p = {0};
	size_t used;

	memset(data, 'q', lens[i]);
	rec_encode(s, REC_TYPE_NORM, data, lens[i]);
	assert_int_equal(str_len(s), rec_wire_size(lens[i]));
	assert_int_equal(str_len(s), 1 + rec_varint_encode(buf, lens[i]) + lens[i]);
	rec_parser_init(&p);
	assert_int_equal(rec_parse(&p, str_data(s), str_len(s), &used), 1);
	assert_int_equal(used, str_len(s));
	assert_int_equal(str_len(p.value), lens[i]);
	assert_memory_equal(str_data(p.value), data, lens[i]);
	rec_parser_free(&p);
	free(data);
	str_free(&s);
    }
    assert_int_equal(rec_varint_encode(buf, 127), 1);
    assert_int_equal(rec_varint_encode(buf, 128), 2);
    assert_int_equal(buf[0], 0x80);
    assert_int_equal(buf[1], 0x01);
}

/* test_chunked - whole, byte at a time, and odd chunk sizes agree */
static void test_chunked(void **state)
{
    str_t *s = sample();
    size_t steps[] = {1, 2, 3, 7, 64, 100000};
    int boundary;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	assert_int_equal(parse_all(s, steps[i], &boundary), SAMPLE_COUNT);
	assert_true(boundary);
    }
    str_free(&s);
}

/* test_truncation - every proper prefix is incomplete, never a record too many */
static void test_truncation(void **state)
{
    str_t *s = sample();
    str_t *prefix = str_new(100);
    int boundary, n;

    for (size_t cut = 0; cut < str_len(s); cut++) {
	str_setn(prefix, str_data(s), cut);
	n = parse_all(prefix, 1, &boundary);
	assert_true(n >= 0 && n < SAMPLE_COUNT);
    }
    str_free(&prefix);
    str_free(&s);
}

/* stream_with - a stream reading the given bytes (socketpair, writer closed) */
static stream_t *stream_with(const void *data, size_t len)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[1], data, len), (ssize_t)len);
    close(sv[1]);
    return stream_open(sv[0]);
}

/* test_stream_truncation - rec_get: clean EOF only at a boundary */
static void test_stream_truncation(void **state)
{
    str_t *s = sample();
    str_t *v = str_new(10);
    const char *why;

    for (size_t cut = 0; cut <= str_len(s); cut++) {
	stream_t *st = stream_with(str_data(s), cut);
	int type, n = 0;
	size_t consumed = 0;

	while ((type = rec_get(st, v, &why)) > 0) {
	    assert_int_equal(type, sample_types[n++]);
	    consumed += rec_wire_size(str_len(v));
	}
	/* A prefix that ends between records reads as EOF (0); inside one, -1. */
	if (type == 0)
	    assert_int_equal(consumed, cut);
	else
	    assert_true(consumed < cut && why != NULL);
	if (cut == str_len(s))
	    assert_int_equal(n, SAMPLE_COUNT);
	stream_close(&st);
    }
    str_free(&v);
    str_free(&s);
}

/* test_stream_roundtrip - rec_put then rec_get */
static void test_stream_roundtrip(void **state)
{
    int sv[2];
    stream_t *w, *r;
    str_t *v = str_new(10);
    const char *why;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    w = stream_open(sv[1]);
    r = stream_open(sv[0]);
    assert_int_equal(rec_puts(w, REC_TYPE_SENDER, "me@here"), 0);
    assert_int_equal(rec_putf(w, REC_TYPE_SIZE, "%015d", 42), 0);
    assert_int_equal(rec_put(w, REC_TYPE_END, "", 0), 0);
    stream_close(&w);
    assert_int_equal(rec_get(r, v, &why), REC_TYPE_SENDER);
    assert_string_equal(str_data(v), "me@here");
    assert_int_equal(rec_get(r, v, &why), REC_TYPE_SIZE);
    assert_string_equal(str_data(v), "000000000000042");
    assert_int_equal(rec_get(r, v, &why), REC_TYPE_END);
    assert_int_equal(str_len(v), 0);
    assert_int_equal(rec_get(r, v, &why), 0);
    stream_close(&r);
    str_free(&v);
}

/* expect_bad - parsing data must fail with an error text */
static void expect_bad(const void *data, size_t len)
{
    rec_parser_t p = {0};
    size_t used;
    str_t *v = str_new(10);
    const char *why = NULL;
    stream_t *st;

    rec_parser_init(&p);
    assert_int_equal(rec_parse(&p, data, len, &used), -1);
    assert_non_null(p.error);
    rec_parser_free(&p);
    st = stream_with(data, len);
    assert_int_equal(rec_get(st, v, &why), -1);
    assert_non_null(why);
    stream_close(&st);
    str_free(&v);
}

/* test_hostile - unknown types, huge, overlong and non-minimal lengths */
static void test_hostile(void **state)
{
    expect_bad("Z\0", 2);               /* unknown type */
    expect_bad("\0\0", 2);              /* NUL type */
    expect_bad("L\xff\xff\xff\x7f", 5); /* too many varint bytes */
    expect_bad("L\x81\x80\x41", 4);     /* > REC_MAX_LEN */
    expect_bad("L\x80\x00", 3);         /* non-minimal zero */
    expect_bad("L\x81\x80\x00", 4);     /* non-minimal */
    /* REC_MAX_LEN + 1 = 0x100001 */
    expect_bad("L\x81\x80\x40", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_varint_edges),     cmocka_unit_test(test_chunked),
	cmocka_unit_test(test_truncation),       cmocka_unit_test(test_stream_truncation),
	cmocka_unit_test(test_stream_roundtrip), cmocka_unit_test(test_hostile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
