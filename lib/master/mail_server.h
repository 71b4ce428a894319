/*
 * mail_server.h - skeletons that own a daemon's main loop.
 *
 * A daemon's main() fills a server_params_t and calls one skeleton. The
 * skeleton parses the command line that master gives it, loads the
 * configuration, opens the log, runs the privileged pre_init hook, drops
 * privileges (chroot, then user, in the order privs.h argues), runs
 * post_init, and then serves clients from the listening socket master
 * passed at MASTER_LISTEN_FD, telling master busy/idle over the status
 * pipe at MASTER_STATUS_FD. It exits after max_use clients or max_idle
 * seconds without one; master starts another when needed.
 *
 * Command line (built by master from master.conf):
 *   PROG -c CONFIG_DIR -n SERVICE -t TYPE [-u] [-r] [-w WAKEUP] [-v]
 *        [-o name=value ...]
 *   -u   run as mail_owner (unprivileged column is y)
 *   -r   chroot into queue_directory (chroot column is y)
 *   -s   the service is under stress: shorter deadlines (server_stress)
 *   -S   stand-alone: no master; serve exactly one client, then exit. The
 *        client is on fd 0 when that is a socket (inetd-style; tests,
 *        debugging), else it reads fd 0 and writes fd 1 (pipes: sendmail
 *        -bs runs smtpd -S this way, as the invoking user). When
 *        maillog_file cannot be opened (an ordinary user), the log goes to
 *        standard error.
 *
 * Status messages (child -> master) are a fixed-size mail_status_t.
 *
 * Three skeletons: single_server_main (one client at a time per process),
 * trigger_server_main (one-byte wake-ups plus a timer) and
 * event_server_main (one process serves many clients from the event loop
 * of util/event.h; see event_server.c for its life cycle).
 */
#ifndef MR_MAIL_SERVER_H
#define MR_MAIL_SERVER_H

#include <signal.h>
#include <sys/types.h>

#include "global/mail_queue.h"
#include "util/stream.h"

typedef struct event_conn event_conn_t;

/* SERVER_ORPHAN_SIGNAL - the kernel's word that master died */
#define SERVER_ORPHAN_SIGNAL SIGUSR1
/* SERVER_STRESS_SIGNAL - master's word that the service is at its limit */
#define SERVER_STRESS_SIGNAL SIGUSR2

typedef struct mail_status {
    pid_t pid;
    int avail;  /* 1 idle, 0 busy */
    int taken;  /* 1 once it took its first client */
    int single; /* 1: serves one client at a time (one process per
		 * waiting client is worth starting) */
} mail_status_t;

typedef struct server_params {
    /* pre_init - privileged init: open tables, keys (may be NULL) */
    void (*pre_init)(const char *service);
    /* post_init - after the privilege drop (may be NULL) */
    void (*post_init)(const char *service);
    /* service - handle one client connection (single/multi servers) */
    void (*service)(stream_t *client, const char *service);
    /* trigger - handle a wake-up (trigger server); buf holds len bytes,
     * len 0 for a timer wake-up */
    void (*trigger)(const char *buf, size_t len, const char *service);
    /* pre_exit - called before a voluntary exit (may be NULL) */
    void (*pre_exit)(void);
    int keep_root; /* do not setuid (local delivery) */

    /*
     * Event server only. Without conn_input the listening socket (or
     * FIFO) carries wake-ups for the trigger hook, as in a trigger server
     * (-w ticks included). With it, each accepted client is an
     * event_conn_t driven by these hooks. A hook never blocks for long:
     * every other client waits meanwhile.
     */
    /* conn_open - a new client (may be NULL); may write a greeting */
    void (*conn_open)(event_conn_t *conn, const char *service);
    /* conn_input - len bytes (len > 0) arrived from the client. The hook
     * takes them all: an incomplete request stays in its own parser state
     * (util/attr.h: attr_parser_t) until the next call. */
    void (*conn_input)(event_conn_t *conn, const char *buf, size_t len);
    /* conn_close - the connection is ending (EOF, I/O error, timeout, or
     * event_conn_close): free the context (may be NULL). Do not write. */
    void (*conn_close)(event_conn_t *conn);
    /* long_lived - event server: ignore max_use and max_idle, and exit at
     * once when master goes away (state holders such as anvil and qmgr) */
    int long_lived;
    /* max_use_param - event server: the parameter read instead of
     * max_use (NULL: max_use), for a daemon whose processes build up
     * costly state that a restart throws away */
    const char *max_use_param;
    /* spin_us - event server: see event_set_spin (util/event.h) */
    long spin_us;
} server_params_t;

/* single_server_main - one client at a time per process */
int single_server_main(int argc, char **argv, const server_params_t *params);
/* trigger_server_main - wake-ups on a socket/fifo plus a wakeup timer */
int trigger_server_main(int argc, char **argv, const server_params_t *params);

/* event_server_main - many clients per process on the event loop */
int event_server_main(int argc, char **argv, const server_params_t *params);

/* event_conn_write - queue len bytes for the client and send what the
 * socket takes now; the rest goes out when it is writable (meanwhile
 * the client's input is not read). 0 ok, -1 the connection is closing
 * (write error, or more than EVENT_CONN_MAX_OUTPUT bytes queued) */
int event_conn_write(event_conn_t *conn, const void *buf, size_t len);
/* event_conn_close - end the connection once queued output is sent;
 * conn_close runs then. Safe to call from any hook, more than once. */
void event_conn_close(event_conn_t *conn);
/* event_conn_set_context, event_conn_context - the daemon's state */
void event_conn_set_context(event_conn_t *conn, void *context);
void *event_conn_context(const event_conn_t *conn);
/* event_conn_addr - peer address ("local" for a Unix socket client) */
const char *event_conn_addr(const event_conn_t *conn);
/* event_conn_fd - the client socket (for logging; do not close it) */
int event_conn_fd(const event_conn_t *conn);
/* event_conn_set_timeout - close after seconds without input (0: never;
 * the default is ipc_timeout) */
void event_conn_set_timeout(event_conn_t *conn, long seconds);
/* event_server_drain - stop accepting clients, tell master we are busy
 * (so it starts another process), exit when the last client has gone */
void event_server_drain(void);
/* event_server_clients - number of connected clients */
int event_server_clients(void);

#define EVENT_CONN_MAX_OUTPUT (4 * 1024 * 1024)

/* server_client_addr - for inet services: peer address of the current
 * client ("local" for Unix sockets) */
const char *server_client_addr(void);
/* server_stand_alone - running without master (-S)? */
int server_stand_alone(void);
/* server_set_stand_alone - recorded by the skeleton */
void server_set_stand_alone(int yes);
/* server_stress - is the service at its process limit (master said so,
 * with -s at start or a signal since)? Then stream deadlines are already
 * cut to the stress length the daemon set with stream_set_stress_deadline */
int server_stress(void);
/* Older names of the queue path helpers (global/mail_queue.h) */
#define server_queue_path(relative) mail_queue_path(relative)
#define server_chrooted() mail_queue_chrooted()
#define server_set_chrooted(yes) mail_queue_set_chrooted(yes)

#endif
