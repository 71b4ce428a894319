/*
 * master_state.c - pid/master.status, read by "mailroom status".
 *
 * The file is master's own state: it is written (as root) only in the
 * root-owned pid directory, under master_pid_dir_fd, with O_EXCL and
 * O_NOFOLLOW, so no link can redirect the write.
 *
 * Rewritten (temporary file + rename, so a reader never sees half of it)
 * at most every 100ms after something changed. Format, one line each:
 *   master PID
 *   NAME TYPE ADDRESS PROCESSES IDLE MAXPROC STATE      (tab-separated)
 * STATE is "running" or "throttled". PROCESSES includes old processes
 * still finishing after a reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "global/config.h"
#include "master.h"
#include "master_dirtab.h"
#include "master_pid.h"
#include "util/event.h"
#include "util/msg.h"

static int master_state_pending;

#define MASTER_STATUS_TMP MASTER_STATUS_FILE ".tmp"

/* master_state_open - a fresh temporary file in the pid directory */
static FILE *master_state_open(void)
{
    int fd;
    FILE *fp;

    if (unlinkat(master_pid_dir_fd, MASTER_STATUS_TMP, 0) < 0 && errno != ENOENT)
	return NULL;
    fd = openat(master_pid_dir_fd, MASTER_STATUS_TMP,
		O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
	return NULL;
    if ((fp = fdopen(fd, "w")) == NULL)
	close(fd);
    return fp;
}

/* master_state_write - write the file now */
static void master_state_write(int fd, int event, void *context)
{
    long long now = event_now_ms();
    FILE *fp;

    master_state_pending = 0;
    if ((fp = master_state_open()) == NULL) {
	msg_warn("cannot write %s/%s: %m", MASTER_PID_DIR, MASTER_STATUS_TMP);
	return;
    }
    fprintf(fp, "master %ld\n", (long)getpid());
    for (master_serv_t *s = master_services; s; s = s->next)
	fprintf(fp, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s->name, master_type_name(s->type), s->addr,
		s->total + s->stale, master_serv_avail(s), s->maxproc,
		s->throttled && now < s->hold_until ? "throttled" : "running");
    if (fclose(fp) != 0 ||
	renameat(master_pid_dir_fd, MASTER_STATUS_TMP, master_pid_dir_fd, MASTER_STATUS_FILE) < 0)
	msg_warn("cannot write %s/%s: %m", MASTER_PID_DIR, MASTER_STATUS_FILE);
}

void master_state_changed(void)
{
    if (master_state_pending || master_stopping)
	return;
    master_state_pending = 1;
    event_request_timer(master_state_write, NULL, 100);
}

void master_state_remove(void)
{
    if (master_pid_dir_fd >= 0)
	unlinkat(master_pid_dir_fd, MASTER_STATUS_FILE, 0);
}
