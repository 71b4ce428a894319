/*
 * master_pid.h - data_directory/master.pid: who is the running master.
 *
 * master holds an exclusive flock(2) on the file for as long as it runs,
 * so a stale file left by a crash is harmless: "running" means "locked",
 * not "the file exists". The file holds the pid as decimal text.
 */
#ifndef MR_MASTER_PID_H
#define MR_MASTER_PID_H

#include <sys/types.h>

#define MASTER_PID_FILE		"master.pid"
#define MASTER_STATUS_FILE	"master.status"

/* master_pid_lock - open and lock path. Returns the descriptor; -1 with
 * *error_r if the file cannot be opened; -2 if another master holds the
 * lock (its pid in *other_r, 0 if not yet written) */
int     master_pid_lock(const char *path, pid_t *other_r, const char **error_r);
/* master_pid_write - store our pid in the locked file; 0 ok, -1 error */
int     master_pid_write(int fd);
/* master_pid_running - 1 if a master holds the lock on path (its pid in
 * *pid_r, 0 if not yet written), 0 if none */
int     master_pid_running(const char *path, pid_t *pid_r);

#endif
