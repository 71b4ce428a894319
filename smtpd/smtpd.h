/*
 * smtpd.h - state of one SMTP session, shared by the smtpd_*.c files.
 */
#ifndef MR_SMTPD_H
#define MR_SMTPD_H

#include <stddef.h>

#include "util/str.h"
#include "util/stream.h"
#include "queue/cleanup_client.h"

/* Protocol command counters for the "disconnect from" log line */
typedef struct smtpd_count {
    const char *name; /* "ehlo", "mail", ... */
    int ok;
    int total;
} smtpd_count_t;

typedef struct smtpd_rcpt {
    char *addr;
    char *orcpt;  /* "rfc822;addr" decoded, or NULL */
    char *notify; /* NOTIFY= value, or NULL */
} smtpd_rcpt_t;

typedef struct smtpd_state {
    stream_t *client;
    const char *service;
    char addr[64]; /* client address, numeric */
    int port;
    char *name;           /* client host name ("unknown") */
    char *namaddr;        /* "name[addr]" for logging */
    char *helo;           /* HELO/EHLO argument, or NULL */
    const char *protocol; /* "SMTP" or "ESMTP" */
    int esmtp;            /* EHLO was given */
    int in_mynetworks;
    void *tls;           /* tls_conn_t once TLS is on, else NULL */
    char *sasl_username; /* authenticated user, or NULL */
    char *sasl_method;   /* its mechanism */
    void *sasl;          /* sasl_server_t during the session */
    int auth_failures;   /* failed AUTH attempts this session */
    const char *where;   /* last command, for "after X" logs */
    int errors;          /* error replies so far */
    int junk;            /* junk commands since the last message */
    int done;            /* stop reading commands */
    /* transaction */
    char *sender;        /* NULL: no MAIL yet */
    long long size_hint; /* MAIL SIZE= */
    char *body;          /* BODY= value or NULL */
    char *envid;         /* ENVID= (decoded) or NULL */
    char *ret;           /* RET= value or NULL */
    int smtputf8;
    smtpd_rcpt_t *rcpts;
    int rcpt_count;
    int rcpt_alloc;
    int rcpt_tried; /* RCPT commands in this transaction */
    /* BDAT in progress */
    cleanup_client_t *cleanup;
    cleanup_client_t *cleanup_early; /* connected at the first recipient */
    int bdat_active;                 /* a BDAT transaction is open */
    int bdat_failed;                 /* a BDAT chunk failed: discard the rest */
    long long msg_size;
    int too_big;
    void *bdat_splitter; /* smtpd_dot_t during BDAT */
    /* scratch */
    str_t *line; /* the command line being handled */
    str_t *buf;
} smtpd_state_t;

/* Exported from smtpd.c */
/* smtpd_reply - send one reply line (formatted) and flush it */
void smtpd_reply(smtpd_state_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* smtpd_reply_more - a line of a multi-line reply (no flush) */
void smtpd_reply_more(smtpd_state_t *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* smtpd_error - count a client error; may end the session */
void smtpd_error(smtpd_state_t *st);
/* smtpd_reset - forget the current mail transaction */
void smtpd_reset(smtpd_state_t *st);
/* smtpd_count - count one command (ok says whether it succeeded) */
void smtpd_count(smtpd_state_t *st, const char *name, int ok);
/* smtpd_lost - log "lost connection"/"timeout" after the current command */
void smtpd_lost(smtpd_state_t *st);
/* smtpd_bare_lf - the 521 reply for a forbidden bare LF, then done */
void smtpd_bare_lf(smtpd_state_t *st);
/* smtpd_improper_pipelining - has the client sent more input than it
 * may before we reply? If so reply 554, log and end the session (1). */
int smtpd_improper_pipelining(smtpd_state_t *st, const char *after);

/* Session-wide parameters (read once in post_init) */
extern const char *var_myhostname;
extern long long var_message_size_limit;
extern int var_smtpd_recipient_limit;
extern int var_line_length_limit;
extern int var_smtpd_timeout;
extern int var_dot_mode;
extern int var_reject_unauth_pipelining;

/* smtpd_cmd.c */
/* smtpd_command - dispatch one command line (without CRLF) */
void smtpd_command(smtpd_state_t *st, char *line, int crlf);

/* smtpd_data.c */
/* smtpd_data - the DATA command */
void smtpd_data(smtpd_state_t *st, char *args, int crlf);
/* smtpd_bdat - the BDAT command */
void smtpd_bdat(smtpd_state_t *st, char *args);
/* smtpd_data_preopen - connect to cleanup ahead of DATA/BDAT (no wait) */
void smtpd_data_preopen(smtpd_state_t *st);
/* smtpd_data_abort - give up a message in progress (cleanup_abort) */
void smtpd_data_abort(smtpd_state_t *st);

/* smtpd_check.c */
#define SMTPD_CHECK_OK 0
#define SMTPD_CHECK_REJECT 1 /* reply text in *reply */
/* smtpd_check_init - open the recipient tables (privileged) */
void smtpd_check_init(void);
/* smtpd_check_mynetworks - is addr in mynetworks? */
int smtpd_check_mynetworks(const char *addr);
/* smtpd_check_rcpt - relay and recipient policy for one recipient;
 * SMTPD_CHECK_OK or SMTPD_CHECK_REJECT with the full reply in reply */
int smtpd_check_rcpt(smtpd_state_t *st, const char *rcpt, str_t *reply);

/* smtpd_anvil.c */
/* smtpd_anvil_init - read the limits; a client for anvil if any is set */
void smtpd_anvil_init(void);
/* smtpd_anvil_connect - count the session (anvil); 1 serve it, 0 over a
 * limit (the 421 reply is sent). anvil unreachable: 1, logged */
int smtpd_anvil_connect(smtpd_state_t *st);
/* smtpd_anvil_disconnect - the counted session is over */
void smtpd_anvil_disconnect(smtpd_state_t *st);
/* smtpd_anvil_message - count a MAIL FROM; 1 go on, 0 over
 * smtpd_client_message_rate_limit (logged; the caller replies) */
int smtpd_anvil_message(smtpd_state_t *st);
/* smtpd_anvil_auth - before AUTH: 1 go on, 0 over
 * smtpd_client_auth_rate_limit (421 sent, session ends) */
int smtpd_anvil_auth(smtpd_state_t *st);
/* smtpd_anvil_auth_failed - count a failed AUTH for this client */
void smtpd_anvil_auth_failed(smtpd_state_t *st);

/* smtpd_peer.c - the client's host name */
/* smtpd_peer_pre_init - the resolver, if smtpd_peername_lookup (privileged) */
void smtpd_peer_pre_init(void);
/* smtpd_peer_name - addr's PTR name confirmed by a forward lookup, or
 * "unknown"; within smtpd_peername_timeout (mr_free the result) */
char *smtpd_peer_name(const char *addr);

/* smtpd_guard.c - limits against clients that hold slots or the disk */
/* smtpd_guard_init - read the parameters (post_init) */
void smtpd_guard_init(void);
/* smtpd_guard_command - set the deadline for the next command line */
void smtpd_guard_command(smtpd_state_t *st);
/* smtpd_guard_data - set the deadline for message content */
void smtpd_guard_data(smtpd_state_t *st);
/* smtpd_guard_credit - n content bytes arrived: extend the deadline */
void smtpd_guard_credit(smtpd_state_t *st, size_t n);
/* smtpd_guard_hard_limit - the hard error limit now (1 under stress) */
int smtpd_guard_hard_limit(int normal);
/* smtpd_guard_junk - count a junk command; 1: over the limit, 421 sent */
int smtpd_guard_junk(smtpd_state_t *st);
/* smtpd_guard_queued - a message was queued: junk count starts over */
void smtpd_guard_queued(smtpd_state_t *st);
/* smtpd_guard_helo - HELO/EHLO text usable (no controls, valid UTF-8)?
 * 0 yes, -1 no */
int smtpd_guard_helo(const char *name);
/* smtpd_guard_space - queue space for this MAIL FROM? 1 yes, 0 no */
int smtpd_guard_space(smtpd_state_t *st);

/* smtpd_restrict.c */
/* smtpd_restrict_client - smtpd_client_restrictions: SMTPD_CHECK_OK, or
 * SMTPD_CHECK_REJECT with the reply in reply */
int smtpd_restrict_client(smtpd_state_t *st, str_t *reply);
/* smtpd_restrict_relay - smtpd_relay_restrictions: may this client
 * relay? 1 yes, 0 no, -1 configuration error (logged) */
int smtpd_restrict_relay(smtpd_state_t *st);

/* smtpd_auth.c */
/* smtpd_auth_pre_init - Cyrus SASL and the sender login table (privileged) */
void smtpd_auth_pre_init(void);
/* smtpd_auth_ehlo - the AUTH keyword line for EHLO, or NULL */
const char *smtpd_auth_ehlo(smtpd_state_t *st);
/* smtpd_auth - the AUTH command (RFC 4954) */
void smtpd_auth(smtpd_state_t *st, char *args, int crlf);
/* smtpd_auth_reset - forget the authentication (after STARTTLS, at the end) */
void smtpd_auth_reset(smtpd_state_t *st);
/* smtpd_auth_sender - smtpd_sender_login_maps: 0 ok, -1 after replying */
int smtpd_auth_sender(smtpd_state_t *st, const char *sender);

/* smtpd_tls.c */
/* smtpd_tls_pre_init - load certificates and keys (privileged) */
void smtpd_tls_pre_init(void);
/* smtpd_tls_post_init - read the TLS parameters */
void smtpd_tls_post_init(void);
/* smtpd_tls_wrapper - wrapper mode: handshake before the greeting;
 * 0 go on (or not wrapper mode), -1 give up (logged) */
int smtpd_tls_wrapper(smtpd_state_t *st);
/* smtpd_tls_offer - should EHLO list STARTTLS? */
int smtpd_tls_offer(const smtpd_state_t *st);
/* smtpd_tls_required - TLS required and not on: reply 530, return 1 */
int smtpd_tls_required(smtpd_state_t *st, const char *cmd);
/* smtpd_starttls - the STARTTLS command (RFC 3207) */
void smtpd_starttls(smtpd_state_t *st, char *args, int crlf);
/* smtpd_tls_received - the "(using ...)" line of Received: into h;
 * 1 if there is one, 0 if not */
int smtpd_tls_received(smtpd_state_t *st, str_t *h);
/* smtpd_set_protocol - SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA (RFC 3848) */
void smtpd_set_protocol(smtpd_state_t *st);

#endif
