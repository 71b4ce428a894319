/*
 * fuzz_trigger.c - libFuzzer target for the wake-up trigger reader
 * (mail_trigger_next, queue/mail_trigger.h).
 *
 * Every call must consume at least one byte and never move past the end;
 * a named wake-up must carry a valid queue ID exactly as it stood in the
 * input, followed by a newline; the bytes of the input must be used up
 * exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "global/mail_proto.h"
#include "queue/mail_trigger.h"

/* fuzz_check_named - a named wake-up ends at pos and names a valid ID */
static void fuzz_check_named(const char *buf, size_t start, size_t pos, const char *id)
{
    if (pos - start != QID_LEN + 2 || buf[start] != TRIGGER_WAKEUP || buf[pos - 1] != '\n')
	abort();
    if (!qid_valid(id) || memcmp(buf + start + 1, id, QID_LEN) != 0)
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    const char *buf = (const char *)data;
    char id[QID_BUFSIZE];
    size_t pos = 0, start;
    int req;

    for (;;) {
	start = pos;
	if ((req = mail_trigger_next(buf, len, &pos, id)) < 0)
	    break;
	if (pos <= start || pos > len)
	    abort();
	if (*id)
	    fuzz_check_named(buf, start, pos, id);
	else if (pos != start + 1 || req != (unsigned char)buf[start])
	    abort();
    }
    if (pos != len)
	abort();
    return 0;
}
