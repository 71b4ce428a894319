/*
 * master_pid.h - queue_directory/pid/master.pid: who is the running master.
 *
 * master holds an exclusive flock(2) on the file for as long as it runs,
 * so a stale file left by a crash is harmless: "running" means "locked",
 * not "the file exists". The file holds the pid as decimal text. It lives
 * in a directory of root's (MASTER_PID_DIR in master_dirtab.h), never in
 * one mail_owner can write, and master opens it under a descriptor of
 * that directory.
 */
#ifndef MR_MASTER_PID_H
#define MR_MASTER_PID_H

#include <sys/types.h>

#define MASTER_PID_FILE "master.pid"
#define MASTER_STATUS_FILE "master.status"

/* master_pid_lock - open (create) and lock dir_fd/name, through dir_fd,
 * never following a link, and write our pid in it at once, so that
 * whoever finds the lock held finds the pid of the master holding it
 * (not one that is gone, nor none). Returns the descriptor; -1 with
 * *error_r if the file cannot be opened or written; -2 if another master
 * holds the lock (its pid in *other_r) */
int master_pid_lock(int dir_fd, const char *name, pid_t *other_r, const char **error_r);
/* master_pid_write - store our pid in the locked file (again after a
 * fork), without emptying it first; 0 ok, -1 error */
int master_pid_write(int fd);
/* master_pid_running - 1 if a master holds the lock on path, 0 if none.
 * *pid_r gets the pid written in the file either way (0 if none): when
 * nothing holds the lock, that is a master that is gone (stale file) */
int master_pid_running(const char *path, pid_t *pid_r);

#endif
