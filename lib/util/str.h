/*
 * str.h - the one string type: a growable, always NUL-terminated buffer.
 *
 * A str_t may hold binary data (embedded NULs); str_len() is the truth,
 * the terminating NUL is there so that str_data() can be passed to C
 * string functions when the content is text.
 */
#ifndef MR_STR_H
#define MR_STR_H

#include <stdarg.h>
#include <stddef.h>

typedef struct str {
    char *data; /* always NUL-terminated */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
} str_t;

/* str_new - new empty string with room for hint bytes */
str_t *str_new(size_t hint);
/* str_free - release *sp and set it to NULL */
void str_free(str_t **sp);

#define str_data(s) ((s)->data)
#define str_len(s) ((s)->len)

/* str_reset - make empty (keeps memory) */
void str_reset(str_t *s);
/* str_truncate - shorten to len bytes (no-op if already shorter) */
void str_truncate(str_t *s, size_t len);
/* str_reserve - make room for extra more bytes */
void str_reserve(str_t *s, size_t extra);
/* str_append - append len bytes */
void str_append(str_t *s, const void *p, size_t len);
/* str_appends - append a C string */
void str_appends(str_t *s, const char *cstr);
/* str_appendc - append one byte */
void str_appendc(str_t *s, int c);
/* str_set - replace content with a C string */
void str_set(str_t *s, const char *cstr);
/* str_setn - replace content with len bytes */
void str_setn(str_t *s, const void *p, size_t len);
/* str_appendf - append printf-formatted text */
void str_appendf(str_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* str_vappendf - va_list form of str_appendf */
void str_vappendf(str_t *s, const char *fmt, va_list ap);
/* str_printf - replace content with printf-formatted text */
void str_printf(str_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* str_append_printable - append len bytes of untrusted text so that it
 * is safe on a terminal or in a log: a backslash becomes "\\"; C0
 * controls, DEL, C1 controls (U+0080..U+009F) and bytes that are not
 * part of well-formed UTF-8 become "\xHH" (one per byte); printable
 * ASCII and well-formed UTF-8 (SMTPUTF8 addresses) are kept as they are.
 * Returns the number of bytes that were escaped. */
size_t str_append_printable(str_t *s, const char *p, size_t len);
/* str_steal - hand the buffer to the caller (a malloc'd C string) and free s */
char *str_steal(str_t **sp);

/* Helpers on plain C strings. */

/* lowercase - fold ASCII letters of a C string in place; returns it */
char *lowercase(char *cstr);
/* trim_space - strip leading/trailing white space in place; returns start */
char *trim_space(char *cstr);
/* mr_strlcpy - bounded copy that always terminates; returns strlen(src) */
size_t mr_strlcpy(char *dst, const char *src, size_t size);
/* mr_format - allocate a printf-formatted C string */
char *mr_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* utf8_valid - is p[0..len) well-formed UTF-8 (ASCII included; no
 * overlong forms, no surrogates, nothing above U+10FFFF)? 1 yes, 0 no */
int utf8_valid(const char *p, size_t len);
/* utf8_char_len - length (2..4) of the well-formed multi-byte UTF-8
 * character at p, or 0 if there is none */
size_t utf8_char_len(const char *p, size_t len);
/* mr_strcaseeq - ASCII case-insensitive equality */
int mr_strcaseeq(const char *a, const char *b);
/* split_at - cut s at the first delimiter char; returns the rest or NULL */
char *split_at(char *s, int delim);
/* next_token - return the next token of *sp delimited by chars in delims */
char *next_token(char **sp, const char *delims);

#endif
