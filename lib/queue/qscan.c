/*
 * qscan.c - list the queue files in a queue directory.
 *
 * Walks QUEUE and its hash directories (names of one hex digit, at most
 * QSCAN_MAX_DEPTH levels) whatever hash_queue_depth is now, so files
 * written under an older setting are still found. Anything that is not a
 * queue ID (temporary ".t..." files, strays) is skipped, and so is a
 * queue ID whose regular file is not marked ready (a reservation or a
 * file being written: one fstatat per name), except in defer/ and
 * bounce/, whose files are per-message delivery logs that are appended
 * to, not committed (lib/queue/qlog.c). qscan_next_name returns every name, for
 * the sweep.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/qfile.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define QSCAN_MAX_DEPTH 4

struct qscan {
    int any; /* list files not marked ready too */
    DIR *dirs[QSCAN_MAX_DEPTH + 1];
    str_t *paths[QSCAN_MAX_DEPTH + 1];
    int level;
};

/* qscan_hash_name - one hex digit */
static int qscan_hash_name(const char *name)
{
    return name[0] && name[1] == 0 && strchr("0123456789ABCDEF", name[0]) != NULL;
}

/* qscan_is_dir - d_type, or lstat when the file system does not say */
static int qscan_is_dir(qscan_t *qs, struct dirent *de)
{
    struct stat st;
    str_t *path;
    int ret;

    if (de->d_type != DT_UNKNOWN)
	return de->d_type == DT_DIR;
    path = str_new(100);
    str_printf(path, "%s/%s", str_data(qs->paths[qs->level]), de->d_name);
    ret = lstat(str_data(path), &st) == 0 && S_ISDIR(st.st_mode);
    str_free(&path);
    return ret;
}

/* qscan_push - descend into a directory; 0 ok, -1 unreadable */
static int qscan_push(qscan_t *qs, const char *path)
{
    DIR *d = opendir(path);

    if (d == NULL)
	return -1;
    qs->level++;
    qs->dirs[qs->level] = d;
    if (qs->paths[qs->level] == NULL)
	qs->paths[qs->level] = str_new(100);
    str_set(qs->paths[qs->level], path);
    return 0;
}

/* qscan_open - start at the top of queue */
qscan_t *qscan_open(const char *queue, const char **error_r)
{
    qscan_t *qs = mr_calloc(1, sizeof(*qs));

    qs->level = -1;
    qs->any = strcmp(queue, MAIL_QUEUE_DEFER) == 0 || strcmp(queue, MAIL_QUEUE_BOUNCE) == 0;
    if (qscan_push(qs, mail_queue_path(queue)) < 0) {
	*error_r = "cannot open queue directory";
	qscan_close(&qs);
	return NULL;
    }
    return qs;
}

/* qscan_next_name - next name that is not a hash directory, depth first */
int qscan_next_name(qscan_t *qs, const char **dir_r, const char **name_r)
{
    struct dirent *de;

    while (qs->level >= 0) {
	if ((de = readdir(qs->dirs[qs->level])) == NULL) {
	    closedir(qs->dirs[qs->level]);
	    qs->dirs[qs->level--] = NULL;
	    continue;
	}
	if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
	    continue;
	if (qs->level < QSCAN_MAX_DEPTH && qscan_hash_name(de->d_name) && qscan_is_dir(qs, de)) {
	    str_t *sub = str_new(100);

	    str_printf(sub, "%s/%s", str_data(qs->paths[qs->level]), de->d_name);
	    (void)qscan_push(qs, str_data(sub));
	    str_free(&sub);
	    continue;
	}
	*dir_r = str_data(qs->paths[qs->level]);
	*name_r = de->d_name;
	return 1;
    }
    return 0;
}

/* qscan_ready - is dir/name a queue file marked ready? Anything but a
 * regular file is listed too: it is never ours, and the reader's open
 * (safe_open) refuses it, so that it is reported and moved aside. */
static int qscan_ready(qscan_t *qs, const char *name)
{
    struct stat st;

    return fstatat(dirfd(qs->dirs[qs->level]), name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	   (!S_ISREG(st.st_mode) || qfile_ready(&st));
}

/* qscan_next - next queue ID marked ready */
int qscan_next(qscan_t *qs, char id[QID_BUFSIZE])
{
    const char *dir, *name;

    while (qscan_next_name(qs, &dir, &name)) {
	if (qid_valid(name) && (qs->any || qscan_ready(qs, name))) {
	    mr_strlcpy(id, name, QID_BUFSIZE);
	    return 1;
	}
    }
    return 0;
}

/* qscan_close - release */
void qscan_close(qscan_t **qsp)
{
    qscan_t *qs = *qsp;

    if (qs == NULL)
	return;
    for (int i = 0; i <= QSCAN_MAX_DEPTH; i++) {
	if (qs->dirs[i])
	    closedir(qs->dirs[i]);
	str_free(&qs->paths[i]);
    }
    mr_free(qs);
    *qsp = NULL;
}
