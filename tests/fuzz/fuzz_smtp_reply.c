/*
 * fuzz_smtp_reply.c - libFuzzer target for the SMTP client's reply
 * parser (lib/global/smtp_client.c).
 *
 * The input is split into lines at LF and fed line by line until the
 * parser says the reply is complete or bad. A complete reply must carry
 * a code in 200..599 and a dsn whose class matches it; a bad one code 0;
 * the kept text never exceeds its bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "global/smtp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smtp_reply_t r;
    smtp_reply_parser_t p;
    const char *in = (const char *)data, *nl;
    int ret = 0;

    smtp_reply_init(&r);
    smtp_reply_parser_init(&p, &r);
    while (size > 0 && ret == 0) {
	size_t len = (nl = memchr(in, '\n', size)) ? (size_t)(nl - in) + 1 : size;

	ret = smtp_reply_feed(&p, &r, in, len);
	in += len;
	size -= len;
    }
    if (ret == 1 && (r.code < 200 || r.code > 599 || r.dsn[0] != '0' + r.code / 100))
	abort();
    if (ret == -1 && r.code != 0)
	abort();
    if (str_len(r.text) > SMTP_CLIENT_TEXT_MAX)
	abort();
    smtp_reply_free(&r);
    return 0;
}
