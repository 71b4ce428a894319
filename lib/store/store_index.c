/*
 * store_index.c - the text of a mailbox index: parsing (strict: anything
 * odd makes the whole index corrupt, and the store rebuilds it), writing,
 * and the bounded list of expunged UIDs kept for QRESYNC.
 *
 * Grammar (store.h has the meaning of each field):
 *   index   = header *message *expunge
 *   header  = "MRIDX2" SP uidvalidity SP nextuid SP highestmodseq SP forgotten LF
 *   message = uid SP flags SP size SP vsize SP modseq SP base LF
 *   expunge = "X" SP first SP last SP modseq LF
 * and the first format, read for an upgrade:
 *   header1 = "MRIDX1" SP uidvalidity SP nextuid LF
 *   message1 = uid SP flags SP size SP vsize SP base LF
 * Numbers are plain decimal (no sign, no leading '+', no overflow). UIDs
 * ascend and stay below nextuid; a modseq is at least 1 and at most
 * highestmodseq; expunges do not go back in modseq and are newer than
 * forgotten. Sizes are bounded by the text length check of the reader.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define INDEX_MAGIC1 "MRIDX1"
#define INDEX_MAGIC2 "MRIDX2"

/* parse_num - a plain decimal number; 0 ok, -1 bad */
static int parse_num(const char *s, unsigned long long *v)
{
    char *end;

    if (s == 0 || *s < '0' || *s > '9')
	return -1;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return *end || errno == ERANGE ? -1 : 0;
}

/* parse_ulong - parse_num bounded to an unsigned long above 0 */
static int parse_ulong(const char *s, unsigned long *v)
{
    unsigned long long n;

    if (parse_num(s, &n) < 0 || n == 0 || n > (unsigned long)-1 >> 1)
	return -1;
    *v = (unsigned long)n;
    return 0;
}

/* parse_header - the first line; returns the format (1, 2) or -1 */
static int parse_header(store_t *st, char *line)
{
    char *magic = next_token(&line, " ");
    char *v = next_token(&line, " "), *n = next_token(&line, " ");
    unsigned long long hm = 1, fg = 0;
    int format;

    if (magic && strcmp(magic, INDEX_MAGIC2) == 0)
	format = 2;
    else if (magic && strcmp(magic, INDEX_MAGIC1) == 0)
	format = 1;
    else
	return -1;
    if (parse_ulong(v, &st->uidvalidity) < 0 || parse_ulong(n, &st->next_uid) < 0)
	return -1;
    if (format == 2 && (parse_num(next_token(&line, " "), &hm) < 0 ||
			parse_num(next_token(&line, " "), &fg) < 0 || hm == 0 || fg > hm))
	return -1;
    if (next_token(&line, " ") != 0)
	return -1;
    st->highest_modseq = hm;
    st->forgotten = fg;
    return format;
}

/* parse_flags - a FLAGS field in normal form; 0 ok, -1 bad */
static int parse_flags(const char *flags, int format, char out[STORE_FLAGS_SIZE])
{
    if (flags == 0 || strlen(flags) >= STORE_FLAGS_SIZE)
	return -1;
    if (strcmp(flags, "-") == 0)
	flags = "";
    store_flags_normal(flags, out);
    if (strcmp(out, flags) != 0)
	return -1;
    return format == 1 && strpbrk(out, "abcdefghijklmnopqrstuvwxyz") ? -1 : 0;
}

/* parse_message - one message line into m; 0 ok, -1 bad */
static int parse_message(const store_t *st, char *line, int format, unsigned long prev,
			 store_msg_t *m)
{
    char *uid = next_token(&line, " "), *flags = next_token(&line, " ");
    char *size = next_token(&line, " "), *vsize = next_token(&line, " ");
    char *modseq = format == 2 ? next_token(&line, " ") : "1";
    unsigned long long sz, vsz, ms;

    if (parse_ulong(uid, &m->uid) < 0 || m->uid <= prev || m->uid >= st->next_uid ||
	parse_flags(flags, format, m->flags) < 0 || parse_num(size, &sz) < 0 ||
	parse_num(vsize, &vsz) < 0 || vsz < sz || vsz > (unsigned long long)1 << 62 ||
	parse_num(modseq, &ms) < 0 || ms == 0 || ms > st->highest_modseq || line == 0 ||
	!store_name_ok(line))
	return -1;
    m->size = (off_t)sz;
    m->vsize = (off_t)vsz;
    m->modseq = ms;
    m->base = mr_strdup(line);
    return 0;
}

/* parse_expunge - one "X FIRST LAST MODSEQ" line; 0 ok, -1 bad */
static int parse_expunge(store_t *st, char *line)
{
    char *x = next_token(&line, " ");
    store_expunged_t e;
    unsigned long long ms;

    if (x == 0 || strcmp(x, "X") != 0 || parse_ulong(next_token(&line, " "), &e.first) < 0 ||
	parse_ulong(next_token(&line, " "), &e.last) < 0 ||
	parse_num(next_token(&line, " "), &ms) < 0 || next_token(&line, " ") != 0)
	return -1;
    e.modseq = ms;
    if (e.first > e.last || e.last >= st->next_uid || ms <= st->forgotten ||
	ms > st->highest_modseq || st->nexpunged >= STORE_MAX_EXPUNGED ||
	(st->nexpunged && st->expunged[st->nexpunged - 1].modseq > ms))
	return -1;
    st->expunged = mr_reallocarray(st->expunged, st->nexpunged + 1, sizeof(e));
    st->expunged[st->nexpunged++] = e;
    return 0;
}

/* add_message - parse a message line onto st->msgs; 0 ok, -1 bad */
static int add_message(store_t *st, char *line, int format, size_t *cap)
{
    unsigned long prev = st->count ? st->msgs[st->count - 1].uid : 0;

    if (st->count >= STORE_MAX_MESSAGES)
	return -1;
    if (st->count == *cap) {
	*cap = *cap ? *cap * 2 : 64;
	st->msgs = mr_reallocarray(st->msgs, *cap, sizeof(*st->msgs));
    }
    memset(&st->msgs[st->count], 0, sizeof(*st->msgs));
    if (parse_message(st, line, format, prev, &st->msgs[st->count]) < 0)
	return -1;
    st->count++;
    return 0;
}

/* store_index_parse - see store.h */
int store_index_parse(store_t *st, char *text)
{
    char *rest = split_at(text, '\n');
    size_t cap = 0;
    int format;

    if (rest == 0 || (format = parse_header(st, text)) < 0)
	return -1;
    while (*rest) {
	char *line = rest;

	if ((rest = split_at(line, '\n')) == 0)
	    return -1; /* truncated */
	if (line[0] == 'X' && format == 2) {
	    if (parse_expunge(st, line) < 0)
		return -1;
	} else if (st->nexpunged > 0 || add_message(st, line, format, &cap) < 0) {
	    return -1;
	}
    }
    return 0;
}

/* store_index_format - see store.h */
void store_index_format(const store_t *st, str_t *out)
{
    str_appendf(out, "%s %lu %lu %llu %llu\n", INDEX_MAGIC2, st->uidvalidity, st->next_uid,
		st->highest_modseq, st->forgotten);
    for (size_t i = 0; i < st->count; i++) {
	const store_msg_t *m = &st->msgs[i];

	str_appendf(out, "%lu %s %lld %lld %llu %s\n", m->uid, m->flags[0] ? m->flags : "-",
		    (long long)m->size, (long long)m->vsize, m->modseq, m->base);
    }
    for (size_t i = 0; i < st->nexpunged; i++)
	str_appendf(out, "X %lu %lu %llu\n", st->expunged[i].first, st->expunged[i].last,
		    st->expunged[i].modseq);
}

/* store_index_clear - see store.h */
void store_index_clear(store_t *st)
{
    for (size_t i = 0; i < st->count; i++)
	mr_free(st->msgs[i].base);
    mr_free(st->msgs);
    st->msgs = NULL;
    st->count = 0;
    mr_free(st->expunged);
    st->expunged = NULL;
    st->nexpunged = 0;
}

/* store_expunged_add - remember uid as expunged at modseq; the oldest
 * ranges go when there are more than STORE_MAX_EXPUNGED */
void store_expunged_add(store_t *st, unsigned long uid, unsigned long long modseq)
{
    store_expunged_t *last = st->nexpunged ? &st->expunged[st->nexpunged - 1] : NULL;

    if (last && last->modseq == modseq && last->last + 1 == uid) {
	last->last = uid;
	return;
    }
    if (st->nexpunged == STORE_MAX_EXPUNGED) {
	st->forgotten = st->expunged[0].modseq;
	memmove(st->expunged, st->expunged + 1, (st->nexpunged - 1) * sizeof(*st->expunged));
	st->nexpunged--;
	while (st->nexpunged && st->expunged[0].modseq <= st->forgotten) {
	    memmove(st->expunged, st->expunged + 1, (st->nexpunged - 1) * sizeof(*st->expunged));
	    st->nexpunged--;
	}
    }
    st->expunged = mr_reallocarray(st->expunged, st->nexpunged + 1, sizeof(*st->expunged));
    st->expunged[st->nexpunged++] = (store_expunged_t){uid, uid, modseq};
}

/* store_vanished - see store.h */
size_t store_vanished(const store_t *st, unsigned long long since, store_expunged_t **ranges_r,
		      int *complete_r)
{
    size_t n = 0;

    *ranges_r = NULL;
    *complete_r = since >= st->forgotten;
    for (size_t i = 0; i < st->nexpunged; i++) {
	if (st->expunged[i].modseq <= since)
	    continue;
	*ranges_r = mr_reallocarray(*ranges_r, n + 1, sizeof(**ranges_r));
	(*ranges_r)[n++] = st->expunged[i];
    }
    return n;
}
