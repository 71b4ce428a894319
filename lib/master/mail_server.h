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
 *   -S   stand-alone: no master; serve exactly one client on fd 0 (which
 *        must be a socket, inetd-style), then exit. For tests and debugging.
 *
 * Status messages (child -> master) are a fixed-size mail_status_t.
 */
#ifndef MR_MAIL_SERVER_H
#define MR_MAIL_SERVER_H

#include <sys/types.h>

#include "util/stream.h"

typedef struct mail_status {
    pid_t   pid;
    int     avail;			/* 1 idle, 0 busy */
} mail_status_t;

typedef struct server_params {
    /* pre_init - privileged init: open tables, keys (may be NULL) */
    void    (*pre_init)(const char *service);
    /* post_init - after the privilege drop (may be NULL) */
    void    (*post_init)(const char *service);
    /* service - handle one client connection (single/multi servers) */
    void    (*service)(stream_t *client, const char *service);
    /* trigger - handle a wake-up (trigger server); buf holds len bytes,
     * len 0 for a timer wake-up */
    void    (*trigger)(const char *buf, size_t len, const char *service);
    /* pre_exit - called before a voluntary exit (may be NULL) */
    void    (*pre_exit)(void);
    int     keep_root;			/* do not setuid (local delivery) */
} server_params_t;

/* single_server_main - one client at a time per process */
int     single_server_main(int argc, char **argv, const server_params_t *params);
/* trigger_server_main - wake-ups on a socket/fifo plus a wakeup timer */
int     trigger_server_main(int argc, char **argv, const server_params_t *params);

/* server_client_addr - for inet services: peer address of the current
 * client ("local" for Unix sockets) */
const char *server_client_addr(void);
/* server_queue_path - queue_directory-relative path as the daemon must
 * open it (chrooted or not); returns static storage */
const char *server_queue_path(const char *relative);
/* server_chrooted - are we running chrooted into the queue directory? */
int     server_chrooted(void);
/* server_set_chrooted - recorded by the skeleton after chroot */
void    server_set_chrooted(int yes);

#endif
