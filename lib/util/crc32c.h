/*
 * crc32c.h - CRC-32C (Castagnoli: polynomial 0x1EDC6F41, reflected
 * 0x82F63B78, initial value and final xor 0xFFFFFFFF), the checksum of
 * iSCSI, ext4 metadata and SCTP. Known value: "123456789" -> 0xE3069283.
 *
 * A running sum is the value of the bytes so far: start with 0, feed
 * pieces with crc32c_update in order. crc32c_combine joins the sums of
 * two adjacent pieces without reading them again, so a writer that
 * changes a few bytes after summing them (a length patched in place) can
 * sum the parts separately.
 */
#ifndef MR_CRC32C_H
#define MR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc32c_update - the sum of the bytes summed in crc followed by
 * data[0..len); crc32c_update(0, data, len) is the sum of data alone */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

/* crc32c_update_soft - crc32c_update without the processor's crc32
 * instruction (the unit test compares the two) */
uint32_t crc32c_update_soft(uint32_t crc, const void *data, size_t len);

/* crc32c_combine - the sum of A followed by B, from the sum of A, the sum
 * of B and the length of B */
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

#endif
