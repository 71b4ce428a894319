/*
 * master.h - the supervisor's internal interfaces (for the files in master/ only).
 */
#ifndef MR_MASTER_H
#define MR_MASTER_H

#include <sys/types.h>

#include "master_conf.h"

typedef struct master_serv {
    struct master_serv *next;
    char *name; /* service column */
    int type;   /* MASTER_TYPE_* */
    char *addr; /* host:port, or socket/FIFO path */
    int private_flag, unpriv, chroot, wakeup, maxproc;
    int argc; /* command + arguments from master.conf */
    char **argv;
    char *path; /* daemon_directory/command */
    int line;   /* in master.conf */
    int listen_fd;
    int status_fd[2];     /* children write [1] at MASTER_STATUS_FD */
    unsigned char *slots; /* this generation's status slots (shared), or NULL */
    char *slot_used;      /* master's own record of which slots are taken */
    int slots_fd;         /* the slots' memfd, given at MASTER_SLOTS_FD */
    int total;            /* processes of this generation */
    int single;           /* its processes said: one client at a time */
    int stale;            /* processes from before a reload */
    int fail_count;       /* abnormal exits in a row */
    long long hold_until; /* no new process before (ms) */
    int throttled;
    int watching;           /* how listen_fd is watched: MASTER_WATCH_* */
    long long stress_until; /* under stress until (ms) */
} master_serv_t;

/* How master watches a demand-driven service's listening socket */
#define MASTER_WATCH_NONE 0     /* not at all */
#define MASTER_WATCH_WAITING 1  /* while a client waits: it may need a process */
#define MASTER_WATCH_ARRIVALS 2 /* each new client: processes starting cover the rest */

extern master_serv_t *master_services;
extern int master_foreground;
extern int master_pid_dir_fd; /* queue_directory/pid, root's */

/* master_services.c - the service table */
void master_services_load(int initial); /* read master.conf, open sockets */
void master_services_start(void);       /* first processes */
extern int master_stopping;
void master_services_close_all(void);
void master_serv_update(master_serv_t *serv); /* watch/spawn as needed */

/* master_spawn.c - child processes */
void master_spawn(master_serv_t *serv);
/* master_flow_open - the flow-token pipe, once master.conf runs qmgr */
void master_flow_open(void);
void master_reap(void);
void master_status_event(int fd, int event, void *context);
void master_retire(master_serv_t *serv); /* old children: finish and go */
void master_forget(master_serv_t *serv); /* service freed */
void master_stop_children(long timeout_s);
void master_stress_children(master_serv_t *serv); /* tell them: stress */
int master_serv_avail(const master_serv_t *serv); /* idle processes */
/* master_serv_starting - processes started that have not reported yet */
int master_serv_starting(const master_serv_t *serv);
void master_slots_open(master_serv_t *serv); /* a new generation's slots */
int master_children(void);

/* master_dirs.c - queue directories, user and group; returns an open
 * descriptor of the pid directory (root's), where master keeps its state */
int master_dirs_init(void);

/* master_state.c - pid/master.status for "mailroom status" */
void master_state_changed(void);
void master_state_remove(void);

#endif
