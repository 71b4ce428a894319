/*
 * smtpd_addr.h - parsing the arguments of MAIL and RCPT, shared by the
 * SMTP servers (smtpd, and filterd's SMTP/LMTP side).
 *
 * Everything here works on a caller-owned, writable copy of the command
 * arguments and knows nothing about sessions, so it can be unit tested
 * and fuzzed alone.
 */
#ifndef MR_SMTPD_ADDR_H
#define MR_SMTPD_ADDR_H

#include "util/str.h"

/* Longest address we accept (RFC 5321 section 4.5.3.1.3: path of 256) */
#define SMTPD_ADDR_MAX 254

/* Results of smtpd_addr_check */
#define SMTPD_ADDR_OK 0
#define SMTPD_ADDR_BAD (-1)  /* syntax */
#define SMTPD_ADDR_UTF8 (-2) /* non-ASCII without SMTPUTF8 */
#define SMTPD_ADDR_BAD_UTF8                                                                        \
    (-3) /* SMTPUTF8, but not well-formed UTF-8                                                    \
	  * (broken or overlong sequences) */

/* smtpd_addr_split - parse "FROM:<addr> params" (kw "FROM") or
 * "TO:<addr> params" (kw "TO") in place. The keyword is matched without
 * regard to case, blanks after the colon are tolerated, the angle
 * brackets are optional, a source route "@a,@b:" is dropped. On success
 * returns 0 with *addr_r (without brackets; "" for <>) and *params_r
 * (the rest, maybe "") pointing into args; -1 on a syntax error. */
int smtpd_addr_split(char *args, const char *kw, char **addr_r, char **params_r);
/* smtpd_addr_check - is addr a syntactically valid mailbox (local-part
 * with optional @domain)? utf8_ok allows non-ASCII (SMTPUTF8). */
int smtpd_addr_check(const char *addr, int utf8_ok);
/* smtpd_param_next - next "NAME[=VALUE]" of a parameter list; returns 1
 * with *name_r and *value_r (value NULL when absent), 0 at the end, -1 on a
 * malformed parameter. Modifies the list in place. */
int smtpd_param_next(char **cursor, char **name_r, char **value_r);
/* smtpd_xtext_decode - RFC 3461 xtext to text; 0 ok, -1 malformed (the
 * result must also be printable ASCII) */
int smtpd_xtext_decode(const char *in, str_t *out);
/* smtpd_size_parse - a SIZE= value: decimal digits only; 0 ok, -1 bad.
 * Values beyond the range of long long saturate. */
int smtpd_size_parse(const char *in, long long *size_r);
/* smtpd_notify_check - NOTIFY= value: NEVER, or a comma list of
 * SUCCESS, FAILURE, DELAY; 0 ok, -1 bad */
int smtpd_notify_check(const char *value);
/* smtpd_rcpt_dsn_param - one RCPT parameter NAME[=VALUE] of RFC 3461:
 * NOTIFY= (checked) into *notify_r, ORCPT=type;xtext (decoded) into
 * *orcpt_r as "type;address", each at most once; tmp is scratch. 0 ok,
 * -1 for anything else (unknown, repeated, malformed). */
int smtpd_rcpt_dsn_param(char *name, char *value, char **notify_r, char **orcpt_r, str_t *tmp);

#endif
