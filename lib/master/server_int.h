/*
 * server_int.h - what the skeletons (single_server.c, trigger_server.c,
 * event_server.c)
 * share through mail_server.c: the parsed command line and the start-up
 * sequence. Not for daemons; they include mail_server.h.
 */
#ifndef MR_SERVER_INT_H
#define MR_SERVER_INT_H

#include "master/mail_server.h"

typedef struct server_args {
    const char *config_dir; /* -c, or NULL for the default */
    const char *service;    /* -n */
    const char *type;       /* -t: inet, unix, fifo */
    int unpriv;             /* -u */
    int chroot;             /* -r */
    int wakeup;             /* -w seconds, 0 none */
    int stand_alone;        /* -S */
    int stress;             /* -s: started under stress */
    int slot;               /* -i: byte in the status slots, -1 none */
} server_args_t;

/* server_startup - parse argv, load the configuration, open the log, run
 * pre_init, drop privileges, run post_init (the order is argued in
 * mail_server.c); fatal on any failure */
void server_startup(int argc, char **argv, const server_params_t *params, server_args_t *args);
/* server_took_client - note that this process took a client (or a
 * wake-up): from the next report on, master knows it works, and will
 * replace it at once rather than count its death as a failure */
void server_took_client(void);
/* server_one_at_a_time - this process serves one client at a time: its
 * reports say so, and master may start one process per client waiting */
void server_one_at_a_time(void);
/* server_report - tell master we are idle (1) or busy (0); returns -1
 * when master is gone */
int server_report(int avail);
/* server_report_client - around each client of a one-client-at-a-time
 * skeleton: busy (0) when it took one, idle (1) when done. With a status
 * slot only the slot changes, and master hears a message only when it
 * must act: the first client, or no other process of the service idle.
 * Returns 0, or -1 when a message could not be sent (master is gone) */
int server_report_client(int avail);
/* server_master_gone - has master closed its end of the status pipe? */
int server_master_gone(void);
/* server_orphan - has master died (the listening socket is let go)? */
int server_orphan(void);
/* server_exit - run pre_exit and exit(0) */
void server_exit(const server_params_t *params) __attribute__((noreturn));
/* server_client_nodelay - for inet services: replies are written whole,
 * so do not let Nagle hold them back for the peer's delayed ACK */
void server_client_nodelay(int fd, const server_args_t *args);
/* server_set_client_addr - remember the current client's address
 * ("local" for the clients of a Unix socket master passed, without
 * asking the kernel) */
void server_set_client_addr(int fd, const server_args_t *args);

#endif
