/*
 * qfile.h - queue IDs, where a queue file lives, creating, committing
 * and reading queue files (and maildrop files, which use the same format).
 *
 * Queue ID: 16 characters of [0-9B-DF-HJ-NP-TV-Z] (no vowels, as Postfix's
 * long IDs): 11 base-31 digits of the arrival time in microseconds, 5 of
 * the inode number of the file (mod 31^5).
 * IDs sort by time as plain strings. The file name in a queue directory
 * is the ID; temporary files start with "." and are never taken for a
 * queue file (qid_valid rejects them).
 *
 * Hashing: the queues named in hash_queue_names (default "incoming,
 * active, deferred, hold, defer, bounce") keep a file in
 * QUEUE/H1/.../ID, with hash_queue_depth (default 1) levels of one hex
 * digit each taken from a hash of the ID. Always use qfile_path() and
 * qscan_*() instead of building paths by hand; directories are created
 * on demand by qfile_commit() and qfile_move().
 *
 * A maildrop file (postdrop) is made the same way: qfile_create("maildrop",
 * 0644, ...), rec_put the envelope (SENDER, RCPT..., optional TIME/ATTR),
 * MESG, content lines (NORM/CONT), END, then qfile_commit; then wake pickup
 * with mail_trigger(MAIL_SOCK_PICKUP, "W", 1, ...) (queue/mail_trigger.h).
 *
 * Paths given to and returned by these functions are relative to the
 * queue directory ("incoming/7/...") unless the name says "abs"; the abs
 * form is what the process must open (mail_queue_path: chrooted or not).
 */
#ifndef MR_QFILE_H
#define MR_QFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#include "util/attr.h"
#include "util/str.h"
#include "util/stream.h"

#define QID_LEN 16
#define QID_BUFSIZE (QID_LEN + 1)

/* qid_make - encode a queue ID from a time and a unique number (inode) */
void qid_make(char id[QID_BUFSIZE], const struct timeval *tv, unsigned long unique);
/* qid_new - a queue ID for now; unique is normally the file's inode. Within
 * one process, successive calls never return the same time part. */
void qid_new(char id[QID_BUFSIZE], unsigned long unique);
/* qid_valid - 1 if name is a well-formed queue ID, else 0 */
int qid_valid(const char *name);
/* qid_time - the arrival second encoded in a valid ID */
long qid_time(const char *id);

/* qfile_hashed - 1 if queue (e.g. "deferred") is hashed per hash_queue_names */
int qfile_hashed(const char *queue);
/* qfile_path - set out to "QUEUE[/H...]/ID" (queue-relative); returns its data */
const char *qfile_path(str_t *out, const char *queue, const char *id);
/* qfile_abspath - set out to the path the process opens; returns its data */
const char *qfile_abspath(str_t *out, const char *queue, const char *id);

/* qid_new_in - like qid_new, but an ID that qfile_path puts in the same
 * hash directory of queue as the ID model (the time part steps forward
 * until it does) */
void qid_new_in(char id[QID_BUFSIZE], unsigned long unique, const char *queue, const char *model);

/*
 * Ready. A queue file is committed when its owner-execute bit is set
 * (QFILE_READY_BIT, as Postfix marks finished queue files): every reader
 * (qscan, qfile_open, hence qmgr, pickup, mailroom-queue, showq) skips a
 * file without it. It is set as the last change before the final fsync.
 */
#define QFILE_READY_BIT S_IXUSR

/* qfile_ready - 1 if st is a regular file marked ready, else 0 */
int qfile_ready(const struct stat *st);

/*
 * Writing, one file at a time. qfile_create makes a temporary file
 * ".tPID.N" directly in queue (O_CREAT|O_EXCL, mode), derives the queue
 * ID from its inode, and returns a stream on it; the caller writes
 * records with rec_put. qfile_commit writes it out, marks it ready,
 * renames it to its hashed final name (never replacing a file), fsyncs it
 * and the directory (the order is argued in qfile.c); only after it
 * returned 0 may anyone treat the message as accepted. qfile_discard
 * removes the temp file. postdrop writes maildrop files this way.
 *
 * Writing from reservations (cleanup). qfile_pool_take hands out a file
 * that already has its final name, made ahead of use in a batch whose
 * names one directory fsync made durable (qfile_pool.c); qfile_commit on
 * it writes it out, marks it ready and fsyncs the file: one device flush.
 * If the caller changed qo->queue (hold), the commit renames it there
 * first and fsyncs both directories.
 */
typedef struct qfile_out {
    stream_t *stream; /* write records here */
    char id[QID_BUFSIZE];
    char *queue;       /* queue it is committed to */
    char *tmp_abspath; /* private: where the file is now */
    char *home;        /* private: queue of a reservation */
    mode_t mode;       /* private: permissions without the ready bit, 0: unknown */
    int committed;     /* private */
} qfile_out_t;

/* qfile_create - new temp file in queue; NULL with *error_r on error */
qfile_out_t *qfile_create(const char *queue, mode_t mode, const char **error_r);
/* qfile_commit - flush, write out, rename, fsync file and dir: 0 ok, -1
 * (*error_r); after -1 call qfile_discard. committed is 0 after -1, except
 * when only the directory could not be opened for its fsync (the file is
 * then in the queue under its name: see qfile.c) */
int qfile_commit(qfile_out_t *qo, const char **error_r);
/* qfile_discard - close, remove the temp file unless committed, free;
 * sets *qop to NULL */
void qfile_discard(qfile_out_t **qop);

/* qfile_sweep_temps - remove the temp files in queue (top level only)
 * left by processes that no longer exist (killed between create and
 * commit); returns how many were removed. Each removal is logged. */
int qfile_sweep_temps(const char *queue);

/* qfile_sweep - walk queue and its hash directories: remove temp files of
 * dead processes, unused reservations (empty, not ready) whose writer
 * holds no lock on them any more, and move a file that is not ready,
 * not empty and not locked (its writer died before the commit) to
 * corrupt/. Each action is logged; returns how many files it handled. */
int qfile_sweep(const char *queue);
/* qfile_sweep_due - qfile_sweep(queue) if none ran since master started
 * (the parent process changed) or for interval seconds, judged by the
 * stamp file QUEUE/.sweep; only one process sweeps at a time. Returns
 * qfile_sweep's count, or 0 if not due. */
int qfile_sweep_due(const char *queue, long interval);

/*
 * Reservations (see qfile_pool.c). A pool belongs to one process; the
 * files it holds are locked by that process and invisible to readers.
 */
typedef struct qfile_pool qfile_pool_t;

/* qfile_pool_create - a pool for queue; batches of at most max files,
 * none used more than max_age seconds after it was made */
qfile_pool_t *qfile_pool_create(const char *queue, mode_t mode, int max, long max_age);
/* qfile_pool_take - the next reserved file (a new batch first when the
 * pool is empty or stale); NULL with *error_r on error. The caller owns
 * it: qfile_commit, then qfile_discard, as for qfile_create. */
qfile_out_t *qfile_pool_take(qfile_pool_t *pool, const char **error_r);
/* qfile_pool_fill - make a batch now if the pool is empty or stale (call
 * it while no client waits): 0 ok, -1 (*error_r) */
int qfile_pool_fill(qfile_pool_t *pool, const char **error_r);
/* qfile_pool_free - remove the unused reservations, free; *poolp = NULL */
void qfile_pool_free(qfile_pool_t **poolp);

/* qfile_pool_recycle - take files from recycle/ before creating any, and
 * put unused reservations back there instead of removing them */
void qfile_pool_recycle(qfile_pool_t *pool, int on);

/*
 * Recycling (see qfile_recycle.c): a finished file is emptied and put in
 * recycle/ for cleanup's reservations to reuse, instead of being removed.
 */
/* qfile_recycle_path - empty the finished file at from and rename it to
 * to (recycle/ID); allocates and logs nothing (qmgr's removal thread).
 * 0 ok; -1 with errno (the file may have been emptied: remove it then) */
int qfile_recycle_path(const char *from, const char *to);
/* qfile_recycle_count - names in the directory dir (absolute), counted up
 * to max (max if it cannot be read); allocates and logs nothing */
int qfile_recycle_count(const char *dir, int max);
/* qfile_recycle_leftovers - recycle (or remove) the files in queue that
 * are not ready: in active/ those are recyclings a killed qmgr left
 * unfinished; each is logged; returns how many */
int qfile_recycle_leftovers(const char *queue);
/* The attribute in which cleanup records a file's queue ID: a file
 * whose record names another ID is refused by readers (QFILE_CORRUPT) */
#define QFILE_ID_ATTR "queue_id"

/* qfile_move - rename ID from one queue to another (qmgr, mailroom-queue),
 * creating hash directories: 0 ok, -1 (*error_r) */
int qfile_move(const char *id, const char *from_queue, const char *to_queue, const char **error_r);
/* qfile_move_unsynced - the same without the fsync of the new directory,
 * for moves that a crash may undo without harm (qmgr: incoming/ <->
 * active/, where restart recovery takes a file from either); the rename
 * reaches the disk with the next journal commit or write-back */
int qfile_move_unsynced(const char *id, const char *from_queue, const char *to_queue,
			const char **error_r);
/* qfile_mkdirs - create the (hash) directories leading to an absolute
 * queue path, as the commit does: 0 ok, -1 (errno) */
int qfile_mkdirs(const char *abspath);
/* qfile_remove - unlink QUEUE/.../ID: 0 ok, -1 (*error_r; ENOENT too) */
int qfile_remove(const char *queue, const char *id, const char **error_r);

/*
 * Seal. The END record of a queue file cleanup writes binds the whole
 * file to its name: its value is "ID SUM", the file's queue ID, one
 * space and the CRC-32C of every byte before the END record in 8
 * lower-case hex digits, where the type byte of each DONE record counts
 * as RCPT (rec_sum), so marking a recipient done in place keeps the sum.
 * The SIZE patch and everything else cleanup writes before the commit
 * are inside the sum; the done marks are the only bytes written later.
 * An empty END (files written before seals, maildrop files, the cleanup
 * protocol) is legacy: read as before, unverified. A reader that meets a
 * seal checks it: a file whose sum or ID does not match is QFILE_CORRUPT
 * at qfile_open (which reads every byte), and the content reader checks
 * the sum again at END from the sum it kept at MESG, so content that
 * changed after the open fails there (qfile_line: -1, qf->damaged).
 * See docs/queue.md, "Seal".
 */
#define QFILE_SEAL_SUM_LEN 8
#define QFILE_SEAL_LEN (QID_LEN + 1 + QFILE_SEAL_SUM_LEN)
#define QFILE_SEAL_BUFSIZE (QFILE_SEAL_LEN + 1)

typedef struct qfile_seal {
    int sealed;           /* 1: END carried a seal; 0: legacy, unverified */
    uint32_t sum;         /* the seal's sum */
    uint32_t content_sum; /* sum of the bytes up to and including MESG */
} qfile_seal_t;

/* qfile_seal_format - the END value for id and sum; returns buf */
char *qfile_seal_format(char buf[QFILE_SEAL_BUFSIZE], const char *id, uint32_t sum);
/* qfile_seal_parse - an END value: 1 a seal (id, *sum_r), 0 empty
 * (legacy), -1 malformed */
int qfile_seal_parse(const char *data, size_t len, char id[QID_BUFSIZE], uint32_t *sum_r);

/*
 * Reading. qfile_open reads the envelope into a qfile_t and checks the
 * whole file (known types, content records, END last, nothing after it),
 * so a caller sees either a complete file or QFILE_CORRUPT.
 */
typedef struct qfile_rcpt {
    char *address;
    char *orcpt;  /* NULL if none */
    char *notify; /* NULL if none */
    int done;     /* DONE record: already delivered */
    off_t offset; /* offset of its type byte */
} qfile_rcpt_t;

typedef struct qfile {
    char id[QID_BUFSIZE]; /* from the file name ("" if not an ID) */
    int fd;
    long arrival_sec; /* TIME record (0 if none) */
    long arrival_usec;
    long long size; /* SIZE record (-1 if none) */
    char *sender;   /* NULL if no SENDER record */
    qfile_rcpt_t *rcpts;
    size_t rcpt_count;
    attr_list_t *attrs;   /* ATTR records, in order */
    off_t content_offset; /* first record after MESG */
    off_t file_size;
    uid_t owner;       /* file owner (maildrop: submitter) */
    qfile_seal_t seal; /* the END record's seal, if any */
    int damaged;       /* the content reader found the sum wrong */
    stream_t *content; /* private: content reader */
    uint32_t run_sum;  /* private: the content reader's running sum */
} qfile_t;

#define QFILE_OK 1
#define QFILE_MISSING 0  /* no such file (someone moved it) */
#define QFILE_ERROR (-1) /* I/O trouble: try again later */
#define QFILE_CORRUPT                                                                              \
    (-2) /* bad format, or not a regular file                                                      \
	  * with one link: move to corrupt/ */

/* qfile_open - open abspath (O_RDWR if writable, else O_RDONLY) with
 * safe_open rules (never blocks on a FIFO) and check it with the
 * envelope validator (lib/queue/qenv.h, source QENV_QUEUE). Returns
 * QFILE_OK with *qf_r, or another QFILE_* with *error_r set; a file not
 * marked ready is QFILE_MISSING (not there yet). */
int qfile_open(const char *abspath, int writable, qfile_t **qf_r, const char **error_r);
/* qfile_open_from - qfile_open (read-only) of a file written by a less
 * trusted writer: the records must pass the envelope validator for
 * source (QENV_USER for a maildrop file) and the limits, checked as the
 * file is read, so reading stops at the first record over a limit (a
 * file larger than limits->size is not read at all). Records the source
 * may not set (an attribute not on its list, TIME for QENV_USER) are
 * left out of the qfile_t. Refusals are QFILE_CORRUPT. */
struct qenv_limits;
int qfile_open_from(const char *abspath, int source, const struct qenv_limits *limits,
		    qfile_t **qf_r, const char **error_r);
/* qfile_open_fd - the same on an open descriptor (taken over) */
int qfile_open_fd(int fd, const char *name, int writable, qfile_t **qf_r, const char **error_r);
/* qfile_line - next content line: 1 with the whole line in line (CONT
 * pieces joined, bounded by max bytes: longer is returned in pieces with
 * *complete_r 0), 0 at END, -1 error (*error_r). The first call starts at
 * the content. At END the sum of a sealed file is checked: a mismatch is
 * -1 with qf->damaged set (the file is corrupt, not the I/O). A reader
 * that builds a qfile_t by hand (fd, content_offset) copies the seal of
 * the qfile_open that checked the file. */
int qfile_line(qfile_t *qf, str_t *line, size_t max, int *complete_r, const char **error_r);
/* qfile_rewind - make the next qfile_line start at the first content
 * line again (a delivery agent reads the content once per mailbox) */
void qfile_rewind(qfile_t *qf);
/* qfile_rcpt_done - mark rcpts[i] delivered: rewrite its type byte (not
 * flushed: see qfile_read.c): 0 ok, -1 (*error_r). File must be open
 * writable; what the mark stands for must already be durable. */
int qfile_rcpt_done(qfile_t *qf, size_t i, const char **error_r);
/* qfile_close - close and free; sets *qfp to NULL */
void qfile_close(qfile_t **qfp);

/*
 * Scanning a queue directory (recursing into hash directories): returns
 * the IDs of committed files (marked ready); temporary and foreign names,
 * reservations and files still being written are skipped (not in defer/
 * and bounce/, whose delivery logs are never marked ready).
 */
typedef struct qscan qscan_t;

/* qscan_open - start scanning queue; NULL with *error_r if unreadable */
qscan_t *qscan_open(const char *queue, const char **error_r);
/* qscan_next - 1 with the next ID in id, 0 when done */
int qscan_next(qscan_t *qs, char id[QID_BUFSIZE]);
/* qscan_next_name - 1 with every name that is not a hash directory
 * (temporary files and files not ready included) and the directory it is
 * in (absolute, as the process opens it), 0 when done */
int qscan_next_name(qscan_t *qs, const char **dir_r, const char **name_r);
/* qscan_close - release; sets *qsp to NULL */
void qscan_close(qscan_t **qsp);

#endif
