/*
 * fuzz_lline.c - libFuzzer target for the logical-line reader.
 *
 * The input is read as a file (through a memfd) and, when it has no NUL
 * byte, as in-memory text with a small bound so that the limits are hit
 * often. Both readings must agree line for line and on where they fail;
 * no line may exceed the bound, hold a newline, or start or end with
 * white space.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/lline.h"
#include "util/mymalloc.h"

#define FUZZ_MAX 64

/* fuzz_check_line - the promises lline_next makes about a line */
static void fuzz_check_line(const str_t *line)
{
    size_t len = str_len(line);

    if (len == 0 || len > FUZZ_MAX || memchr(line->data, '\n', len))
	abort();
    if (strchr(" \t\f\v\r", line->data[0]) || strchr(" \t\f\v\r", line->data[len - 1]))
	abort();
}

/* fuzz_read - digest of every line and of the final result */
static unsigned long fuzz_read(lline_t *lr)
{
    str_t *line = str_new(64), *err = str_new(64);
    unsigned long digest = 5381;
    int lineno, r;

    while ((r = lline_next(lr, line, &lineno, err)) > 0) {
	fuzz_check_line(line);
	for (size_t i = 0; i < str_len(line); i++)
	    digest = digest * 33 + (unsigned char)line->data[i];
	digest = digest * 33 + (unsigned long)lineno;
    }
    for (size_t i = 0; r < 0 && i < str_len(err); i++)
	digest = digest * 33 + (unsigned char)err->data[i];
    str_free(&line);
    str_free(&err);
    lline_close(&lr);
    return digest * 33 + (unsigned long)(r + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    unsigned long from_file;
    char *text;

    if (fd < 0 || write(fd, data, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0)
	abort();
    from_file = fuzz_read(lline_fd(fd, "f", FUZZ_MAX));
    if (memchr(data, 0, len) != NULL)
	return 0;
    text = mr_strndup((const char *)data, len);
    if (fuzz_read(lline_text(text, "f", FUZZ_MAX)) != from_file)
	abort();
    mr_free(text);
    return 0;
}
