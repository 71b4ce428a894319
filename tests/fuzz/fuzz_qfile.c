/*
 * fuzz_qfile.c - libFuzzer target for reading a whole queue file:
 * qfile_open_fd (envelope and structure checks, the END record's seal)
 * and the content reader, which must agree with it. The seed "sealed"
 * carries a valid seal (the name given here is not a queue ID, so only
 * the sum is checked).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "queue/qfile.h"
#include "queue/record.h"
#include "util/safe_open.h"

#define REC_MAX_LEN_FOR_FUZZ (REC_MAX_LEN + 4096)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    int fd = memfd_create("qfile", 0);
    qfile_t *qf = NULL;
    const char *why;
    str_t *line;
    int complete, ret;

    if (fd < 0 || write_all(fd, data, len) < 0)
	abort();
    if (qfile_open_fd(fd, "0ABCDEFGHIJKLMNO", 0, &qf, &why) != QFILE_OK)
	return 0; /* fd closed by qfile_open_fd */
    line = str_new(100);
    while ((ret = qfile_line(qf, line, 4096, &complete, &why)) > 0)
	if (str_len(line) > REC_MAX_LEN_FOR_FUZZ)
	    abort();
    /* the open checked every record and the seal: the content reader,
     * which checks the seal again, must agree */
    if (ret != 0 || qf->damaged)
	abort();
    str_free(&line);
    qfile_close(&qf);
    return 0;
}
