/*
 * mymalloc.h - the one allocator: never returns NULL.
 *
 * Running out of memory is an environment failure, not something each
 * caller should handle: every function here logs a fatal error and exits
 * (master restarts the daemon) instead of returning NULL.
 */
#ifndef MR_MYMALLOC_H
#define MR_MYMALLOC_H

#include <stddef.h>

/* mr_alloc - allocate len bytes (len 0 is allowed); never NULL */
void *mr_alloc(size_t len);
/* mr_calloc - allocate nmemb*size zeroed bytes, overflow-checked */
void *mr_calloc(size_t nmemb, size_t size);
/* mr_realloc - resize ptr (may be NULL); never NULL */
void *mr_realloc(void *ptr, size_t len);
/* mr_reallocarray - resize to nmemb*size, overflow-checked */
void *mr_reallocarray(void *ptr, size_t nmemb, size_t size);
/* mr_strdup - copy a string */
char *mr_strdup(const char *s);
/* mr_strndup - copy at most len bytes of s and terminate */
char *mr_strndup(const char *s, size_t len);
/* mr_memdup - copy len bytes and add a terminating NUL */
char *mr_memdup(const void *p, size_t len);
/* mr_free - free(3), tolerating NULL */
void mr_free(void *ptr);

#endif
