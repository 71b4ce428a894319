/*
 * crc32c.c - CRC-32C over bytes, in software (eight tables, eight bytes
 * per step) or with the SSE 4.2 crc32 instruction when the processor has
 * it (checked once). Both give the same values; the unit test compares
 * them with known values and with each other.
 *
 * crc32c_combine multiplies in GF(2) modulo the polynomial: appending n
 * zero bits to a message multiplies its raw remainder by x^n, so the sum
 * of A followed by B is the sum of A times x^(8 len B), plus the sum of B
 * (the initial value and final xor cancel out, as for any CRC of this
 * kind). x^(8 len) is made by squaring, so a combine costs about 64
 * multiplications of 32 steps whatever the length.
 */
#include <pthread.h>
#include <string.h>

#include "util/crc32c.h"

#define CRC32C_POLY 0x82F63B78u /* reflected */
#define CRC32C_ONE 0x80000000u  /* the polynomial 1, reflected */

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static int crc32c_hw;

/* crc32c_init - the software tables, and whether the hardware has crc32 */
static void crc32c_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
	uint32_t c = n;

	for (int k = 0; k < 8; k++)
	    c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
	crc32c_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
	for (int t = 1; t < 8; t++)
	    crc32c_table[t][n] =
		(crc32c_table[t - 1][n] >> 8) ^ crc32c_table[0][crc32c_table[t - 1][n] & 0xff];
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* crc32c_soft - raw remainder update, eight bytes per step */
static uint32_t crc32c_soft(uint32_t c, const unsigned char *p, size_t len)
{
    while (len >= 8) {
	uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			   (uint32_t)p[3] << 24);

	c = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
	    crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^ crc32c_table[3][p[4]] ^
	    crc32c_table[2][p[5]] ^ crc32c_table[1][p[6]] ^ crc32c_table[0][p[7]];
	p += 8;
	len -= 8;
    }
    while (len-- > 0)
	c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* crc32c_sse42 - raw remainder update with the crc32 instruction */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t c, const unsigned char *p,
							       size_t len)
{
    uint64_t c64 = c;

    while (len >= 8) {
	uint64_t v;

	memcpy(&v, p, 8);
	c64 = __builtin_ia32_crc32di(c64, v);
	p += 8;
	len -= 8;
    }
    c = (uint32_t)c64;
    while (len-- > 0)
	c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}
#endif

/* crc32c_update - continue a sum over more bytes */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len)
{
    uint32_t c = ~crc;

    pthread_once(&crc32c_once, crc32c_init);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (crc32c_hw)
	return ~crc32c_sse42(c, data, len);
#endif
    return ~crc32c_soft(c, data, len);
}

/* crc32c_update_soft - the same in software only */
uint32_t crc32c_update_soft(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc32c_once, crc32c_init);
    return ~crc32c_soft(~crc, data, len);
}

/* crc32c_mult - a times b modulo the polynomial (both reflected) */
static uint32_t crc32c_mult(uint32_t a, uint32_t b)
{
    uint32_t product = 0;

    for (uint32_t bit = CRC32C_ONE; bit != 0; bit >>= 1) {
	if (a & bit)
	    product ^= b;
	b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1;
    }
    return product;
}

/* crc32c_x8n - x^(8 n) modulo the polynomial */
static uint32_t crc32c_x8n(uint64_t n)
{
    uint32_t result = CRC32C_ONE, power = CRC32C_ONE >> 8; /* x^8 */

    while (n) {
	if (n & 1)
	    result = crc32c_mult(result, power);
	power = crc32c_mult(power, power);
	n >>= 1;
    }
    return result;
}

/* crc32c_combine - sum of A then B */
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    return crc32c_mult(crc_a, crc32c_x8n(len_b)) ^ crc_b;
}
