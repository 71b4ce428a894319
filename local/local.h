/*
 * local.h - the local delivery agent's internal interface.
 *
 * The agent's protocol side (local.c) reads a delivery request and, for
 * each recipient, calls local_deliver(): deliver one message to one
 * recipient and say how it went (a DSN status and a reason). Everything
 * below that call is independent of the protocol:
 *
 *   local_resolve.c   recipient -> aliases, :include:, .forward, mailbox,
 *                     virtual mailbox; combines the results
 *   local_expand.c    the "dest, dest, ..." lists of aliases and .forward
 *   local_user.c      running one delivery step as a user (fork + drop)
 *   local_keep.c      Maildir deliveries in a child kept per uid
 *   local_msg.c       the message as delivered (Return-Path, Delivered-To,
 *                     content), Delivered-To loop detection
 *   local_maildir.c   Maildir delivery (tmp/, fsync, new/, fsync new/)
 *   local_mbox.c      mbox and /file delivery with fcntl and dot-locks
 *   local_pipe.c      "|command" delivery
 *   local_forward.c   the .forward ownership and mode rules
 *   local_member.c    what earlier attempts delivered of a list
 *
 * The message is reached through local_msg_t, a content reader, so the
 * modules are tested on messages held in memory (tests/unit/test_local_*).
 */
#ifndef MR_LOCAL_H
#define MR_LOCAL_H

#include <sys/types.h>

#include "util/str.h"

/* Outcome of a delivery, worst first when results are combined. */
#define LOCAL_SENT 0
#define LOCAL_BOUNCE 1
#define LOCAL_DEFER 2

/* A result is fixed-size so a child can pass it back through a pipe. */
typedef struct local_result {
    int status;     /* LOCAL_SENT/BOUNCE/DEFER */
    char dsn[12];   /* "2.0.0", "5.1.1", "4.2.0"... */
    char text[400]; /* "delivered to maildir" */
} local_result_t;

/* local_result_set - fill a result with a formatted reason */
void local_result_set(local_result_t *r, int status, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* local_result_merge - keep the worse of *acc and *r in *acc (defer >
 * bounce > sent); the first reason of the worst kind wins */
void local_result_merge(local_result_t *acc, const local_result_t *r);

/*
 * The message: envelope fields and a content reader. line() returns 1
 * with the next piece of content (complete_r 1 when it ends a line), 0 at
 * the end, -1 on a read error (*error_r); rewind() starts over.
 */
typedef struct local_msg {
    const char *queue_id;
    const char *sender; /* "" for the null sender */
    long arrival;       /* seconds */
    int (*line)(void *ctx, str_t *line, int *complete_r, const char **error_r);
    void (*rewind)(void *ctx);
    void *ctx;
    /* passed on to a message re-submitted through cleanup (NULL: none) */
    const char *envid; /* DSN envelope ID */
    const char *ret;   /* DSN RET: FULL or HDRS */
    const char *body;  /* 7BIT or 8BITMIME */
    /* the queue file the content is read from (NULL: held elsewhere, as
     * in the unit tests): lets a kept child read it (local_keep.c) */
    struct qfile *qf;
    /* the content in memory (local_body_load), or NULL: the kept child
     * gets this text with the request instead of the queue file */
    const str_t *text;
} local_msg_t;

/*
 * The content held in memory: the text every copy has after its
 * envelope lines (each line ended by LF, as local_msg_write writes it
 * without LOCAL_MSG_MBOX). local.c reads a message's content once into
 * one of these; the Delivered-To scan, the kept child (which gets the
 * text with its request) and the children per delivery then read it from
 * memory instead of the queue file.
 */
typedef struct local_body {
    str_t *text;
    size_t pos; /* the reader's place */
} local_body_t;

#define LOCAL_BODY_MAX (1024 * 1024) /* larger content is read from the file */
#define LOCAL_BODY_PIECE (64 * 1024) /* longest piece line() returns */

/* local_body_load - read msg's content (through msg->line) into b, at
 * most max bytes: 1 loaded, 0 larger than max, -1 read error (*error_r);
 * b->text is allocated in every case (free it with str_free) */
int local_body_load(local_body_t *b, const local_msg_t *msg, size_t max, const char **error_r);
/* local_body_line - a content reader over a local_body_t (ctx): the next
 * line, or a piece of LOCAL_BODY_PIECE bytes of a longer one */
int local_body_line(void *ctx, str_t *line, int *complete_r, const char **error_r);
/* local_body_rewind - start the body over */
void local_body_rewind(void *ctx);

#define LOCAL_MSG_MBOX (1 << 0) /* "From " line, >From quoting */

/* local_msg_write - write the message for recipient rcpt to fd: the
 * Return-Path and Delivered-To lines, then the content with LF line
 * ends. Returns the bytes written, or -1 with *error_r (the errno of a
 * failed write is preserved). */
long long local_msg_write(int fd, const local_msg_t *msg, const char *rcpt, int flags,
			  const char **error_r);
/* local_msg_loop - 1 if the header already has "Delivered-To: rcpt" (any
 * case), 0 if not, -1 on a read error (*error_r) */
int local_msg_loop(const local_msg_t *msg, const char *rcpt, const char **error_r);

/* Who a delivery step runs as. */
typedef struct local_user {
    uid_t uid;
    gid_t gid;
    const char *name; /* login name ("" for virtual) */
    const char *home; /* home directory ("/" if none) */
} local_user_t;

/* local_user_run - fork; the child keeps of its descriptors only the
 * queue file qf's (made read-only; qf may be NULL), keep (-1: none) and the
 * log's, becomes user (setgroups/setgid/setuid, for good; nothing when
 * not root), runs fn and hands its result (and up to max_data bytes it
 * put in data) back. The parent waits at most time_limit seconds (the
 * user may stop his own child): then the child is killed. A child that
 * dies or is killed without a result gives LOCAL_DEFER. data may be
 * NULL. */
typedef void (*local_user_fn)(void *ctx, local_result_t *r, str_t *data);
void local_user_run(const local_user_t *user, local_user_fn fn, void *ctx, struct qfile *qf,
		    int keep, int time_limit, local_result_t *r, str_t *data, size_t max_data);

/* local_wait_readable - until fd is readable (or at its end), at most
 * until deadline: 0, or -1 (errno ETIMEDOUT when the time is up) */
int local_wait_readable(int fd, time_t deadline);

/* local_keep_maildir - maildir_deliver(dir, msg, rcpt) as user in the
 * child this process keeps for user's uid and gid (started when there is
 * none, or it died, or was idle local_child_idle_time; a child of
 * another user is retired). Returns 0 with *r set (LOCAL_DEFER if the
 * child died before it answered), or -1 when a kept child cannot serve
 * this delivery (keeping off, msg->qf NULL, a field too long, the
 * queue file not reopened read-only): nothing was done, call
 * local_user_run. */
int local_keep_maildir(const local_user_t *user, const char *dir, const local_msg_t *msg,
		       const char *rcpt, int may_hold, local_result_t *r);
/* local_keep_group - on: a Maildir delivery in the kept child that may
 * be held (may_hold above) is handed to the child without waiting for
 * its answer and reported SENT for now: the child writes it (steps 1
 * and 2) while local goes on, and its outcome, with the fsync of new/,
 * comes at local_keep_flush (a batch of requests, local.c); off: each
 * is answered, flushed, before the call returns. Turned on, the held
 * count starts again at 0. */
void local_keep_group(int on);
/* local_keep_held - the number of held deliveries of this batch so far
 * (compare it before and after a delivery: after a held one it is that
 * delivery's number) */
unsigned long local_keep_held(void);
/* local_keep_flush - make every held delivery durable (the fsync of each
 * new/, in the child that wrote it) and learn their outcomes: 0 if all
 * are durable, -1 if some may not be (a child died, or an fsync failed:
 * *why_r) */
int local_keep_flush(const char **why_r);
/* local_keep_outcome - after local_keep_flush: what held delivery number
 * n came to, or NULL when that is not known (its child died) */
const local_result_t *local_keep_outcome(unsigned long n);
/* local_keep_forward - forward_read(home, user->uid, ext, data) in that
 * same kept child, at most max_data bytes of data: 0 with *r and data
 * set, or -1 (keeping off, a field too long): call local_user_run */
int local_keep_forward(const local_user_t *user, const char *home, const char *ext, str_t *data,
		       size_t max_data, local_result_t *r);

/* local_keep_end - retire the kept child (the process is about to exit) */
void local_keep_end(void);

/* Maildir (local_maildir.c) */

/* maildir_name - the unique part of a Maildir file name,
 * "SECONDS.M<usec>P<pid>Q<seq>.HOST" with '/' and ':' in HOST written as
 * \057 and \072 */
void maildir_name(str_t *out, long sec, long usec, long pid, unsigned long seq, const char *host);
/* maildir_deliver - deliver into the Maildir dir (created with tmp/ new/
 * cur/ when missing), as the calling process; sets *r */
void maildir_deliver(const char *dir, const local_msg_t *msg, const char *rcpt, local_result_t *r);
/* maildir_deliver_held - the same without the fsync of new/: on success
 * (*r SENT) *newfd_r is new/, open, and the name is durable only once
 * the caller has fsync'd it; otherwise *newfd_r is -1 */
void maildir_deliver_held(const char *dir, const local_msg_t *msg, const char *rcpt, int *newfd_r,
			  local_result_t *r);
/* maildir_open - open tmp/ and new/ of the Maildir dir, creating dir
 * with tmp/ new/ cur/ when one is missing: 0, or -1 (errno) */
int maildir_open(const char *dir, int *tmp_r, int *new_r);
/* maildir_deliver_open - maildir_open; when it fails, *r is deferred
 * (naming dir) and -1 returned */
int maildir_deliver_open(const char *dir, int *tmp_r, int *new_r, local_result_t *r);
/* maildir_deliver_in - steps 1 and 2 of maildir_deliver_held into tmp/
 * and new/ already open (maildir_open; dir names them in a reason) */
void maildir_deliver_in(int tmpfd, int newfd, const char *dir, const local_msg_t *msg,
			const char *rcpt, local_result_t *r);
/* maildir_seq - per-process delivery counter (the Q part) */
extern unsigned long maildir_seq;
/* maildir_pid - the P part when set (a process that delivers many
 * messages sets it once); 0: getpid() at every delivery */
extern pid_t maildir_pid;

/* mbox (local_mbox.c) */

/* mbox_deliver_fd - append to the open mbox fd under an fcntl lock
 * (waiting deliver_lock_attempts * deliver_lock_delay), fsync; on a write
 * error the file is cut back to its old size. Sets *r. */
void mbox_deliver_fd(int fd, const char *what, const local_msg_t *msg, const char *rcpt,
		     local_result_t *r);
/* mbox_deliver_file - "/file" delivery as the calling process: open or
 * create path (no links), dot-lock it when its folder allows, then
 * mbox_deliver_fd. Sets *r. */
void mbox_deliver_file(const char *path, const local_msg_t *msg, const char *rcpt,
		       local_result_t *r);
/* mbox_finish_rewrite - with the dot-lock held, take the fcntl lock and
 * finish a rewrite of the mbox NAME in dirfd (open read-write on fd) that
 * was cut short (global/mbox_lock.h), before anything is appended: 0 ok,
 * -1 deferred (*r set; what names the mailbox) */
int mbox_finish_rewrite(int dirfd, const char *name, int fd, const char *what, local_result_t *r);

/* Commands (local_pipe.c) */

typedef struct local_pipe_env {
    const char *sender, *recipient, *original; /* envelope */
    const char *local, *extension, *domain;    /* parts of recipient */
    const char *user, *home, *shell;           /* of the owner */
} local_pipe_env_t;

/* pipe_deliver - run "/bin/sh -c command" as the calling process with
 * the message on stdin and the environment from env, within
 * command_time_limit; exit status to result (0 sent, 75 defer, other
 * bounce). Sets *r. */
void pipe_deliver(const char *command, const local_pipe_env_t *env, const local_msg_t *msg,
		  const char *rcpt, local_result_t *r);
/* pipe_exit_result - map a wait status to a result (sysexits.h) */
void pipe_exit_result(int status, const char *output, local_result_t *r);

/* .forward (local_forward.c) */

/* forward_check - may this open .forward be used for uid? NULL if so,
 * else why not (static text). Rules: a regular file with one link,
 * owned by uid (or root), not writable by group or others. */
const char *forward_check(int fd, uid_t uid);
/* forward_read - read the .forward files of user (as that user: call
 * from local_user_run). The first of HOME/.forward+EXT (when ext is not
 * empty) and HOME/.forward that exists and passes forward_check is put
 * in data; none: data empty. A file that exists and fails the check is
 * logged and skipped. Sets *r (DEFER on a read error). */
void forward_read(const char *home, uid_t uid, const char *ext, str_t *data, local_result_t *r);

/* Expansion lists (local_expand.c) */

#define EXPAND_ADDRESS 1 /* user, user@domain */
#define EXPAND_NOALIAS 2 /* \user: the mailbox itself */
#define EXPAND_COMMAND 3 /* |command */
#define EXPAND_FILE 4    /* /path (ends in "/": a Maildir) */
#define EXPAND_INCLUDE 5 /* :include:/path */

/* expand_next - next destination of a list ("a, b" or one per line; '#'
 * starts a comment line; double quotes protect commas, and are removed
 * around a whole destination). Returns its EXPAND_* type with the text
 * in dest (prefix | \ :include: removed), or 0 at the end. *cp
 * advances. */
int expand_next(const char **cp, str_t *dest);

/* The recipient (local_resolve.c) */

/* local_deliver - deliver msg to rcpt (as given by qmgr: after virtual
 * alias expansion), orcpt/notify for a forwarded copy (may be NULL);
 * offset is the recipient's record in the queue file (names it in the
 * defer log, local_member.c). Sets *r. Called as root (or as the invoking
 * user outside production). */
void local_deliver(const local_msg_t *msg, const char *rcpt, long long offset, const char *orcpt,
		   const char *notify, local_result_t *r);

/* Destinations of a list delivered in earlier attempts (local_member.c) */
typedef struct local_members {
    const char *queue_id;
    long long offset; /* the recipient's */
    int loaded;       /* the defer log was read */
    char **done;      /* keys delivered before */
    size_t ndone;
    char **now; /* keys delivered in this attempt */
    size_t nnow;
} local_members_t;

/* local_member_done - did an earlier attempt deliver to key? (reads the
 * defer log at the first call) */
int local_member_done(local_members_t *m, const char *key);
/* local_member_sent - key was delivered in this attempt */
void local_member_sent(local_members_t *m, const char *key);
/* local_member_save - the recipient is deferred: record what this
 * attempt delivered, for the next one */
void local_member_save(local_members_t *m);
/* local_member_free - release the lists */
void local_member_free(local_members_t *m);
/* local_verify - what local_deliver would do with rcpt, without
 * delivering (address verification): SENT if the address has an alias,
 * a system user or a virtual mailbox, BOUNCE 5.1.1 if not, DEFER when a
 * table fails */
void local_verify(const char *rcpt, local_result_t *r);
/* local_resolve_init - (re)open alias_maps, virtual_mailbox_maps,
 * virtual_uid_maps, virtual_gid_maps (before any delivery) */
void local_resolve_init(void);
/* local_resolve_refresh - reopen them if a file behind one changed, or
 * if one could not be opened before (at the start of each request) */
void local_resolve_refresh(void);

#endif
