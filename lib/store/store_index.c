/*
 * store_index.c - the text of a mailbox index: parsing (strict: anything
 * odd makes the whole index corrupt, and the store rebuilds it), writing,
 * the change transactions appended after the snapshot, and the bounded
 * list of expunged UIDs kept for QRESYNC.
 *
 * Grammar (store.h has the meaning of each field):
 *   index    = snapshot *transaction [torn]
 *   snapshot = header *message *expunge end
 *   header   = "MRIDX3" SP uidvalidity SP nextuid SP highestmodseq SP forgotten LF
 *   message  = uid SP flags SP size SP vsize SP modseq SP base LF
 *   expunge  = "X" SP first SP last SP modseq LF
 *   end      = "E" SP count LF                  ; count = number of messages
 *   transaction = 1*change commit
 *   change   = "N" SP message                   ; a new message
 *            / "F" SP uid SP flags SP modseq LF ; its flags changed
 *            / "D" SP uid SP modseq LF          ; it was expunged
 *   commit   = "C" SP nextuid SP highestmodseq SP crc LF
 * crc is the CRC-32 of the transaction's text from its first change up to
 * and including the space before crc, as 8 lower-case hex digits. Every
 * modseq of a transaction is above the HIGHESTMODSEQ before it and at most
 * the one of its commit; UIDs of new messages ascend from NEXTUID.
 * The earlier formats, read for an upgrade (the next change writes the
 * whole index in the new one):
 *   header2  = "MRIDX2" SP uidvalidity SP nextuid SP highestmodseq SP forgotten LF
 *              then *message *expunge, no end line, no transactions
 *   header1  = "MRIDX1" SP uidvalidity SP nextuid LF
 *              then *(uid SP flags SP size SP vsize SP base LF)
 * Numbers are plain decimal (no sign, no leading '+', no overflow). UIDs
 * ascend and stay below nextuid; a modseq is at least 1 and at most
 * highestmodseq; expunges do not go back in modseq and are newer than
 * forgotten. Sizes are bounded by the text length check of the reader.
 *
 * Torn writes: a transaction is appended in one write and fdatasync'd
 * before the change is reported done. One that a crash cut short (no
 * commit line, a NUL byte, a wrong crc) is only possible as the last
 * thing in the file, because every writer cuts such a tail off before it
 * appends; it is ignored, so the index reads as it was before that
 * change. A bad transaction with a complete one after it, or one whose
 * crc is right but whose changes do not apply, is corruption.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store/store_int.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define INDEX_MAGIC1 "MRIDX1"
#define INDEX_MAGIC2 "MRIDX2"
#define INDEX_MAGIC3 "MRIDX3"

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

/* next_line - the line at *pos, its LF made a NUL, *pos moved past it;
 * NULL when no LF is left before end */
static char *next_line(char **pos, char *end)
{
    char *line = *pos, *lf = line < end ? memchr(line, '\n', (size_t)(end - line)) : NULL;

    if (lf == 0)
	return NULL;
    *lf = 0;
    *pos = lf + 1;
    return line;
}

/* parse_header - the first line; returns the format (1, 2, 3) or -1 */
static int parse_header(store_t *st, char *line)
{
    char *magic = next_token(&line, " ");
    char *v = next_token(&line, " "), *n = next_token(&line, " ");
    unsigned long long hm = 1, fg = 0;
    int format;

    if (magic && strcmp(magic, INDEX_MAGIC3) == 0)
	format = 3;
    else if (magic && strcmp(magic, INDEX_MAGIC2) == 0)
	format = 2;
    else if (magic && strcmp(magic, INDEX_MAGIC1) == 0)
	format = 1;
    else
	return -1;
    if (parse_ulong(v, &st->uidvalidity) < 0 || parse_ulong(n, &st->next_uid) < 0)
	return -1;
    if (format > 1 && (parse_num(next_token(&line, " "), &hm) < 0 ||
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

/* parse_message - the fields of a message line into m (base not yet
 * copied: *base_r points into line); 0 ok, -1 bad */
static int parse_message(char *line, int format, store_msg_t *m, char **base_r)
{
    char *uid = next_token(&line, " "), *flags = next_token(&line, " ");
    char *size = next_token(&line, " "), *vsize = next_token(&line, " ");
    char *modseq = format >= 2 ? next_token(&line, " ") : "1";
    unsigned long long sz, vsz, ms;

    if (parse_ulong(uid, &m->uid) < 0 || parse_flags(flags, format, m->flags) < 0 ||
	parse_num(size, &sz) < 0 || parse_num(vsize, &vsz) < 0 || vsz < sz ||
	vsz > (unsigned long long)1 << 62 || parse_num(modseq, &ms) < 0 || ms == 0 || line == 0 ||
	!store_name_ok(line))
	return -1;
    m->size = (off_t)sz;
    m->vsize = (off_t)vsz;
    m->modseq = ms;
    *base_r = line;
    return 0;
}

/* add_message - room for one more message at the end of st->msgs, zeroed;
 * NULL beyond STORE_MAX_MESSAGES */
static store_msg_t *add_message(store_t *st)
{
    if (st->count >= STORE_MAX_MESSAGES)
	return NULL;
    if (st->count == st->msgs_cap) {
	st->msgs_cap = st->msgs_cap ? st->msgs_cap * 2 : 64;
	st->msgs = mr_reallocarray(st->msgs, st->msgs_cap, sizeof(*st->msgs));
    }
    memset(&st->msgs[st->count], 0, sizeof(*st->msgs));
    return &st->msgs[st->count];
}

/* snapshot_message - a message line of the snapshot onto st->msgs; 0 ok,
 * -1 bad */
static int snapshot_message(store_t *st, char *line, int format)
{
    unsigned long prev = st->count ? st->msgs[st->count - 1].uid : 0;
    store_msg_t *m = add_message(st);
    char *base;

    if (m == 0 || parse_message(line, format, m, &base) < 0 || m->uid <= prev ||
	m->uid >= st->next_uid || m->modseq > st->highest_modseq)
	return -1;
    m->base = mr_strdup(base);
    st->count++;
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

/* parse_end - the "E COUNT" line; 0 ok, -1 bad */
static int parse_end(const store_t *st, char *line)
{
    char *e = next_token(&line, " ");
    unsigned long long n;

    if (e == 0 || strcmp(e, "E") != 0 || parse_num(next_token(&line, " "), &n) < 0 ||
	next_token(&line, " ") != 0 || n != st->count)
	return -1;
    return 0;
}

/* parse_snapshot - the header and the lines up to "E" (format 3) or to
 * end (earlier formats) into st; returns the format and *pos after the
 * snapshot, or -1 */
static int parse_snapshot(store_t *st, char **pos, char *end)
{
    char *line = next_line(pos, end);
    int format;

    if (line == 0 || (format = parse_header(st, line)) < 0)
	return -1;
    while ((line = next_line(pos, end)) != 0) {
	if (line[0] == 'E' && format == 3)
	    return parse_end(st, line) < 0 ? -1 : format;
	if (line[0] == 'X' && format >= 2) {
	    if (parse_expunge(st, line) < 0)
		return -1;
	} else if (st->nexpunged > 0 || snapshot_message(st, line, format) < 0) {
	    return -1;
	}
    }
    return format < 3 && *pos == end ? format : -1; /* end missing, or a line truncated */
}

/* store_index_parse - see store.h */
int store_index_parse(store_t *st, char *text, size_t len, size_t *end_r)
{
    char *pos = text, *end = text + len, *nul = memchr(text, 0, len);
    int format;

    *end_r = 0;
    /* a NUL byte may only be in a torn transaction at the end: the
     * snapshot before it must be whole */
    if ((format = parse_snapshot(st, &pos, nul ? nul : end)) < 0 || (format < 3 && nul))
	return -1;
    st->index_format = format;
    st->index_snapshot = (size_t)(pos - text);
    if (format < 3) {
	*end_r = len;
	return 0;
    }
    if (store_index_replay(st, pos, (size_t)(end - pos), end_r) < 0)
	return -1;
    *end_r += st->index_snapshot;
    return 0;
}

/* txn_find - the transaction at pos: *commit_r at its "C" line, *next_r
 * after that line; 0 found, -1 no commit line before end */
static int txn_find(char *pos, char *end, char **commit_r, char **next_r)
{
    while (pos < end) {
	char *lf = memchr(pos, '\n', (size_t)(end - pos));

	if (lf == 0)
	    return -1;
	if (pos[0] == 'C' && lf - pos > 1 && pos[1] == ' ') {
	    *commit_r = pos;
	    *next_r = lf + 1;
	    return 0;
	}
	pos = lf + 1;
    }
    return -1;
}

/* txn_commit - the commit line's numbers; 0 ok, -1 bad */
static int txn_commit(char *line, unsigned long *next_uid, unsigned long long *high,
		      unsigned long *crc)
{
    char *c = next_token(&line, " "), *n = next_token(&line, " "), *h = next_token(&line, " ");
    char *x = next_token(&line, " "), *end;

    if (c == 0 || strcmp(c, "C") != 0 || parse_ulong(n, next_uid) < 0 || parse_num(h, high) < 0 ||
	x == 0 || strlen(x) != 8 || next_token(&line, " ") != 0)
	return -1;
    *crc = strtoul(x, &end, 16);
    return *end || strspn(x, "0123456789abcdef") != 8 ? -1 : 0;
}

/* txn_checked - are the transaction's bytes [start, commit line) intact:
 * no NUL, a commit line that parses, the crc right? 1 yes, 0 no */
static int txn_checked(char *start, char *commit, char *next, unsigned long *next_uid,
		       unsigned long long *high)
{
    size_t head = (size_t)(next - start) - 9; /* up to the space before crc */
    unsigned long crc, want;

    if (memchr(start, 0, (size_t)(next - start)) || next - commit < 15)
	return 0;
    want = crc32(0L, (const Bytef *)start, (uInt)head) & 0xffffffffUL;
    next[-1] = 0;
    return txn_commit(commit, next_uid, high, &crc) == 0 && crc == want;
}

/* change_new - an "N" change; 0 ok, -1 bad */
static int change_new(store_t *st, char *line, unsigned long next_uid, unsigned long long old_high,
		      unsigned long long high)
{
    unsigned long prev = st->count ? st->msgs[st->count - 1].uid : 0;
    store_msg_t *m = add_message(st);
    char *base;

    if (m == 0 || parse_message(line, 2, m, &base) < 0 || m->uid <= prev || m->uid < st->next_uid ||
	m->uid >= next_uid || m->modseq <= old_high || m->modseq > high)
	return -1;
    m->base = mr_strdup(base);
    st->count++;
    return 0;
}

/* change_flags - an "F" change; 0 ok, -1 bad */
static int change_flags(store_t *st, char *line, unsigned long long old_high,
			unsigned long long high)
{
    char *uid = next_token(&line, " "), *flags = next_token(&line, " ");
    char norm[STORE_FLAGS_SIZE];
    unsigned long u;
    unsigned long long ms;
    long i;

    if (parse_ulong(uid, &u) < 0 || parse_flags(flags, 2, norm) < 0 ||
	parse_num(next_token(&line, " "), &ms) < 0 || next_token(&line, " ") != 0 ||
	ms <= old_high || ms > high || (i = store_find(st, u)) < 0 || st->msgs[i].base == 0)
	return -1;
    memcpy(st->msgs[i].flags, norm, sizeof(norm));
    st->msgs[i].modseq = ms;
    return 0;
}

/* change_gone - a "D" change: the message is marked (base NULL) until
 * the commit drops it; 0 ok, -1 bad */
static int change_gone(store_t *st, char *line, unsigned long long old_high,
		       unsigned long long high)
{
    unsigned long u;
    unsigned long long ms;
    long i;

    if (parse_ulong(next_token(&line, " "), &u) < 0 || parse_num(next_token(&line, " "), &ms) < 0 ||
	next_token(&line, " ") != 0 || ms <= old_high || ms > high || (i = store_find(st, u)) < 0 ||
	st->msgs[i].base == 0 || (st->nexpunged && st->expunged[st->nexpunged - 1].modseq > ms))
	return -1;
    mr_free(st->msgs[i].base);
    st->msgs[i].base = NULL;
    store_expunged_add(st, u, ms);
    return 0;
}

/* drop_gone - compact st->msgs after the "D" changes of a transaction */
static void drop_gone(store_t *st)
{
    size_t n = 0;

    for (size_t i = 0; i < st->count; i++)
	if (st->msgs[i].base)
	    st->msgs[n++] = st->msgs[i];
    st->count = n;
}

/* txn_apply - the changes of a checked transaction (lines from pos up to
 * commit); 0 ok, -1 bad */
static int txn_apply(store_t *st, char *pos, char *commit, unsigned long next_uid,
		     unsigned long long high)
{
    unsigned long long old_high = st->highest_modseq;
    int r = 0, n = 0;
    char *line;

    if (next_uid < st->next_uid || high < old_high)
	return -1;
    while (r == 0 && pos < commit && (line = next_line(&pos, commit)) != 0) {
	n++;
	if (line[0] == 'N' && line[1] == ' ')
	    r = change_new(st, line + 2, next_uid, old_high, high);
	else if (line[0] == 'F' && line[1] == ' ')
	    r = change_flags(st, line + 2, old_high, high);
	else if (line[0] == 'D' && line[1] == ' ')
	    r = change_gone(st, line + 2, old_high, high);
	else
	    r = -1;
    }
    drop_gone(st);
    st->next_uid = next_uid;
    st->highest_modseq = high;
    return r < 0 || n == 0 || pos != commit ? -1 : 0;
}

/* store_index_replay - see store_int.h */
int store_index_replay(store_t *st, char *text, size_t len, size_t *end_r)
{
    char *pos = text, *end = text + len, *commit, *next;

    *end_r = 0;
    while (pos < end) {
	unsigned long next_uid;
	unsigned long long high;

	if (txn_find(pos, end, &commit, &next) < 0)
	    break; /* torn: no commit line */
	if (!txn_checked(pos, commit, next, &next_uid, &high)) {
	    if (next < end && memchr(next, '\n', (size_t)(end - next)))
		return -1; /* a bad transaction with more after it */
	    break;         /* torn: the last write did not reach the disk whole */
	}
	if (txn_apply(st, pos, commit, next_uid, high) < 0)
	    return -1;
	pos = next;
	*end_r = (size_t)(pos - text);
    }
    return 0;
}

/* format_message - a message line (without a leading change letter) */
static void format_message(str_t *out, const store_msg_t *m)
{
    str_appendf(out, "%lu %s %lld %lld %llu %s\n", m->uid, m->flags[0] ? m->flags : "-",
		(long long)m->size, (long long)m->vsize, m->modseq, m->base);
}

/* store_index_format - see store.h */
void store_index_format(const store_t *st, str_t *out)
{
    str_appendf(out, "%s %lu %lu %llu %llu\n", INDEX_MAGIC3, st->uidvalidity, st->next_uid,
		st->highest_modseq, st->forgotten);
    for (size_t i = 0; i < st->count; i++)
	format_message(out, &st->msgs[i]);
    for (size_t i = 0; i < st->nexpunged; i++)
	str_appendf(out, "X %lu %lu %llu\n", st->expunged[i].first, st->expunged[i].last,
		    st->expunged[i].modseq);
    str_appendf(out, "E %zu\n", st->count);
}

/* store_txn_new - see store_int.h */
void store_txn_new(str_t *txn, const store_msg_t *m)
{
    str_appends(txn, "N ");
    format_message(txn, m);
}

/* store_txn_flags - see store_int.h */
void store_txn_flags(str_t *txn, const store_msg_t *m)
{
    str_appendf(txn, "F %lu %s %llu\n", m->uid, m->flags[0] ? m->flags : "-", m->modseq);
}

/* store_txn_gone - see store_int.h */
void store_txn_gone(str_t *txn, unsigned long uid, unsigned long long modseq)
{
    str_appendf(txn, "D %lu %llu\n", uid, modseq);
}

/* store_txn_commit - see store_int.h */
void store_txn_commit(str_t *txn, const store_t *st)
{
    unsigned long crc;

    str_appendf(txn, "C %lu %llu ", st->next_uid, st->highest_modseq);
    crc = crc32(0L, (const Bytef *)str_data(txn), (uInt)str_len(txn)) & 0xffffffffUL;
    str_appendf(txn, "%08lx\n", crc);
}

/* store_index_clear - see store.h */
void store_index_clear(store_t *st)
{
    for (size_t i = 0; i < st->count; i++)
	mr_free(st->msgs[i].base);
    mr_free(st->msgs);
    st->msgs = NULL;
    st->count = st->msgs_cap = 0;
    mr_free(st->expunged);
    st->expunged = NULL;
    st->nexpunged = 0;
    st->index_format = 0;
    st->index_snapshot = 0;
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
