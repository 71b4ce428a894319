/*
 * fuzz_spam_report_unwrap.c - libFuzzer target for the attachment finder
 * of the report spool (lib/global/spam_report.c): whatever the input, a
 * message found lies inside it, after a "message/rfc822" part header, and
 * nothing is read outside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/spam_report.h"

/* has_rfc822 - "rfc822" in any case among the first n bytes of p */
static int has_rfc822(const char *p, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++)
	if (strncasecmp(p + i, "rfc822", 6) == 0)
	    return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *copy = malloc(len ? len : 1);
    size_t off, n;

    memcpy(copy, data, len);
    if (spam_report_unwrap(copy, len, &off, &n)) {
	if (n == 0 || off > len || n > len - off)
	    abort();
	if (!has_rfc822(copy, off))
	    abort();
    }
    free(copy);
    return 0;
}
