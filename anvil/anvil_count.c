/*
 * anvil_count.c - anvil's counters (see anvil.h).
 *
 * A chained hash table keyed by ident. It must delete as well as add
 * (idle entries go away), which the insert-only string map of the table
 * code does not do. Memory is bounded by the idents seen in the last two
 * rate windows plus those with a session open: anvil_expire runs once a
 * window.
 */
#include <stdint.h>
#include <string.h>

#include "anvil.h"
#include "util/mymalloc.h"

typedef struct anvil_entry {
    char *ident;
    uint32_t hash;
    anvil_counts_t c;
    long long window_start;   /* ms */
    struct anvil_entry *next; /* same bucket */
} anvil_entry_t;

struct anvil_table {
    anvil_entry_t **buckets;
    size_t nbuckets; /* power of two */
    size_t size;
    long long unit_ms;
};

/* anvil_hash - FNV-1a of a C string */
static uint32_t anvil_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
	h ^= (unsigned char)*s;
	h *= 16777619u;
    }
    return h;
}

anvil_table_t *anvil_table_new(long long unit_ms)
{
    anvil_table_t *t = mr_calloc(1, sizeof(*t));

    t->nbuckets = 64;
    t->buckets = mr_calloc(t->nbuckets, sizeof(*t->buckets));
    t->unit_ms = unit_ms > 0 ? unit_ms : 1;
    return t;
}

/* anvil_grow - double the buckets when entries outnumber them */
static void anvil_grow(anvil_table_t *t)
{
    size_t n = t->nbuckets * 2;
    anvil_entry_t **b = mr_calloc(n, sizeof(*b));

    for (size_t i = 0; i < t->nbuckets; i++) {
	anvil_entry_t *e, *next;

	for (e = t->buckets[i]; e; e = next) {
	    next = e->next;
	    e->next = b[e->hash & (n - 1)];
	    b[e->hash & (n - 1)] = e;
	}
    }
    mr_free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* anvil_find - the entry for ident; with create, a new one whose window
 * starts now if there is none; else NULL */
static anvil_entry_t *anvil_find(anvil_table_t *t, const char *ident, int create, long long now)
{
    uint32_t h = anvil_hash(ident);
    anvil_entry_t *e;

    for (e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->next)
	if (e->hash == h && strcmp(e->ident, ident) == 0)
	    return e;
    if (!create)
	return NULL;
    if (t->size >= t->nbuckets)
	anvil_grow(t);
    e = mr_calloc(1, sizeof(*e));
    e->ident = mr_strdup(ident);
    e->hash = h;
    e->window_start = now;
    e->next = t->buckets[h & (t->nbuckets - 1)];
    t->buckets[h & (t->nbuckets - 1)] = e;
    t->size++;
    return e;
}

/* anvil_window - start a new rate window if the current one is over */
static void anvil_window(const anvil_table_t *t, anvil_entry_t *e, long long now)
{
    if (now - e->window_start >= t->unit_ms) {
	e->window_start = now;
	e->c.conn_rate = 0;
	e->c.mail_rate = 0;
	e->c.auth_rate = 0;
    }
}

/* anvil_event - the entry for ident, made if needed, in its current window */
static anvil_entry_t *anvil_event(anvil_table_t *t, const char *ident, long long now)
{
    anvil_entry_t *e = anvil_find(t, ident, 1, now);

    anvil_window(t, e, now);
    return e;
}

void anvil_connect(anvil_table_t *t, const char *ident, long long now, anvil_counts_t *counts_r)
{
    anvil_entry_t *e = anvil_event(t, ident, now);

    e->c.count++;
    e->c.conn_rate++;
    *counts_r = e->c;
}

void anvil_disconnect(anvil_table_t *t, const char *ident, long long now)
{
    anvil_entry_t *e = anvil_find(t, ident, 0, now);

    if (e != NULL && e->c.count > 0)
	e->c.count--;
}

void anvil_message(anvil_table_t *t, const char *ident, long long now, anvil_counts_t *counts_r)
{
    anvil_entry_t *e = anvil_event(t, ident, now);

    e->c.mail_rate++;
    *counts_r = e->c;
}

void anvil_auth_failure(anvil_table_t *t, const char *ident, long long now,
			anvil_counts_t *counts_r)
{
    anvil_entry_t *e = anvil_event(t, ident, now);

    e->c.auth_rate++;
    *counts_r = e->c;
}

int anvil_lookup(anvil_table_t *t, const char *ident, long long now, anvil_counts_t *counts_r)
{
    anvil_entry_t *e = anvil_find(t, ident, 0, now);

    memset(counts_r, 0, sizeof(*counts_r));
    if (e == NULL)
	return 0;
    anvil_window(t, e, now);
    *counts_r = e->c;
    return 1;
}

/* anvil_idle - nothing to remember about e any more? */
static int anvil_idle(const anvil_table_t *t, const anvil_entry_t *e, long long now)
{
    return e->c.count == 0 && now - e->window_start >= t->unit_ms;
}

size_t anvil_expire(anvil_table_t *t, long long now)
{
    size_t removed = 0;

    for (size_t i = 0; i < t->nbuckets; i++) {
	anvil_entry_t **ep = &t->buckets[i], *e;

	while ((e = *ep) != NULL) {
	    if (!anvil_idle(t, e, now)) {
		ep = &e->next;
		continue;
	    }
	    *ep = e->next;
	    mr_free(e->ident);
	    mr_free(e);
	    removed++;
	}
    }
    t->size -= removed;
    return removed;
}

size_t anvil_table_size(const anvil_table_t *t)
{
    return t->size;
}

void anvil_table_free(anvil_table_t **tp)
{
    anvil_table_t *t = *tp;

    if (t == NULL)
	return;
    for (size_t i = 0; i < t->nbuckets; i++) {
	anvil_entry_t *e, *next;

	for (e = t->buckets[i]; e; e = next) {
	    next = e->next;
	    mr_free(e->ident);
	    mr_free(e);
	}
    }
    mr_free(t->buckets);
    mr_free(t);
    *tp = NULL;
}
