/*
 * attr.h - attribute lists, the request format between daemons.
 *
 * Grammar (one list):
 *     list  = *(attr LF) LF
 *     attr  = name "=" value
 *     name  = 1*(ALPHA / DIGIT / "_" / "-" / ".")
 *     value = *(any byte but LF, CR and "%"; those are sent as %0A %0D %25)
 * A reader skips names it does not know, so a protocol can grow. On
 * connect, a server sends one list "protocol=NAME"; the client checks it,
 * so a client on the wrong socket fails at once.
 */
#ifndef MR_ATTR_H
#define MR_ATTR_H

#include <stddef.h>

#include "stream.h"

#define ATTR_MAX_LINE	65536		/* one name=value line, escaped */
#define ATTR_MAX_COUNT	1024		/* attributes in one list */

typedef struct attr {
    char   *name;
    char   *value;
} attr_t;

typedef struct attr_list {
    attr_t *items;
    size_t  count;
    size_t  cap;
} attr_list_t;

/* attr_list_new - an empty list */
attr_list_t *attr_list_new(void);
/* attr_list_free - destroy and clear the caller's pointer */
void    attr_list_free(attr_list_t **lp);
/* attr_list_reset - remove all attributes */
void    attr_list_reset(attr_list_t *l);
/* attr_add - append name=value (duplicates allowed: e.g. many rcpt=) */
void    attr_add(attr_list_t *l, const char *name, const char *value);
/* attr_addf - append with a formatted value */
void    attr_addf(attr_list_t *l, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* attr_get - first value of name, or NULL */
const char *attr_get(const attr_list_t *l, const char *name);
/* attr_get_long - numeric value, or def if absent/malformed */
long    attr_get_long(const attr_list_t *l, const char *name, long def);

/* attr_format - append a list and its terminating empty line to out */
void    attr_format(str_t *out, const attr_list_t *l);
/* attr_write - send a list and its terminating empty line, then flush;
 * 0 ok, -1 I/O error */
int     attr_write(stream_t *s, const attr_list_t *l);
/* attr_send - send name, value, name, value, ..., NULL as one list */
int     attr_send(stream_t *s, ...) __attribute__((sentinel));
/* attr_read - read one list into l (reset first). Returns 1 ok, 0 clean
 * EOF before the list, -1 I/O error, malformed or over-long input. */
int     attr_read(stream_t *s, attr_list_t *l);

/* attr_escape - append value to out with % CR LF escaped */
void    attr_escape(str_t *out, const char *value, size_t len);
/* attr_unescape - decode in place; returns new length or -1 if malformed */
long    attr_unescape(char *value);

/* attr_send_protocol - server side of the handshake */
int     attr_send_protocol(stream_t *s, const char *protocol);
/* attr_expect_protocol - client side: 1 ok, -1 wrong/none (error_r set) */
int     attr_expect_protocol(stream_t *s, const char *protocol, const char **error_r);

#endif
