/*
 * store_int.h - what the files of lib/store share and nobody else uses.
 */
#ifndef MR_STORE_INT_H
#define MR_STORE_INT_H
#include <sys/types.h>

#include "store/store.h"

#define STORE_SYSTEM_LETTERS "DFPRST"

/* a message file seen in cur/ (or a message found in an mbox) */
typedef struct {
    char *base;
    char flags[STORE_FLAGS_SIZE];
    int used;   /* matched an index entry */
    off_t size; /* mbox: known sizes; Maildir: -1 */
    off_t vsize;
    off_t offset;   /* mbox only */
    off_t raw_size; /* mbox only */
    off_t from;     /* mbox only: where its From_ line starts */
} cur_file_t;

typedef struct {
    cur_file_t *v;
    size_t n, cap;
} cur_list_t;

/* store_fail - keep an error text for *error_r, set errno, return -1 */
int store_fail(const char **error_r, const char *fmt, const char *arg, int err);

/* store_path - DIR/a[/b] as a new string */
char *store_path(const store_t *st, const char *a, const char *b);

/* store_flags_normal - keep the known letters of in (DFPRST, a-z), in
 * ASCII order and once each */
void store_flags_normal(const char *in, char out[STORE_FLAGS_SIZE]);

/* store_name_ok - may a directory entry be a message file name? */
int store_name_ok(const char *name);

/* store_replace_file - replace path with data: written to tmp, fsync'd,
 * renamed, the directory fsync'd; 0 ok, -1 error (*error_r) */
int store_replace_file(const char *path, const char *tmp, const void *data, size_t len,
		       const char **error_r);

/* store_make_maildir - create dir (and its missing parents: a user who
 * never got mail has none yet) with tmp/ new/ cur/; 0 ok, -1 error */
int store_make_maildir(const char *dir, const char **error_r);

/* store_mark_folder - the empty "maildirfolder" file of a Maildir++ folder */
void store_mark_folder(const char *dir);

/* cur_add - a new zeroed entry at the end of cl, with base copied */
cur_file_t *cur_add(cur_list_t *cl, const char *base, size_t len);

/* cur_free - release a list */
void cur_free(cur_list_t *cl);

/* store_lock, store_unlock - the exclusive index lock */
int store_lock(store_t *st, const char **error_r);
void store_unlock(store_t *st);

/* store_keywords_load - read dovecot-keywords into st->keywords */
void store_keywords_load(store_t *st);

/* store_quota_apply - add the size and count changes of the last sync to
 * the Maildir++ maildirsize file (recalculating it when it is missing or
 * stale) */
void store_quota_apply(store_t *st);

/* store_mbox_scan - list the messages of st->mbox into cl (sorted by
 * base) under a read lock; 0 ok, -1 error */
int store_mbox_scan(store_t *st, cur_list_t *cl, const char **error_r);

/* store_mbox_scan_fd - the messages of the mbox open on fd (read from
 * where it stands to its end) into cl, sorted by key; returns the offset
 * of the end, or -1 on a read error. For store_mbox_scan and the fuzzer. */
off_t store_mbox_scan_fd(int fd, cur_list_t *cl);

/* store_mbox_unescape - an mbox message's raw text into out, one '>' less
 * on each line that starts with >+"From " */
void store_mbox_unescape(const char *raw, size_t len, struct str *out);

/* bytes of a line looked at to tell a From_ line or a quoted one */
#define STORE_MBOX_PREFIX 1024

/* store_unescaper_t - store_mbox_unescape fed in pieces of any size: the
 * first STORE_MBOX_PREFIX bytes of a line (the whole line when shorter)
 * are held until it is known whether the line starts with >+"From " */
typedef struct store_unescaper {
    int bol;                     /* the next byte starts a line (held in pre) */
    char pre[STORE_MBOX_PREFIX]; /* the start of the current line */
    size_t npre;
} store_unescaper_t;

/* store_unescape_init - before the first byte of a message */
void store_unescape_init(store_unescaper_t *u);
/* store_unescape_feed - len more bytes of the raw text; what is decided
 * is appended to out */
void store_unescape_feed(store_unescaper_t *u, const char *data, size_t len, struct str *out);
/* store_unescape_end - the end of the raw text: the held rest into out */
void store_unescape_end(store_unescaper_t *u, struct str *out);

/* store_quota_parse - maildirsize text (modified) into q: 0 good, -1
 * stale or bad (made again) */
int store_quota_parse(char *text, store_quota_t *q);

/* store_keywords_parse - dovecot-keywords text (modified) into
 * st->keywords, which must be empty; lines that do not parse are skipped */
void store_keywords_parse(store_t *st, char *text);

/* store_index_replay - apply the whole transactions of text (len bytes,
 * NUL-terminated at len, modified in place: what follows the part of the
 * index st reflects) to st. *end_r: bytes applied (a torn transaction at
 * the end is left). 0 ok, -1 corrupt (st is then half changed). */
int store_index_replay(store_t *st, char *text, size_t len, size_t *end_r);

/* store_txn_new, store_txn_flags, store_txn_gone - add a change to the
 * transaction text txn: message m is new, m has new flags (and modseq),
 * uid was expunged at modseq */
void store_txn_new(struct str *txn, const store_msg_t *m);
void store_txn_flags(struct str *txn, const store_msg_t *m);
void store_txn_gone(struct str *txn, unsigned long uid, unsigned long long modseq);

/* store_txn_commit - end txn with its commit line (st's NEXTUID and
 * HIGHESTMODSEQ after the changes, and the CRC-32 of the text) */
void store_txn_commit(struct str *txn, const store_t *st);

/* store_mbox_msg_open - a descriptor with message m's content */
int store_mbox_msg_open(store_t *st, const store_msg_t *m, const char **error_r);

/* store_mbox_expunge - remove the count messages in uids from the mbox
 * (store.h, store_expunge); the number removed, or -1 with *error_r */
long store_mbox_expunge(store_t *st, const unsigned long *uids, size_t count, const char **error_r);

#endif
