/*
 * filterd_sweep.c - remove what killed filterd processes left behind in
 * filterd_quarantine_directory.
 *
 * A quarantine copy is written as ".tPID.ID" and linked to its queue ID
 * when complete (filterd_quar.c); a spool file is unnamed (O_TMPFILE), or
 * on a file system without O_TMPFILE named ".spool.XXXXXX" for the moment
 * between mkstemp and unlink. A worker killed in between leaves such a
 * name, which no reader takes for a message and nothing else removes.
 *
 * filterd looks for them when a process starts and then every
 * filterd_temp_file_max_age: a regular file with one of these names whose
 * last change is older than that bound is removed and logged. A file that
 * is still being written changes all the time; the bound (default one
 * hour) is far longer than any write takes, so a live file is never
 * removed. Only those two name patterns are touched: quarantined
 * messages (queue IDs) and anything else in the folder stay.
 *
 * Runs as mail_owner, who owns the folder; entries are opened relative
 * to the folder's descriptor and never followed (AT_SYMLINK_NOFOLLOW).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filterd.h"
#include "global/config.h"
#include "util/event.h"
#include "util/msg.h"

/* filter_sweep_name - a temporary name of filterd's */
static int filter_sweep_name(const char *name)
{
    return (name[0] == '.' && name[1] == 't' && isdigit((unsigned char)name[2])) ||
	   strncmp(name, ".spool.", 7) == 0;
}

/* filter_sweep - see filterd.h */
int filter_sweep(const char *dir, long max_age, time_t now)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), removed = 0;
    struct dirent *e;
    struct stat st;
    DIR *d;

    if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
	msg_warn("cannot sweep %s: %m", dir);
	if (dfd >= 0)
	    close(dfd);
	return -1;
    }
    while ((e = readdir(d)) != NULL) {
	if (!filter_sweep_name(e->d_name) ||
	    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    now - st.st_mtime < max_age)
	    continue;
	if (unlinkat(dfd, e->d_name, 0) == 0) {
	    msg_info("removed stale temporary file %s/%s (unchanged for %lds)", dir, e->d_name,
		     (long)(now - st.st_mtime));
	    removed++;
	} else if (errno != ENOENT) {
	    msg_warn("cannot remove stale temporary file %s/%s: %m", dir, e->d_name);
	}
    }
    closedir(d);
    return removed;
}

/* filter_sweep_event - sweep now and again after the bound */
static void filter_sweep_event(int fd, int event, void *context)
{
    long max_age = config_time("filterd_temp_file_max_age");

    (void)filter_sweep(config_str("filterd_quarantine_directory"), max_age, time(NULL));
    event_request_timer(filter_sweep_event, NULL, max_age * 1000L);
}

/* filter_sweep_start - see filterd.h */
void filter_sweep_start(void)
{
    filter_sweep_event(-1, 0, NULL);
}
