/*
 * mymalloc.c - allocation wrappers that treat failure as fatal.
 */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "mymalloc.h"
#include "msg.h"

/* mr_alloc - allocate or die */
void *mr_alloc(size_t len)
{
    void *p = malloc(len ? len : 1);

    if (p == NULL)
	msg_fatal("out of memory allocating %zu bytes", len);
    return p;
}

/* mr_calloc - zeroed allocation or die */
void *mr_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (p == NULL)
	msg_fatal("out of memory allocating %zu x %zu bytes", nmemb, size);
    return p;
}

/* mr_realloc - resize or die */
void *mr_realloc(void *ptr, size_t len)
{
    void *p = realloc(ptr, len ? len : 1);

    if (p == NULL)
	msg_fatal("out of memory reallocating %zu bytes", len);
    return p;
}

/* mr_reallocarray - overflow-checked resize */
void *mr_reallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
	msg_panic("mr_reallocarray: overflow %zu x %zu", nmemb, size);
    return mr_realloc(ptr, nmemb * size);
}

/* mr_strdup - duplicate a string */
char *mr_strdup(const char *s)
{
    return mr_memdup(s, strlen(s));
}

/* mr_strndup - duplicate at most len bytes */
char *mr_strndup(const char *s, size_t len)
{
    const char *end = memchr(s, 0, len);

    return mr_memdup(s, end ? (size_t)(end - s) : len);
}

/* mr_memdup - duplicate a byte range plus a NUL */
char *mr_memdup(const void *p, size_t len)
{
    char *copy;

    if (len == SIZE_MAX)
	msg_panic("mr_memdup: bad length");
    copy = mr_alloc(len + 1);
    memcpy(copy, p, len);
    copy[len] = 0;
    return copy;
}

/* mr_free - release memory */
void mr_free(void *ptr)
{
    free(ptr);
}
