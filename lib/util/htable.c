/*
 * htable.c - an in-memory string hash (htable.h).
 *
 * Keys and values live in one growing arena (offsets, not pointers, so
 * growing it moves nothing that matters); entries keep insertion order;
 * an open-addressing slot array at most half full points at them.
 */
#include <stdint.h>
#include <string.h>

#include "htable.h"
#include "msg.h"
#include "mymalloc.h"
#include "str.h"

typedef struct htable_entry {
    size_t koff, voff;
    uint32_t klen, vlen;
    uint32_t hash;
} htable_entry_t;

struct htable {
    str_t *arena;
    htable_entry_t *entries;
    size_t count, cap;
    uint32_t *slots; /* entry index + 1; 0 is empty */
    size_t nslots;   /* power of two */
};

/* htable_fn - FNV-1a */
static uint32_t htable_fn(const char *key, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
	h ^= (unsigned char)key[i];
	h *= 16777619u;
    }
    return h;
}

htable_t *htable_new(void)
{
    htable_t *h = mr_calloc(1, sizeof(*h));

    h->arena = str_new(4096);
    h->nslots = 64;
    h->slots = mr_calloc(h->nslots, sizeof(*h->slots));
    return h;
}

/* htable_find - slot of key, or of the empty slot where it goes */
static size_t htable_find(const htable_t *h, const char *key, size_t klen, uint32_t hv)
{
    size_t mask = h->nslots - 1;
    size_t i = hv & mask;

    for (;;) {
	uint32_t idx = h->slots[i];
	const htable_entry_t *e;

	if (idx == 0)
	    return i;
	e = h->entries + idx - 1;
	if (e->hash == hv && e->klen == klen && memcmp(h->arena->data + e->koff, key, klen) == 0)
	    return i;
	i = (i + 1) & mask;
    }
}

/* htable_grow - double the slot array */
static void htable_grow(htable_t *h)
{
    mr_free(h->slots);
    h->nslots *= 2;
    h->slots = mr_calloc(h->nslots, sizeof(*h->slots));
    for (size_t n = 0; n < h->count; n++) {
	size_t mask = h->nslots - 1;
	size_t i = h->entries[n].hash & mask;

	while (h->slots[i] != 0)
	    i = (i + 1) & mask;
	h->slots[i] = (uint32_t)n + 1;
    }
}

int htable_put(htable_t *h, const char *key, size_t klen, const char *value, size_t vlen)
{
    uint32_t hv = htable_fn(key, klen);
    size_t slot = htable_find(h, key, klen, hv);
    htable_entry_t *e;

    if (h->slots[slot] != 0)
	return 1;
    if (h->count >= UINT32_MAX - 1 || klen > UINT32_MAX || vlen > UINT32_MAX)
	msg_fatal("htable_put: too many or too large entries");
    if (h->count == h->cap) {
	h->cap = h->cap ? h->cap * 2 : 64;
	h->entries = mr_reallocarray(h->entries, h->cap, sizeof(*h->entries));
    }
    e = h->entries + h->count;
    e->hash = hv;
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    e->koff = str_len(h->arena);
    str_append(h->arena, key, klen);
    str_appendc(h->arena, 0);
    e->voff = str_len(h->arena);
    str_append(h->arena, value, vlen);
    str_appendc(h->arena, 0);
    h->slots[slot] = (uint32_t)++h->count;
    if (h->count * 2 > h->nslots)
	htable_grow(h);
    return 0;
}

const char *htable_get(const htable_t *h, const char *key, size_t klen, size_t *vlen_r)
{
    uint32_t hv = htable_fn(key, klen);
    size_t slot = htable_find(h, key, klen, hv);
    const htable_entry_t *e;

    if (h->slots[slot] == 0)
	return NULL;
    e = h->entries + h->slots[slot] - 1;
    *vlen_r = e->vlen;
    return h->arena->data + e->voff;
}

size_t htable_count(const htable_t *h)
{
    return h->count;
}

void htable_item(const htable_t *h, size_t i, const char **key_r, size_t *klen_r,
		 const char **value_r, size_t *vlen_r)
{
    const htable_entry_t *e = h->entries + i;

    if (i >= h->count)
	msg_panic("htable_item: index %zu out of range", i);
    *key_r = h->arena->data + e->koff;
    *klen_r = e->klen;
    *value_r = h->arena->data + e->voff;
    *vlen_r = e->vlen;
}

void htable_free(htable_t **hp)
{
    htable_t *h = *hp;

    if (h == NULL)
	return;
    str_free(&h->arena);
    mr_free(h->entries);
    mr_free(h->slots);
    mr_free(h);
    *hp = NULL;
}
