/*
 * fuzz_qfile.c - libFuzzer target for reading a whole queue file:
 * qfile_open_fd (envelope and structure checks) and the content reader.
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
    int complete;

    if (fd < 0 || write_all(fd, data, len) < 0)
	abort();
    if (qfile_open_fd(fd, "0ABCDEFGHIJKLMNO", 0, &qf, &why) != QFILE_OK)
	return 0; /* fd closed by qfile_open_fd */
    line = str_new(100);
    while (qfile_line(qf, line, 4096, &complete, &why) > 0)
	if (str_len(line) > REC_MAX_LEN_FOR_FUZZ)
	    abort();
    str_free(&line);
    qfile_close(&qf);
    return 0;
}
