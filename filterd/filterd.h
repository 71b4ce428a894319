/*
 * filterd.h - state shared by filterd's session code (filterd.c), its
 * pool of workers (filterd_pool.c) and the work on one message
 * (filterd_work.c).
 */
#ifndef MR_FILTERD_H
#define MR_FILTERD_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "filterd_policy.h"
#include "global/smtpd_dot.h"
#include "util/str.h"

/* One recipient of a transaction, as the client gave it */
typedef struct filter_rcpt {
    char *address;
    char *orcpt;            /* "type;address", decoded, or NULL */
    char *notify;           /* NOTIFY= list or NULL */
    filter_policy_t policy; /* from filterd_policy_maps or the defaults */
} filter_rcpt_t;

/* A transaction's envelope and its spooled content */
typedef struct filter_msg {
    char id[32];  /* queue-ID-shaped name of this transaction, for logs */
    char *sender; /* "" for <> */
    char *ret;    /* RET= or NULL */
    char *envid;  /* ENVID=, decoded, or NULL */
    int eightbit; /* BODY=8BITMIME */
    int smtputf8; /* MAIL ... SMTPUTF8 (RFC 6531): passed on at re-injection */
    filter_rcpt_t *rcpts;
    size_t rcpt_count;
    int fd;         /* the spool file (unlinked), -1 before DATA */
    long long size; /* bytes spooled */
} filter_msg_t;

/* filter_msg_clear - free the envelope m holds (not the spool file; the
 * fields are left dangling: the caller resets or drops m) */
void filter_msg_clear(filter_msg_t *m);

/* filter_work - the worker's whole job on one message, in a pooled
 * worker process: scan, decide per recipient, re-inject or quarantine;
 * the replies for the client (one in SMTP, one per recipient in LMTP)
 * go into reply. */
void filter_work(filter_msg_t *msg, int lmtp, const char *client_addr, str_t *reply);

/* filter_work_idle_ms - milliseconds until the kept re-injection
 * session should be closed (0: now), or -1 when none is kept */
int filter_work_idle_ms(void);
/* filter_work_idle - close the kept re-injection session (QUIT) */
void filter_work_idle(void);

/* filter_pool_submit - hand a complete message to an idle worker of the
 * pool (filterd_pool.c), starting one if none is idle; a new worker
 * first runs child_init, which closes the session process's descriptors
 * it must not keep (clients' sockets, spool files). The worker writes to
 * client_fd what its socket takes at once; done(ctx, answered, rest,
 * len) is called from the event loop when it has finished, with the
 * replies' len bytes the socket did not take, for the caller to queue
 * (answered 0: it died or could not write, and the caller answers).
 * Returns 0, or -1 when no worker could take it (logged; done is not
 * called). */
int filter_pool_submit(const filter_msg_t *m, int lmtp, int client_fd, const char *client_addr,
		       void (*child_init)(void),
		       void (*done)(void *ctx, int answered, const char *rest, size_t len),
		       void *ctx);

/* filter_quarantine - keep the message for the n recipients of idx in
 * the quarantine (filterd_quar.c: the commit sequence and its crash
 * argument), with reason and the client's address; 0 with the file's
 * queue ID in id_r (QID_BUFSIZE bytes), -1 with *error_r */
int filter_quarantine(const filter_msg_t *m, const size_t *idx, size_t n, const char *reason,
		      const char *client, char *id_r, const char **error_r);

/* filter_reply_write - write a whole reply to a socket the event loop
 * keeps non-blocking (waits for room, a minute at most in all); 0 or -1 */
int filter_reply_write(int fd, const char *data, size_t len);

/* filter_limit_init - after the privilege drop: the limits on what one
 * client may hold (filterd_limit.c) */
void filter_limit_init(void);
/* filter_limit_open - count a new client of service on socket fd (from
 * addr) against filterd_client_connection_limit and ..._rate_limit:
 * NULL to serve it, or the 421 reply that refuses it (logged, static
 * storage). *ident_r is what filter_limit_close must give back (NULL when
 * the client was not counted), whatever the answer. */
const char *filter_limit_open(int fd, const char *addr, const char *service, char **ident_r);
/* filter_limit_close - the session counted by filter_limit_open is
 * over; clears *ident */
void filter_limit_close(char **ident);

/* filter_sweep - remove filterd's temporary files (".tPID.ID",
 * ".spool.XXXXXX") in dir that are regular files unchanged for max_age
 * seconds at now, each logged. Returns how many, or -1 when dir cannot
 * be read (logged). */
int filter_sweep(const char *dir, long max_age, time_t now);
/* filter_sweep_start - sweep filterd_quarantine_directory now and every
 * filterd_temp_file_max_age (an event timer) */
void filter_sweep_start(void);

#endif
