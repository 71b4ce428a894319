/*
 * cleanup.h - what the parts of the cleanup daemon share: the state of
 * one message on its way from a client into a queue file.
 */
#ifndef MR_CLEANUP_H
#define MR_CLEANUP_H

#include <stddef.h>
#include <stdint.h>

#include "queue/qenv.h"
#include "queue/qfile.h"
#include "util/str.h"

#define CLEANUP_SIZE_WIDTH 15 /* fixed width of the SIZE value */

/* Where in the message the client is */
#define CLEANUP_PART_ENV 0    /* before MESG */
#define CLEANUP_PART_HEADER 1 /* header lines */
#define CLEANUP_PART_BODY 2   /* after the header */

typedef struct cleanup_rcpt {
    char *address;
    char *orcpt;  /* NULL if none */
    char *notify; /* NULL if none */
} cleanup_rcpt_t;

typedef struct cleanup_state {
    qfile_out_t *qo;       /* the temp file, or NULL */
    const char *id;        /* qo->id */
    int flags;             /* CLEANUP_FLAG_* */
    qenv_t check;          /* the envelope validator */
    int status;            /* first CLEANUP_STAT_* problem */
    str_t *reason;         /* text for the client */
    char *sender;          /* NULL until SENDER */
    cleanup_rcpt_t *rcpts; /* as the client sent them */
    size_t rcpt_count;
    int part;      /* CLEANUP_PART_* */
    int last_type; /* previous record from the client */
    str_t *line;   /* header line being collected */
    size_t header_bytes;
    int header_lines;
    long long size;       /* content bytes written */
    long long size_limit; /* message_size_limit, 0: none */
    int seen_msgid, seen_date, seen_from;
    long size_offset;    /* where the SIZE value is in the file */
    uint32_t sum;        /* seal: sum of the records after SIZE */
    uint64_t sum_len;    /* seal: the bytes they take */
    long expand_steps;   /* alias lookups for this recipient */
    size_t expand_base;  /* final count before this recipient */
    long expand_limit;   /* virtual_alias_expansion_limit */
    struct htable *seen; /* final recipients so far, folded */
} cleanup_state_t;

/* cleanup_fail - remember the first problem (later ones are ignored) */
void cleanup_fail(cleanup_state_t *cs, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cleanup_state_new - state for one message written to qo */
cleanup_state_t *cleanup_state_new(qfile_out_t *qo);
/* cleanup_state_free - release, removing the temp file if not
 * committed; sets *csp to NULL */
void cleanup_state_free(cleanup_state_t **csp);
/* cleanup_begin_file - the SIZE placeholder (patched at commit) and TIME */
void cleanup_begin_file(cleanup_state_t *cs);
/* cleanup_record - validate and handle one record from the client; 1 at
 * END (the answer is due), else 0. After a refusal (cs->status set)
 * records are only read until END. */
int cleanup_record(cleanup_state_t *cs, int type, const str_t *value);

/* cleanup_check_init - start the envelope validator for the client's
 * flags: a local submission (pickup) may set only what a user may */
void cleanup_check_init(cleanup_state_t *cs);

/* cleanup_env_init - open the rewriting tables (privileged pre-init) */
void cleanup_env_init(void);
/* cleanup_envelope - one envelope record from the client */
void cleanup_envelope(cleanup_state_t *cs, int type, const str_t *value);
/* cleanup_env_finish - rewrite and expand recipients, write the envelope
 * (SENDER, RCPT..., MESG) to the queue file; on MESG from the client */
void cleanup_env_finish(cleanup_state_t *cs);
/* cleanup_env_free - release the envelope part of the state */
void cleanup_env_free(cleanup_state_t *cs);

/* cleanup_content - one NORM or CONT record from the client */
void cleanup_content(cleanup_state_t *cs, int type, const str_t *value);
/* cleanup_content_end - at END: finish a header that never ended */
void cleanup_content_end(cleanup_state_t *cs);
/* cleanup_write - one record to the queue file, counting content size */
void cleanup_write(cleanup_state_t *cs, int type, const char *data, size_t len);

#endif
