/*
 * pop3d.h - state of one POP3 session, shared by the pop3d files.
 */
#ifndef MR_POP3D_H
#define MR_POP3D_H

#include <sys/types.h>

#include "store/store.h"
#include "util/str.h"
#include "util/stream.h"

#define POP3D_AUTHORIZATION 1 /* RFC 1939 states */
#define POP3D_TRANSACTION 2

typedef struct pop3d_user {
    char *name;    /* the login name (an address) */
    char *maildir; /* the mailbox directory */
    uid_t uid;     /* its owner */
    gid_t gid;
} pop3d_user_t;

typedef struct pop3d_session {
    stream_t *client;
    const char *addr;       /* client address, for logs */
    int state;              /* POP3D_AUTHORIZATION, POP3D_TRANSACTION */
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

/* pop3d_auth_init - open the password and mailbox tables (privileged,
 * before the privilege drop) */
void pop3d_auth_init(void);

/* pop3d_auth_check - check user and password; on success fill *u (free
 * with pop3d_user_free). 1 ok, 0 wrong user or password, -1 temporary
 * failure (*error_r says what) */
int pop3d_auth_check(const char *user, const char *pass, pop3d_user_t *u, const char **error_r);

/* pop3d_user_free - release the strings of *u */
void pop3d_user_free(pop3d_user_t *u);

/* pop3d_mailbox_open - lock and open the logged-in user's mailbox; 0 ok,
 * -1 with a reply sent */
int pop3d_mailbox_open(pop3d_session_t *s);

/* pop3d_mailbox_close - apply the deletions when update is set, unlock,
 * close; 0 ok, -1 the deletions failed (*error_r) */
int pop3d_mailbox_close(pop3d_session_t *s, int update, const char **error_r);

#endif
