/*
 * store.h - a Maildir mailbox with a UID index, shared by POP3 and IMAP.
 *
 * A mailbox is a Maildir (tmp/, new/, cur/); Maildir++ folders are
 * sibling directories named ".Folder" (".Folder.Sub" for a child) inside
 * the user's Maildir, each a Maildir itself. Each mailbox directory holds
 * an index file, "mailroom.index", that gives every message a UID that
 * never changes and is never reused while UIDVALIDITY stays the same, and
 * a modification sequence (RFC 7162) that grows whenever the message's
 * flags change. The file is a snapshot followed by the changes made since
 * (store_index.c has the grammar):
 *
 *   line 1:  "MRIDX3 UIDVALIDITY NEXTUID HIGHESTMODSEQ FORGOTTEN"
 *   then:    "UID FLAGS SIZE VSIZE MODSEQ BASE"  one per message, UIDs ascending
 *   then:    "X FIRST LAST MODSEQ"  expunged UIDs, oldest first, bounded
 *   then:    "E COUNT"  the end of the snapshot
 *   then:    transactions, each a few changes ("N" a new message, "F"
 *            new flags, "D" expunged) and a commit line "C NEXTUID
 *            HIGHESTMODSEQ CRC32"
 *
 * FLAGS are the Maildir info letters: DFPRST for the system flags and a-z
 * for keywords, in ASCII order ("-" for none). A keyword letter names the
 * keyword on line N ('a' + N) of the mailbox's "dovecot-keywords" file, so
 * a Dovecot Maildir keeps its keywords. SIZE is the file's size in bytes,
 * VSIZE its size with every line ending in CRLF (what POP3 reports and
 * sends), BASE the file name without ":2,FLAGS". Sizes come from the ",S="
 * and ",W=" name fields when present, else from the file once, then from
 * the index. FORGOTTEN is the highest modseq of the expunges dropped from
 * the bounded "X" list (0: none dropped). Indexes of the earlier formats
 * ("MRIDX2": the snapshot without "E" and without transactions; "MRIDX1
 * UIDVALIDITY NEXTUID" with "UID FLAGS SIZE VSIZE BASE" lines, every
 * message at modseq 1) are read too and rewritten in the new one at the
 * next change.
 *
 * Every change (store_sync, store_expunge, store_set_flags,
 * store_change_flags) runs under an exclusive lock on
 * "mailroom.index.lock". It first brings the session's copy up to date:
 * when the file is the one it read last time, only the transactions
 * appended since are read, else the whole file. It then appends one
 * transaction in one write and fdatasync's it; when the changes have
 * grown past a quarter of the snapshot (or 64 KiB, whichever is more),
 * the whole index is written instead under a temporary name, fsync,
 * rename. Two sessions and any number of deliveries therefore never
 * reuse a UID or lose a flag, and a crash leaves the old index or the new
 * one: a transaction cut short is ignored, and cut off by the next
 * writer. A missing or unreadable index is rebuilt from the Maildir with
 * a new UIDVALIDITY, and logged. The file name in cur/ is the truth for
 * flags (as every Maildir reader expects); the index caches them.
 */
#ifndef MR_STORE_H
#define MR_STORE_H
#include <sys/types.h>
#include <time.h>

struct str;

#define STORE_INDEX_NAME "mailroom.index"
#define STORE_LOCK_NAME "mailroom.index.lock"
#define STORE_KEYWORDS_NAME "dovecot-keywords"
#define STORE_MAX_MESSAGES 1000000 /* a bigger index is refused as corrupt */
#define STORE_MAX_NAME 255         /* a file name longer than this is ignored */
#define STORE_MAX_KEYWORDS 26      /* letters a-z */
#define STORE_MAX_KEYWORD_LEN 100  /* octets in a keyword name */
#define STORE_MAX_EXPUNGED 4096    /* expunge ranges remembered */
#define STORE_FLAGS_SIZE 36        /* 6 system + 26 keyword letters + NUL, rounded */

typedef struct store_msg {
    unsigned long uid;
    char *base;                   /* file name without ":2,FLAGS" */
    char flags[STORE_FLAGS_SIZE]; /* sorted info letters, "" for none */
    off_t size;                   /* bytes in the file */
    off_t vsize;                  /* bytes with CRLF line ends */
    unsigned long long modseq;    /* last change of this message */
    off_t offset;                 /* mbox: where the content starts */
    off_t raw_size;               /* mbox: bytes in the file (escaped) */
} store_msg_t;

/* UIDs first..last were expunged at modseq */
typedef struct store_expunged {
    unsigned long first, last;
    unsigned long long modseq;
} store_expunged_t;

typedef struct store {
    char *dir; /* the mailbox directory (mbox: where its index lives) */
    unsigned long uidvalidity;
    unsigned long next_uid;
    unsigned long long highest_modseq;
    unsigned long long forgotten; /* expunges up to this modseq are forgotten */
    store_msg_t *msgs;            /* ascending UIDs */
    size_t count;
    store_expunged_t *expunged; /* oldest first */
    size_t nexpunged;
    char *keywords[STORE_MAX_KEYWORDS]; /* name of letter 'a' + i, or NULL */
    int lock_fd;                        /* -1 when not locked */
    int rebuilt;                        /* the last sync rebuilt the index */
    char *root;                         /* the Maildir that holds maildirsize */
    long long quota_bytes;              /* change of size since the last sync */
    long quota_count;                   /* change of message count */
    char *mbox;                         /* mbox file, or NULL for a Maildir */
    ino_t mbox_ino;                     /* the mbox as of the last scan */
    off_t mbox_size;
    size_t msgs_cap;       /* room in msgs */
    int index_fd;          /* the index file read last, or -1 */
    int index_format;      /* its format (1, 2, 3) */
    size_t index_snapshot; /* bytes of its snapshot */
    size_t index_end;      /* bytes of it that msgs reflects */
    struct str *txn;       /* the changes being made, or NULL */
    char index_head[96];   /* its first line, to notice a rewrite in place */
} store_t;

/* Counts every open(2) of a message file by the store (sizes of new
 * files, store_msg_open): evidence that a mailbox opens from its index. */
extern unsigned long store_message_opens;

/* The least bytes of changes appended to an index before the whole file
 * is written again (a quarter of its snapshot when that is more); 65536.
 * Tests lower it to see many rewrites. */
extern size_t store_index_log_min;

/* store_open - open the mailbox in dir (creating tmp/ new/ cur/ if they
 * are missing) and sync it. A user's Maildir itself (a directory whose
 * name does not start with '.') gets its SPECIAL-USE folders at the first
 * open (see store_special_init). Returns 0 and *store_r, or -1 with text
 * in *error_r (static storage). */
int store_open(const char *dir, store_t **store_r, const char **error_r);

/* store_open_mbox - open the mbox file path (a system user's /var/mail
 * box; missing: empty), keeping its index (UIDs, sizes) in index_dir,
 * which is created when missing. A message is known by a hash of its
 * From_ line, header (less the fields mail readers change) and body size,
 * so it keeps its UID when others are deleted by another program. Flags
 * come from the Status: and X-Status: headers. store_expunge rewrites the
 * file under the dot-lock and an fcntl lock (global/mbox_lock.h); a
 * rewrite cut short is finished here first. store_change_flags and
 * store_keyword with create fail with EROFS. Returns 0 and *store_r, or
 * -1 with *error_r (errno EAGAIN: locked by another program). */
int store_open_mbox(const char *path, const char *index_dir, store_t **store_r,
		    const char **error_r);

/* store_sync - take new mail (new/ -> cur/), forget messages whose file is
 * gone (remembering their UIDs as expunged), give new files the next UIDs,
 * notice flags changed by other programs (new modseq), and rewrite the
 * index: all under the lock. The message array is replaced. 0 ok, -1
 * error (*error_r). */
int store_sync(store_t *st, const char **error_r);

/* store_find - index in st->msgs of uid, or -1 */
long store_find(const store_t *st, unsigned long uid);

/* store_msg_open - open message uid for reading (following a rename by
 * another session). Returns a descriptor, or -1 with *error_r; errno
 * ENOENT when the message is gone. */
int store_msg_open(store_t *st, unsigned long uid, const char **error_r);

/* store_set_flags - set message uid's flags (Maildir letters, any order,
 * keyword letters included) by renaming its file in cur/. 0 ok, -1 error
 * (*error_r). */
int store_set_flags(store_t *st, unsigned long uid, const char *flags, const char **error_r);

typedef enum { STORE_FLAGS_REPLACE, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE } store_flags_op_t;

/* store_change_flags - replace, add or remove the letters (system and
 * keyword) of the count messages in uids, in one pass under the lock,
 * starting from each file's current flags (so a flag set meanwhile by
 * another session is kept). A message whose modseq is above
 * unchangedsince (0: no condition) is left alone and its UID put into
 * modified_r (room for count; may be NULL when unchangedsince is 0), their
 * number in *nmodified_r. UIDs that are gone are skipped. Each changed
 * message gets a new modseq. Returns the number changed, or -1 with
 * *error_r (EROFS for an mbox). */
long store_change_flags(store_t *st, const unsigned long *uids, size_t count, store_flags_op_t op,
			const char *letters, unsigned long long unchangedsince,
			unsigned long *modified_r, size_t *nmodified_r, const char **error_r);

/* store_append - add the message read from fd (to its end) to the
 * mailbox, for IMAP APPEND or a copy into Sent: written into tmp/,
 * fsync'd, given date (0: now) as its time, renamed to
 * cur/NAME,S=SIZE,W=VSIZE:2,FLAGS (flags as Maildir letters) and the
 * directory fsync'd; then the mailbox is synced, which numbers it (and
 * counts it in the quota). Returns its UID, or 0 with *error_r (nothing
 * is then left in the mailbox; EROFS for an mbox). */
unsigned long store_append(store_t *st, int fd, const char *flags, time_t date,
			   const char **error_r);

/* store_keyword - the letter of keyword name (case-insensitive, as IMAP
 * compares keywords). Unknown: with create, the next free letter is given
 * to it in dovecot-keywords (under the lock); without, 0. Returns the
 * letter, 0, or -1 with *error_r (a name that is not an IMAP atom or is
 * too long, or all 26 letters in use). */
int store_keyword(store_t *st, const char *name, int create, const char **error_r);

/* store_keyword_ok - is name acceptable as a keyword (an IMAP atom of at
 * most STORE_MAX_KEYWORD_LEN octets, not starting with '\')? 1 or 0 */
int store_keyword_ok(const char *name);

/* store_vanished - the expunges with a modseq above since (QRESYNC), as
 * ranges in *ranges_r (mr_alloc'd, NULL when none), their number as the
 * result. *complete_r is 0 when expunges newer than since may have been
 * forgotten: the caller must then report every UID below next_uid that
 * is not in the mailbox. */
size_t store_vanished(const store_t *st, unsigned long long since, store_expunged_t **ranges_r,
		      int *complete_r);

/* store_expunge - delete the messages with the count UIDs in uids (a UID
 * already gone is not an error) and drop them from the index, remembering
 * them as expunged. Returns the number deleted, or -1 with *error_r. */
long store_expunge(store_t *st, const unsigned long *uids, size_t count, const char **error_r);

/* store_folder_path - the directory of Maildir++ folder name ("INBOX" or
 * "" is the Maildir itself; "Work/Sub" is ".Work.Sub"). Returns a
 * mr_alloc'd path, or NULL when the name is not acceptable (empty parts,
 * '.', '/' inside a part, leading dot). */
char *store_folder_path(const char *maildir, const char *name);

/* usage and limits of a user's Maildir (0: no limit) */
typedef struct store_quota {
    long long bytes, count;
    long long limit_bytes, limit_count;
} store_quota_t;

/* store_quota - the Maildir++ quota of the Maildir that holds st's
 * folder: usage from its "maildirsize" file (recalculated from every
 * folder's index when missing or stale), limits from mailbox_quota and
 * mailbox_quota_messages (or, when both are 0, from the file). 0 ok, -1
 * error (EOPNOTSUPP for an mbox). */
int store_quota(store_t *st, store_quota_t *q, const char **error_r);

/* store_special_init - give maildir its SPECIAL-USE folders (RFC 6154:
 * \Drafts, \Sent, \Junk, \Trash) unless "mailroom.special-use" says it
 * has them: a folder of a usual name that exists gets the attribute,
 * else one is made and subscribed; then the record file is written.
 * store_open does this for a user's Maildir. 0 ok, -1 error (*error_r). */
int store_special_init(const char *maildir, const char **error_r);

/* store_special_use - the SPECIAL-USE attribute recorded for folder name
 * of maildir ("\Sent" ...), mr_alloc'd, or NULL */
char *store_special_use(const char *maildir, const char *name);

/* store_vsize - size of fd's content with every bare LF counted as CRLF;
 * -1 on a read error */
off_t store_vsize(int fd);

/* store_close - release *stp (and its lock) and set it to NULL */
void store_close(store_t **stp);

/* store_index_parse - parse index text of len bytes (NUL-terminated at
 * len, modified in place) into st's uidvalidity, next_uid, highest_modseq,
 * forgotten, msgs and expunged, which must be empty, then apply the
 * transactions after the snapshot. *end_r is the length up to the end of
 * the last whole transaction (less than len when a torn one follows).
 * Sets st->index_format and st->index_snapshot. 0 ok, -1 corrupt (st then
 * holds what was parsed so far; store_index_clear releases it). For the
 * store and its fuzzer. */
int store_index_parse(store_t *st, char *text, size_t len, size_t *end_r);

/* store_index_format - the index text of st as a snapshot (no
 * transactions), appended to out (a str_t) */
void store_index_format(const store_t *st, struct str *out);

/* store_expunged_add - remember uid as expunged at modseq; the oldest
 * ranges are forgotten beyond STORE_MAX_EXPUNGED */
void store_expunged_add(store_t *st, unsigned long uid, unsigned long long modseq);

/* store_index_clear - release st's messages and expunge list */
void store_index_clear(store_t *st);

#endif
