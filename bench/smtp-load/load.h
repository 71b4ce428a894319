/*
 * load.h - shared types of the smtp-load benchmark client.
 *
 * smtp-load.c parses the options and builds a load_conf_t; each session
 * thread runs load_session_run() (load_session.c) with its own
 * load_stats_t, and the main thread merges and prints those
 * (load_stats.c). Nothing in here is shared between threads except the
 * read-only configuration and the atomic message counter.
 */
#ifndef MR_LOAD_H
#define MR_LOAD_H

#include <stddef.h>
#include <stdio.h>

#include "util/str.h"

#define LOAD_TLS_NONE 0
#define LOAD_TLS_STARTTLS 1
#define LOAD_TLS_WRAPPER 2

/* Where in the SMTP dialogue a failure happened. */
typedef enum load_stage {
    LOAD_CONNECT, /* TCP connect failed */
    LOAD_BANNER,  /* greeting was not 220 */
    LOAD_EHLO,    /* EHLO was not 250 */
    LOAD_TLS,     /* STARTTLS or the handshake failed */
    LOAD_AUTH,    /* AUTH was not 235 */
    LOAD_MAIL,    /* MAIL FROM was not 250 */
    LOAD_RCPT,    /* a RCPT TO was not 250/251 */
    LOAD_DATA,    /* DATA was not 354 */
    LOAD_EOD,     /* end of data was not 250 */
    LOAD_IO,      /* timeout or lost connection */
    LOAD_STAGES
} load_stage_t;

#define LOAD_CODES 600 /* reply codes 0..599 are counted */

/* The waits of one transaction that are timed, each from just before the
 * write of a command until its whole reply has been read (CONNECT: from
 * the start of connect() until the 220 has been read). With -P, MAIL is
 * the whole pipelined MAIL..DATA group and RCPT and DATA are not timed. */
typedef enum load_step {
    LOAD_STEP_CONNECT,
    LOAD_STEP_EHLO,
    LOAD_STEP_MAIL,
    LOAD_STEP_RCPT,
    LOAD_STEP_DATA,
    LOAD_STEP_EOD, /* the write carrying the final dot -> 250 */
    LOAD_STEP_QUIT,
    LOAD_STEPS
} load_step_t;

/* Latency samples of one step, in milliseconds. */
typedef struct load_samples {
    double *ms;
    size_t count, cap;
} load_samples_t;

/* What every session needs to know; read-only once the threads run. */
typedef struct load_conf {
    const char *server; /* host:port */
    const char *label;  /* server= in the RESULT line */
    const char *helo;   /* EHLO argument */
    const char *from;   /* envelope sender */
    char **to;          /* recipients, used round robin */
    int to_count;
    int sessions;     /* concurrent sessions (-c) */
    long msgs;        /* messages in all (-m) */
    long per_conn;    /* messages per connection, 0: all */
    int rcpts;        /* recipients per message (-r) */
    size_t size;      /* approximate message size (-s) */
    int pipelining;   /* -P */
    int vary;         /* -V: every message's body starts with a line of its own */
    int timeout;      /* seconds per read or write */
    int duration;     /* -d: seconds, 0: until -m are sent */
    int tls;          /* LOAD_TLS_*: -S STARTTLS, -T implicit */
    int tls_resume;   /* -R: offer the last TLS session again */
    char *auth_plain; /* -A: "AUTH PLAIN <base64>" or NULL */
    str_t *body;      /* generated message body (CRLF lines) */
    char date[64];    /* Date: header value */
    long run_id;      /* makes Message-IDs unique per run */
    FILE *accept_log; /* -o: "RUN.TICKET SECONDS" per accepted message, or NULL */
} load_conf_t;

/* One session's (or, merged, the whole run's) figures. */
typedef struct load_stats {
    long accepted;                   /* 250 after end of data */
    long failed;                     /* messages not accepted */
    long connections;                /* TCP connections made */
    long tls_reused;                 /* TLS handshakes that resumed a session */
    long stage_fail[LOAD_STAGES];    /* failures by stage */
    long codes[LOAD_CODES];          /* unexpected reply codes */
    load_samples_t step[LOAD_STEPS]; /* latencies, by step */
} load_stats_t;

/* The first body line of a message with -V: the same length for every
 * message (the ticket and the run id in fixed widths) */
#define LOAD_VARY_LINE "Message %010ld of smtp-load run %015ld.\r\n"

/* load_session_run - run one session thread until no message is left;
 * take_ticket() hands out message numbers (>= 0) or -1 when done */
void load_session_run(const load_conf_t *conf, load_stats_t *stats, long (*take_ticket)(void));

/* load_stats_init - empty figures */
void load_stats_init(load_stats_t *st);
/* load_stats_free - release the sample arrays */
void load_stats_free(load_stats_t *st);
/* load_stats_add - one latency sample (milliseconds) of a step */
void load_stats_add(load_stats_t *st, load_step_t step, double ms);
/* load_stats_fail - one failure at a stage, with the reply code (0: none) */
void load_stats_fail(load_stats_t *st, load_stage_t stage, int code);
/* load_stats_merge - add src's figures to dst */
void load_stats_merge(load_stats_t *dst, const load_stats_t *src);
/* load_stats_report - print the human summary and the RESULT line */
void load_stats_report(const load_conf_t *conf, load_stats_t *st, double secs, int quiet);

/* load_now_ms - monotonic clock in milliseconds (fractional) */
double load_now_ms(void);

#endif
