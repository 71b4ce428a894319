/*
 * master_state.c - data_directory/master.status, read by "mailroom status".
 *
 * Rewritten (temporary file + rename, so a reader never sees half of it)
 * at most every 100ms after something changed. Format, one line each:
 *   master PID
 *   NAME TYPE ADDRESS PROCESSES IDLE MAXPROC STATE      (tab-separated)
 * STATE is "running" or "throttled". PROCESSES includes old processes
 * still finishing after a reload.
 */
#include <stdio.h>
#include <unistd.h>

#include "global/config.h"
#include "master.h"
#include "master/master_pid.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"

static int master_state_pending;

/* master_state_write - write the file now */
static void master_state_write(int fd, int event, void *context)
{
    char   *path = mr_format("%s/%s", config_str("data_directory"), MASTER_STATUS_FILE);
    char   *tmp = mr_format("%s.tmp", path);
    long long now = event_now_ms();
    FILE   *fp;

    master_state_pending = 0;
    if ((fp = fopen(tmp, "we")) == NULL) {
	msg_warn("cannot write %s: %m", tmp);
    } else {
	fprintf(fp, "master %ld\n", (long) getpid());
	for (master_serv_t *s = master_services; s; s = s->next)
	    fprintf(fp, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s->name, master_type_name(s->type),
		    s->addr, s->total + s->stale, s->avail, s->maxproc,
		    s->throttled && now < s->hold_until ? "throttled" : "running");
	if (fclose(fp) != 0 || rename(tmp, path) < 0)
	    msg_warn("cannot write %s: %m", path);
    }
    mr_free(tmp);
    mr_free(path);
}

void    master_state_changed(void)
{
    if (master_state_pending || master_stopping)
	return;
    master_state_pending = 1;
    event_request_timer(master_state_write, NULL, 100);
}

void    master_state_remove(void)
{
    char   *path = mr_format("%s/%s", config_str("data_directory"), MASTER_STATUS_FILE);

    unlink(path);
    mr_free(path);
}
