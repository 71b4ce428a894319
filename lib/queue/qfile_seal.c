/*
 * qfile_seal.c - the value of a queue file's END record: "ID SUM", the
 * file's queue ID and the CRC-32C of every byte before END (queue/qfile.h,
 * "Seal"; the sum of one record is rec_sum in record.c).
 */
#include <stdio.h>
#include <string.h>

#include "queue/qfile.h"

/* qfile_seal_format - "ID SUM" into buf */
char *qfile_seal_format(char buf[QFILE_SEAL_BUFSIZE], const char *id, uint32_t sum)
{
    snprintf(buf, QFILE_SEAL_BUFSIZE, "%.*s %08x", QID_LEN, id, (unsigned)sum);
    return buf;
}

/* qfile_seal_hex - 8 lower-case hex digits: 0 with *sum_r, else -1 */
static int qfile_seal_hex(const char *cp, uint32_t *sum_r)
{
    uint32_t sum = 0;

    for (int i = 0; i < QFILE_SEAL_SUM_LEN; i++) {
	const char *digit = memchr("0123456789abcdef", cp[i], 16);

	if (digit == NULL)
	    return -1;
	sum = sum << 4 | (uint32_t)(digit - "0123456789abcdef");
    }
    *sum_r = sum;
    return 0;
}

/* qfile_seal_parse - empty, or exactly ID, one space, SUM */
int qfile_seal_parse(const char *data, size_t len, char id[QID_BUFSIZE], uint32_t *sum_r)
{
    if (len == 0)
	return 0;
    if (len != QFILE_SEAL_LEN || data[QID_LEN] != ' ')
	return -1;
    memcpy(id, data, QID_LEN);
    id[QID_LEN] = 0;
    if (!qid_valid(id) || qfile_seal_hex(data + QID_LEN + 1, sum_r) < 0)
	return -1;
    return 1;
}
