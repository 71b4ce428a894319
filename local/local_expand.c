/*
 * local_expand.c - the destination lists of aliases, :include: files
 * and .forward files.
 *
 * A list is destinations separated by commas or new lines. A '#' where
 * a destination would start begins a comment up to the end of the line. A destination may be
 * written in double quotes, which are removed and protect commas
 * ("|/usr/bin/vacation -a alias, x"); after a leading '|' the command
 * may be quoted as well (|"cmd args"). Forms:
 *
 *   user, user@domain, <user@domain>  an address (words separated by
 *                                     white space are separate addresses)
 *   \user                             the user's own mailbox, no further
 *                                     alias or .forward expansion
 *   |command                          pipe the message into command
 *   /path                             append to a file (mbox format);
 *                                     /path/ is a Maildir
 *   :include:/path                    the destinations listed in a file
 *
 * The parser only splits and classifies; what is allowed where, and as
 * whom, is decided by local_resolve.c.
 */
#include <ctype.h>
#include <string.h>

#include "local.h"

/* expand_skip - separators and comments */
static const char *expand_skip(const char *cp)
{
    for (;;) {
	while (*cp == ',' || *cp == '\n' || *cp == ' ' || *cp == '\t' || *cp == '\r')
	    cp++;
	if (*cp != '#')
	    return cp;
	while (*cp && *cp != '\n')
	    cp++;
    }
}

/* expand_word - one destination's raw text, quotes removed */
static const char *expand_word(const char *cp, str_t *dest)
{
    str_reset(dest);
    if (*cp == '"' || (cp[0] == '|' && cp[1] == '"')) {
	if (*cp == '|')
	    str_appendc(dest, *cp++);
	for (cp++; *cp && *cp != '"'; cp++)
	    str_appendc(dest, *cp);
	return *cp ? cp + 1 : cp;
    }
    while (*cp && *cp != ',' && *cp != '\n')
	str_appendc(dest, *cp++);
    while (str_len(dest) > 0 && isspace((unsigned char)str_data(dest)[str_len(dest) - 1]))
	str_truncate(dest, str_len(dest) - 1);
    return cp;
}

/* expand_strip - remove a prefix of n bytes from dest */
static void expand_strip(str_t *dest, size_t n)
{
    size_t len = str_len(dest) - n;

    memmove(str_data(dest), str_data(dest) + n, len);
    str_truncate(dest, len);
}

/* expand_address - first white-space separated word of an address list;
 * the rest goes back to the input */
static const char *expand_address(const char *next, const char *start, str_t *dest)
{
    size_t n = strcspn(str_data(dest), " \t");

    if (n < str_len(dest)) {
	next = start + n; /* unquoted, so dest mirrors the input */
	str_truncate(dest, n);
    }
    if (str_len(dest) > 2 && str_data(dest)[0] == '<' && str_data(dest)[str_len(dest) - 1] == '>') {
	str_truncate(dest, str_len(dest) - 1);
	expand_strip(dest, 1);
    }
    return next;
}

/* expand_next - next destination and its type, 0 at the end */
int expand_next(const char **cp, str_t *dest)
{
    const char *start, *next;

    start = expand_skip(*cp);
    if (*start == 0) {
	*cp = start;
	return 0;
    }
    next = expand_word(start, dest);
    *cp = next;
    if (str_data(dest)[0] == '|') {
	expand_strip(dest, 1);
	return EXPAND_COMMAND;
    }
    if (strncasecmp(str_data(dest), ":include:", 9) == 0) {
	expand_strip(dest, 9);
	return EXPAND_INCLUDE;
    }
    if (str_data(dest)[0] == '/')
	return EXPAND_FILE;
    if (*start != '"')
	*cp = expand_address(next, start, dest);
    if (str_data(dest)[0] == '\\') {
	expand_strip(dest, 1);
	return EXPAND_NOALIAS;
    }
    return str_len(dest) ? EXPAND_ADDRESS : expand_next(cp, dest);
}
