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

#define ATTR_MAX_LINE 65536         /* one name=value line, escaped, with LF */
#define ATTR_MAX_COUNT 1024         /* attributes in one list */
#define ATTR_MAX_LIST (1024 * 1024) /* one list, escaped, with its LFs */

typedef struct attr {
    char *name;
    char *value;
} attr_t;

typedef struct attr_list {
    attr_t *items;
    size_t count;
    size_t cap;
} attr_list_t;

/* attr_list_new - an empty list */
attr_list_t *attr_list_new(void);
/* attr_list_free - destroy and clear the caller's pointer */
void attr_list_free(attr_list_t **lp);
/* attr_list_reset - remove all attributes */
void attr_list_reset(attr_list_t *l);
/* attr_add - append name=value (duplicates allowed: e.g. many rcpt=) */
void attr_add(attr_list_t *l, const char *name, const char *value);
/* attr_addf - append with a formatted value */
void attr_addf(attr_list_t *l, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* attr_get - first value of name, or NULL */
const char *attr_get(const attr_list_t *l, const char *name);
/* attr_get_long - numeric value, or def if absent/malformed */
long attr_get_long(const attr_list_t *l, const char *name, long def);

/*
 * The one implementation of the grammar: a resumable parser fed bytes as
 * they arrive (attr_read drives it from a stream, event servers from
 * their input hook). It consumes input up to the end of one list and
 * keeps whatever it has of an unfinished line or list between calls, so
 * the same list fed whole, or one byte at a time, gives the same result.
 * Bounds: ATTR_MAX_LINE, ATTR_MAX_COUNT, ATTR_MAX_LIST; a raw NUL byte,
 * a bad name or a bad %XX is malformed.
 */
typedef struct attr_parser {
    str_t *line;       /* the unfinished line, escaped */
    size_t total;      /* bytes of the current list so far */
    int started;       /* a byte of the current list seen */
    const char *error; /* after ATTR_PARSE_ERROR, else NULL */
    char errbuf[160];
} attr_parser_t;

#define ATTR_PARSE_DONE 1     /* a whole list is in l */
#define ATTR_PARSE_MORE 0     /* all input used, list unfinished */
#define ATTR_PARSE_ERROR (-1) /* malformed or too big: see error */

/* attr_parser_init - a parser at the start of a list */
void attr_parser_init(attr_parser_t *p);
/* attr_parser_done - release a parser's memory */
void attr_parser_done(attr_parser_t *p);
/* attr_parser_reset - forget any partial list (and a past error) */
void attr_parser_reset(attr_parser_t *p);
/* attr_parser_busy - 1 if part of a list has been fed, else 0 */
int attr_parser_busy(const attr_parser_t *p);
/* attr_parse - feed len bytes. l receives the attributes (it is reset when
 * a new list starts; pass the same l until DONE). *used_r is set to the
 * bytes consumed: all of them for MORE, up to and including the list's
 * empty line for DONE (the rest belongs to the next list). After ERROR,
 * p->error says why and the parser stays in error until reset. */
int attr_parse(attr_parser_t *p, attr_list_t *l, const char *buf, size_t len, size_t *used_r);

/* attr_format - append a list and its terminating empty line to out */
void attr_format(str_t *out, const attr_list_t *l);
/* attr_format_args - append name, value, ..., NULL as one list */
void attr_format_args(str_t *out, ...) __attribute__((sentinel));

/* attr_write - send a list and its terminating empty line, then flush;
 * 0 ok, -1 I/O error */
int attr_write(stream_t *s, const attr_list_t *l);
/* attr_send - send name, value, name, value, ..., NULL as one list */
int attr_send(stream_t *s, ...) __attribute__((sentinel));
/* attr_read - read one list into l (reset first). Returns 1 ok, 0 clean
 * EOF before the list, -1 I/O error, malformed or over-long input. */
int attr_read(stream_t *s, attr_list_t *l);

/* attr_escape - append value to out with % CR LF escaped */
void attr_escape(str_t *out, const char *value, size_t len);
/* attr_unescape - decode in place; returns new length or -1 if malformed */
long attr_unescape(char *value);

/* attr_send_protocol - server side of the handshake */
int attr_send_protocol(stream_t *s, const char *protocol);
/* attr_expect_protocol - client side: 1 ok, -1 wrong/none (error_r set) */
int attr_expect_protocol(stream_t *s, const char *protocol, const char **error_r);

#endif
