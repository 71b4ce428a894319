/*
 * test_crc32c.c - CRC-32C: known values (the check value and the iSCSI
 * vectors), pieces fed in every split, the processor's instruction
 * against the tables at every length and alignment, and combine.
 */
#include <string.h>

#include "unit_helpers.h"
#include "util/crc32c.h"

/* test_known_values - the check value and iSCSI's 32-byte vectors */
static void test_known_values(void **state)
{
    unsigned char buf[32];

    assert_int_equal(crc32c_update(0, "", 0), 0);
    assert_int_equal(crc32c_update(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_update_soft(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(crc32c_update(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(crc32c_update(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
	buf[i] = (unsigned char)i;
    assert_int_equal(crc32c_update(0, buf, 32), 0x46DD794Eu);
    assert_int_equal(crc32c_update_soft(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
	buf[i] = (unsigned char)(31 - i);
    assert_int_equal(crc32c_update(0, buf, 32), 0x113FDB5Cu);
}

/* fill - a pseudo-random pattern */
static void fill(unsigned char *buf, size_t len)
{
    unsigned x = 12345;

    for (size_t i = 0; i < len; i++) {
	x = x * 1103515245u + 12345u;
	buf[i] = (unsigned char)(x >> 16);
    }
}

/* test_pieces_and_soft - any split gives the whole; both ways agree at
 * every length and start (alignment) */
static void test_pieces_and_soft(void **state)
{
    unsigned char buf[300];
    uint32_t whole;

    fill(buf, sizeof(buf));
    whole = crc32c_update(0, buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut++)
	assert_int_equal(crc32c_update(crc32c_update(0, buf, cut), buf + cut, sizeof(buf) - cut),
			 whole);
    for (size_t start = 0; start < 9; start++)
	for (size_t len = 0; len + start <= 100; len++)
	    assert_int_equal(crc32c_update(0, buf + start, len),
			     crc32c_update_soft(0, buf + start, len));
}

/* test_combine - sum(A then B) from sum(A), sum(B), len(B), for every
 * split, and for a long run of zeros made only by combine */
static void test_combine(void **state)
{
    static unsigned char big[70000];
    unsigned char buf[200];
    uint32_t whole, a, b;

    fill(buf, sizeof(buf));
    whole = crc32c_update(0, buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut++) {
	a = crc32c_update(0, buf, cut);
	b = crc32c_update(0, buf + cut, sizeof(buf) - cut);
	assert_int_equal(crc32c_combine(a, b, sizeof(buf) - cut), whole);
    }
    memset(big, 0, sizeof(big));
    big[0] = 'x';
    whole = crc32c_update(0, big, sizeof(big));
    a = crc32c_update(0, big, 1);
    b = crc32c_update(0, big + 1, sizeof(big) - 1);
    assert_int_equal(crc32c_combine(a, b, sizeof(big) - 1), whole);
    assert_int_equal(crc32c_combine(whole, 0, 0), whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_known_values),
	cmocka_unit_test(test_pieces_and_soft),
	cmocka_unit_test(test_combine),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
