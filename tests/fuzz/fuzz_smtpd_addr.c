/*
 * fuzz_smtpd_addr.c - libFuzzer target for MAIL/RCPT argument parsing
 * (lib/global/smtpd_addr.c): split, mailbox check, parameter walk, xtext.
 * Results must stay inside the input buffer and be bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mymalloc.h"
#include "util/str.h"
#include "global/smtpd_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *buf = mr_memdup(data, len), *addr, *params, *name, *value;
    str_t *tmp = str_new(16);
    long long size;
    int n = 0;

    if (smtpd_addr_split(buf, (len & 1) ? "TO" : "FROM", &addr, &params) == 0) {
	if (addr < buf || addr > buf + len || params < buf || params > buf + len)
	    abort();
	(void)smtpd_addr_check(addr, 0);
	(void)smtpd_addr_check(addr, 1);
	while (smtpd_param_next(&params, &name, &value) > 0 && n++ < 1000) {
	    if (value) {
		if (smtpd_xtext_decode(value, tmp) == 0 && str_len(tmp) > strlen(value))
		    abort();
		(void)smtpd_size_parse(value, &size);
		(void)smtpd_notify_check(value);
	    }
	}
    }
    str_free(&tmp);
    mr_free(buf);
    return 0;
}
