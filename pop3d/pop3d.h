/*
 * pop3d.h - state of one POP3 session, shared by the pop3d files.
 */
#ifndef MR_POP3D_H
#define MR_POP3D_H

#include <sys/types.h>

#include "auth/auth_sasl.h"
#include "pop3d_line.h"
#include "store/store.h"
#include "util/str.h"
#include "util/stream.h"
#include "util/tls.h"

#define POP3D_AUTHORIZATION 1 /* RFC 1939 states */
#define POP3D_TRANSACTION 2
#define POP3D_CLOSING 4 /* the mailbox could not be opened: only QUIT */

#define POP3D_MBOX_INDEX ".mailroom" /* in the home: an mbox's index and lock */

/* The client's addresses, known to the parent before any input */
typedef struct pop3d_conn {
    char addr[64]; /* numeric peer address ("local" for a Unix socket) */
    int port;
    char laddr[64]; /* our end */
    int lport;
} pop3d_conn_t;

typedef struct pop3d_user {
    char *name;    /* the login name (an address) */
    char *maildir; /* the mailbox directory (mbox: where its index lives) */
    char *mbox;    /* a system user's mbox file, or NULL for a Maildir */
    uid_t uid;     /* its owner */
    gid_t gid;
    int system;     /* a system user (passwd entry): its groups too */
    gid_t lock_gid; /* mbox: the group that may make its dot-lock */
    int keep_gid;   /* lock_gid is kept for the dot-lock (saved group id) */
} pop3d_user_t;

typedef struct pop3d_session {
    stream_t *client;
    const char *addr;       /* client address, for logs */
    int port;               /* client port */
    int state;              /* POP3D_AUTHORIZATION, POP3D_TRANSACTION */
    pop3d_line_t *line;     /* the command line reader */
    tls_conn_t *tls;        /* TLS is on (STLS or port 995), in this process */
    int tls_on;             /* mailbox process: TLS is on in the login process */
    int starttls;           /* STLS accepted: handshake before more input */
    int sasl_used;          /* the auth process holds an exchange */
    char *mechs;            /* the SASL mechanisms last offered */
    char *auth_mech;        /* an AUTH exchange is going on */
    int handoff;            /* logged in: the mailbox process takes over */
    str_t *rest;            /* client input not yet used at the handoff */
    char *user;             /* from USER, until PASS */
    pop3d_user_t login;     /* after a good PASS */
    store_t *store;         /* the mailbox, in TRANSACTION */
    int lock_fd;            /* the session lock ([IN-USE]) */
    size_t count;           /* messages at login: numbers 1..count */
    unsigned char *deleted; /* per message: marked by DELE */
    int errors;             /* bad commands so far */
    int done;               /* end the session */
    const char *reason;     /* why it ended, for the log */
    long retr_count, top_count, dele_count;
    long long retr_bytes, top_bytes, dele_bytes;
} pop3d_session_t;

/* pop3d_reply - send one reply line (CRLF added) and flush */
void pop3d_reply(pop3d_session_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* pop3d_bad_command - answer "-ERR text", count the error, and end the
 * session after pop3d_error_limit of them */
void pop3d_bad_command(pop3d_session_t *s, const char *text);

/* pop3d_command - run one command line */
void pop3d_command(pop3d_session_t *s, char *line);

/* Login commands (pop3d_login.c); argv[0] is the verb */
void pop3d_login_capa(pop3d_session_t *s, char **argv, int argc);
void pop3d_login_user(pop3d_session_t *s, char **argv, int argc);
void pop3d_login_pass(pop3d_session_t *s, char **argv, int argc);
void pop3d_login_auth(pop3d_session_t *s, char **argv, int argc);
/* pop3d_login_auth_response - a line of an AUTH exchange in progress */
void pop3d_login_auth_response(pop3d_session_t *s, const char *line);
/* pop3d_login_reset - forget USER, the SASL context and any exchange */
void pop3d_login_reset(pop3d_session_t *s);

/* pop3d_session_run - greet (unless greeting is NULL), then read and
 * run commands until the session is over, input (len bytes) first */
void pop3d_session_run(pop3d_session_t *s, const char *greeting, const char *input, size_t len);
/* pop3d_session_log - the one log line of a session */
void pop3d_session_log(const pop3d_session_t *s);

/* pop3d_split_pre_init - privileged: the ids and the empty directory of
 * the login processes */
void pop3d_split_pre_init(void);
/* pop3d_split_serve - one connection: the login, auth and mailbox
 * processes (pop3d_split.c); the caller never reads the client */
void pop3d_split_serve(stream_t *client);

/* pop3d_proxy - relay between the client's TLS stream and the mailbox
 * process on fd until either ends; closes fd */
void pop3d_proxy(stream_t *client, int fd);
/* pop3d_login_ready - in the mailbox process, the mailbox open: the
 * TRANSACTION state, its log line and reply */
void pop3d_login_ready(pop3d_session_t *s);

/* pop3d_sasl_channel - the stream to the auth process */
void pop3d_sasl_channel(stream_t *chan);
/* pop3d_sasl_status - an AUTH_SASL_ result from its wire name */
int pop3d_sasl_status(const char *name);
/* pop3d_cleartext_allowed - may a password travel in clear from addr
 * (tls: TLS is on)? pop3d_cleartext_auth */
int pop3d_cleartext_allowed(const char *addr, int tls);
/* pop3d_authd_serve - the auth process: answer the login process's
 * requests, name the user to the parent on success */
void pop3d_authd_serve(const pop3d_conn_t *conn, stream_t *login, stream_t *parent);

/* pop3d_sasl_mechs - the SASL mechanisms this session may use, space
 * separated ("" when none) */
const char *pop3d_sasl_mechs(pop3d_session_t *s);
/* pop3d_sasl_start, pop3d_sasl_step - one SASL exchange (auth/auth_sasl.h
 * results; the challenge in out on AUTH_SASL_MORE; *user_r, the SASL user
 * name, on AUTH_SASL_OK: free it) */
int pop3d_sasl_start(pop3d_session_t *s, const char *mech, const char *initial, str_t *out,
		     char **user_r, const char **reason_r);
int pop3d_sasl_step(pop3d_session_t *s, const char *response, str_t *out, char **user_r,
		    const char **reason_r);
/* pop3d_sasl_cleartext_ok - may this session send a password in clear
 * (USER/PASS, PLAIN, LOGIN)? TLS on, or pop3d_cleartext_auth allows */
int pop3d_sasl_cleartext_ok(const pop3d_session_t *s);
/* pop3d_sasl_free - end the session's SASL exchange, if any */
void pop3d_sasl_free(pop3d_session_t *s);

/* pop3d_tls_pre_init - the TLS context (privileged: reads the key) */
void pop3d_tls_pre_init(void);
/* pop3d_tls_wrapper - port 995: the handshake before the greeting; 0 ok
 * (or not wrapper mode), -1 hang up (logged) */
int pop3d_tls_wrapper(pop3d_session_t *s);
/* pop3d_tls_offer - STLS in CAPA? */
int pop3d_tls_offer(const pop3d_session_t *s);
/* pop3d_tls_required - pop3d_tls_security_level = encrypt and no TLS
 * yet: 1 after answering -ERR, else 0 */
int pop3d_tls_required(pop3d_session_t *s);
/* pop3d_tls_stls - the STLS command (the handshake follows in
 * pop3d_tls_handshake once the reply is out) */
void pop3d_tls_stls(pop3d_session_t *s, char **argv, int argc);
/* pop3d_tls_handshake - the server handshake after STLS; 0 ok, -1 the
 * session is over (logged) */
int pop3d_tls_handshake(pop3d_session_t *s);

/* pop3d_auth_init - load the SASL modules and open the mailbox table
 * (privileged, before the privilege drop) */
void pop3d_auth_init(void);

/* pop3d_auth_mailbox - the mailbox of an authenticated SASL user name:
 * a virtual mailbox, else a system user's home_mailbox; fill *u (free
 * with pop3d_user_free). Reads tables and the passwd file, never the
 * mailbox. 1 ok, -1 not served (*error_r says why) */
int pop3d_auth_mailbox(const char *login, pop3d_user_t *u, const char **error_r);

/* pop3d_user_free - release the strings of *u */
void pop3d_user_free(pop3d_user_t *u);

/* pop3d_mailbox_open - lock and open the logged-in user's mailbox, in
 * the mailbox process, as its owner; 0 ok, -1 with a reply sent */
int pop3d_mailbox_open(pop3d_session_t *s);

/* pop3d_mailbox_close - apply the deletions when update is set, unlock,
 * close; 0 ok, -1 the deletions failed (*error_r) */
int pop3d_mailbox_close(pop3d_session_t *s, int update, const char **error_r);

#endif
