/*
 * mail_header.c - recognising header fields (see mail_header.h).
 */
#include <string.h>
#include <strings.h>

#include "mail_header.h"

/* header_name_len - length of the field name before ':' */
size_t header_name_len(const char *line, size_t len)
{
    size_t n = 0;

    while (n < len && line[n] > ' ' && line[n] < 127 && line[n] != ':')
	n++;
    return (n > 0 && n < len && line[n] == ':') ? n : 0;
}

/* header_name_is - case-insensitive field name comparison */
int header_name_is(const char *line, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(line, name, n) == 0;
}

/* header_continues - folded continuation line */
int header_continues(const char *line, size_t len)
{
    return len > 0 && (line[0] == ' ' || line[0] == '\t');
}
