/*
 * store.h - a Maildir mailbox with a UID index, shared by POP3 and IMAP.
 *
 * A mailbox is a Maildir (tmp/, new/, cur/); Maildir++ folders are
 * sibling directories named ".Folder" (".Folder.Sub" for a child) inside
 * the user's Maildir, each a Maildir itself. Each mailbox directory holds
 * an index file, "mailroom.index", that gives every message a UID that
 * never changes and is never reused while UIDVALIDITY stays the same:
 *
 *   line 1:  "MRIDX1 UIDVALIDITY NEXTUID"
 *   then:    "UID FLAGS SIZE VSIZE BASE"  one per message, UIDs ascending
 *
 * FLAGS are the Maildir info letters (DFPRST, sorted; "-" for none), SIZE
 * the file's size in bytes, VSIZE its size with every line ending in CRLF
 * (what POP3 reports and sends), BASE the file name without ":2,FLAGS".
 * Sizes come from the ",S=" and ",W=" name fields when present, else from
 * the file once, then from the index.
 *
 * Every change (store_sync, store_expunge, store_set_flags) runs under an
 * exclusive lock on "mailroom.index.lock", reads the index afresh, and
 * writes a new one under a temporary name, fsync, rename: two sessions and
 * any number of deliveries never reuse a UID or lose a flag, and a crash
 * leaves the old index or the new one. A missing or unreadable index is
 * rebuilt from the Maildir with a new UIDVALIDITY, and logged. The file
 * name in cur/ is the truth for flags (as every Maildir reader expects);
 * the index caches them.
 */
#ifndef MR_STORE_H
#define MR_STORE_H
#include <sys/types.h>

#define STORE_INDEX_NAME "mailroom.index"
#define STORE_LOCK_NAME "mailroom.index.lock"
#define STORE_MAX_MESSAGES 1000000 /* a bigger index is refused as corrupt */
#define STORE_MAX_NAME 255         /* a file name longer than this is ignored */

typedef struct store_msg {
    unsigned long uid;
    char *base;    /* file name without ":2,FLAGS" */
    char flags[8]; /* sorted info letters, "" for none */
    off_t size;    /* bytes in the file */
    off_t vsize;   /* bytes with CRLF line ends */
} store_msg_t;

typedef struct store {
    char *dir; /* the mailbox directory */
    unsigned long uidvalidity;
    unsigned long next_uid;
    store_msg_t *msgs; /* ascending UIDs */
    size_t count;
    int lock_fd; /* -1 when not locked */
    int rebuilt; /* the last sync rebuilt the index */
} store_t;

/* store_open - open the mailbox in dir (creating tmp/ new/ cur/ if they
 * are missing) and sync it. Returns 0 and *store_r, or -1 with text in
 * *error_r (static storage). */
int store_open(const char *dir, store_t **store_r, const char **error_r);

/* store_sync - take new mail (new/ -> cur/), forget messages whose file is
 * gone, give new files the next UIDs, and rewrite the index: all under
 * the lock. The message array is replaced. 0 ok, -1 error (*error_r). */
int store_sync(store_t *st, const char **error_r);

/* store_find - index in st->msgs of uid, or -1 */
long store_find(const store_t *st, unsigned long uid);

/* store_msg_open - open message uid for reading (following a rename by
 * another session). Returns a descriptor, or -1 with *error_r; errno
 * ENOENT when the message is gone. */
int store_msg_open(store_t *st, unsigned long uid, const char **error_r);

/* store_set_flags - set message uid's flags (Maildir letters, any order)
 * by renaming its file in cur/. 0 ok, -1 error (*error_r). */
int store_set_flags(store_t *st, unsigned long uid, const char *flags, const char **error_r);

/* store_expunge - delete the messages with the count UIDs in uids (a UID
 * already gone is not an error) and drop them from the index. Returns the
 * number deleted, or -1 with *error_r. */
long store_expunge(store_t *st, const unsigned long *uids, size_t count, const char **error_r);

/* store_folder_path - the directory of Maildir++ folder name ("INBOX" or
 * "" is the Maildir itself; "Work/Sub" is ".Work.Sub"). Returns a
 * mr_alloc'd path, or NULL when the name is not acceptable (empty parts,
 * '.', '/' inside a part, leading dot). */
char *store_folder_path(const char *maildir, const char *name);

/* store_vsize - size of fd's content with every bare LF counted as CRLF;
 * -1 on a read error */
off_t store_vsize(int fd);

/* store_close - release *stp (and its lock) and set it to NULL */
void store_close(store_t **stp);

#endif
