/*
 * qenv.h - the one envelope validator: which records may appear in which
 * order, which attributes who may set, and the limits on size and
 * recipients.
 *
 * Every reader of queue-file records runs the records through it:
 * postdrop (records from a local user's sendmail), pickup (the maildrop
 * file that user left), cleanup (records from pickup and smtpd) and the
 * queue-file reader (qfile_open). So the four cannot disagree about what
 * a well-formed envelope is; they differ only in the source they name,
 * which picks the policy:
 *
 *   source        TIME  SIZE  DONE  ATTR names allowed        values
 *   QENV_QUEUE    keep  keep  keep  any well-formed name      no NUL
 *   QENV_USER     skip  refuse refuse fullname envid ret body  printable
 *   QENV_LOCAL    skip  skip  refuse  the USER ones and uid     no NUL
 *   QENV_DAEMON   skip  skip  refuse  any well-formed name      no NUL
 *
 * USER is a local user writing through postdrop (or the file in
 * maildrop/ that pickup reads): untrusted, so every value must be
 * printable (no control characters, which would end up in log lines and
 * mailq output) and at most QENV_USER_VALUE_MAX bytes. LOCAL is pickup
 * talking to cleanup; DAEMON is smtpd (or another daemon) talking to
 * cleanup; QUEUE is a file cleanup wrote. An attribute name is
 * [a-z0-9_]+ followed by "=".
 *
 * The grammar (all sources): envelope records, one MESG with an empty
 * value, content (NORM/CONT), one END with an empty value (QUEUE: or a
 * seal, "ID SUM", queue/qfile.h; the reader checks what it says), nothing
 * after it. At most one SENDER; ORCPT and NOTIFY each at most once, right
 * after their RCPT/DONE (or after each other). No CONT before END. USER
 * input must also have a SENDER and a recipient before MESG.
 *
 * Limits (qenv_limits_t, 0 = none): size bounds the bytes of all records
 * together, type byte and length included, the way they sit in the file
 * (so a flood of empty records costs what it takes on disk); rcpts
 * bounds RCPT+DONE records. The caller stops reading at the first
 * refusal, so a hostile writer costs at most the limit in time and the
 * recipients in memory.
 */
#ifndef MR_QENV_H
#define MR_QENV_H

#include <stddef.h>

/* Sources (see the table above) */
#define QENV_QUEUE 0
#define QENV_USER 1
#define QENV_LOCAL 2
#define QENV_DAEMON 3

#define QENV_USER_VALUE_MAX 4096 /* one address or attribute from a user */
#define QENV_POSTDROP_STAMPS                                                                       \
    64 /* room for the TIME and uid records                                                        \
	* postdrop adds to what it was sent */

/* Verdicts of qenv_record */
#define QENV_KEEP 1      /* record is fine: use it */
#define QENV_SKIP 0      /* record is fine but not for this reader */
#define QENV_REFUSE (-1) /* stop: the input is refused (error) */

/* Kinds of refusal (qenv_t.refused) */
#define QENV_BAD 1      /* malformed or not allowed */
#define QENV_TOO_BIG 2  /* over limits.size */
#define QENV_TOO_MANY 3 /* over limits.rcpts */

typedef struct qenv_limits {
    long long size; /* bytes of records, 0: no limit */
    size_t rcpts;   /* recipients, 0: no limit */
} qenv_limits_t;

typedef struct qenv {
    int source; /* QENV_* source */
    qenv_limits_t limits;
    int part;      /* private: envelope, content, end */
    int last_type; /* previous record's type, 0 at start */
    int have_sender;
    int rcpt_extras;        /* private: ORCPT/NOTIFY seen for last rcpt */
    size_t rcpts;           /* RCPT and DONE records so far */
    long long bytes;        /* all records, headers included */
    long long content_size; /* message bytes: values + one per NORM */
    int refused;            /* 0, or QENV_BAD/TOO_BIG/TOO_MANY */
    const char *error;      /* why refused (static text) */
} qenv_t;

/* qenv_local_limits - the limits for local submission (postdrop,
 * pickup): message_size_limit and smtpd_recipient_limit, the same a
 * network client gets */
void qenv_local_limits(qenv_limits_t *limits);

/* qenv_init - start checking a record stream from source */
void qenv_init(qenv_t *q, int source, const qenv_limits_t *limits);
/* qenv_record - check the next record: QENV_KEEP, QENV_SKIP (a TIME the
 * reader stamps itself, an attribute this source may not set), or
 * QENV_REFUSE with q->refused and q->error set. After a refusal every
 * call refuses again. */
int qenv_record(qenv_t *q, int type, const char *data, size_t len);
/* qenv_end - end of input: 0 if the END record was seen, else -1 (and
 * q->error set); also -1 if an earlier record was refused */
int qenv_end(qenv_t *q);
/* qenv_complete - 1 once the END record was accepted */
int qenv_complete(const qenv_t *q);

/* qenv_attr_name - "name=..." with name [a-z0-9_]+: length of name,
 * or 0 when malformed */
size_t qenv_attr_name(const char *data, size_t len);
/* qenv_attr_allowed - may source set the attribute "name=value"? 1/0 */
int qenv_attr_allowed(int source, const char *data, size_t len);

#endif
