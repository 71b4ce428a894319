/*
 * htable.h - an in-memory hash of byte-string keys to byte-string values.
 *
 * Keys and values are copied in; insertion order is kept (for writing a
 * table out in its source order). Used by texthash:, inline: and the
 * table builder's duplicate check; nothing here knows about tables.
 */
#ifndef MR_HTABLE_H
#define MR_HTABLE_H

#include <stddef.h>

typedef struct htable htable_t;

/* htable_new - an empty hash */
htable_t *htable_new(void);
/* htable_put - add key (klen bytes) -> value; 0 added, 1 key existed
 * (nothing changed) */
int htable_put(htable_t *h, const char *key, size_t klen, const char *value, size_t vlen);
/* htable_get - value of key (NUL-terminated) or NULL; *vlen_r its length */
const char *htable_get(const htable_t *h, const char *key, size_t klen, size_t *vlen_r);
/* htable_count - number of entries */
size_t htable_count(const htable_t *h);
/* htable_item - entry i in insertion order */
void htable_item(const htable_t *h, size_t i, const char **key_r, size_t *klen_r,
		 const char **value_r, size_t *vlen_r);
/* htable_free - release and clear the pointer */
void htable_free(htable_t **hp);

#endif
