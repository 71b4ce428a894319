/*
 * master_dirtab.h - the queue directories with their owner and mode, as
 * master creates them and "mailroom check" verifies them.
 */
#ifndef MR_MASTER_DIRTAB_H
#define MR_MASTER_DIRTAB_H

typedef struct master_dir {
    const char *name; /* relative to queue_directory */
    int mode;
    int drop_group; /* group setgid_group, else mail_owner's */
    int root_owned; /* root:root, not mail_owner's */
} master_dir_t;

/* MASTER_PID_DIR - master's own state (master.pid, master.status), in a
 * directory of root's (relative to queue_directory) */
#define MASTER_PID_DIR "pid"

/* master_queue_dirs - the table, ended by a NULL name */
extern const master_dir_t master_queue_dirs[];

#endif
