/*
 * mail_header.h - recognising RFC 5322 header fields in message lines.
 *
 * One implementation of "is this line a header field, and which one",
 * for cleanup (adding Message-ID/Date/From) and local delivery
 * (Delivered-To loop detection). A line is a field when it starts with
 * one or more printable ASCII characters other than ':' followed by ':';
 * a continuation line starts with a space or a tab.
 */
#ifndef MR_MAIL_HEADER_H
#define MR_MAIL_HEADER_H

#include <stddef.h>

/* header_name_len - length of "name" if line is "name:...", else 0 */
size_t header_name_len(const char *line, size_t len);
/* header_name_is - 1 if the n-byte field name equals name (any case) */
int header_name_is(const char *line, size_t n, const char *name);
/* header_continues - 1 if the line continues the previous field */
int header_continues(const char *line, size_t len);

#endif
