/*
 * qfile_pool.c - queue files reserved ahead of use, so that committing a
 * message costs one device flush (the file's fsync) instead of two.
 *
 * A batch is made in ONE hash directory D of the queue:
 *   R1. for each file: create D/.tPID.N (O_CREAT|O_EXCL, mode without the
 *       ready bit), take an OFD write lock on it, derive the queue ID from
 *       its inode and the time with qid_new_in (which steps the time part
 *       until the ID hashes to D), rename it to D/ID without replacing
 *       anything. The lock is taken before the file has a queue-ID name,
 *       so whoever sees the name and finds no lock knows the writer is
 *       gone (qfile_sweep); the lock goes away only when the writer closes
 *       the file, or dies.
 *   R2. fsync D: every name of the batch is on disk, one flush for all.
 * The files stay empty and not ready, so readers skip them. The pool hands
 * them out in order (qfile_pool_take); the commit then writes, marks ready
 * and fsyncs the file alone (qfile.c, A1-A3).
 *
 * Crashes: in R1, a temp file ".tPID.N" may be left (swept by name once the
 * process is gone); after R1 and at any point later, unused reservations
 * are empty, unlocked files that are not ready (swept); nothing a reader
 * looks at. A reservation whose name did not survive a power loss (R2 not
 * finished) was never handed out: the pool takes files only after R2.
 *
 * Queue IDs: unique as any ID (time part never repeated by a process,
 * inode of a file that exists while the ID is in use); time-ordered up to
 * the age of the reservation, which the pool bounds: a batch older than
 * max_age seconds is thrown away (unlinked, no flush) instead of used, so
 * an ID never encodes a time more than max_age before the message's
 * arrival (cleanup's default: 2 s). Batch sizes adapt: the next batch is
 * twice the number of files used from the last one (at least 1, at most
 * max), so a quiet process makes single reservations (two flushes per
 * message, as without a pool) and a busy one makes max at a time.
 *
 * Hash directories: the batch's directory is that of an ID made for the
 * time of the batch, so successive batches spread over the directories
 * like single files do.
 *
 * Recycled files (qfile_pool_recycle; qfile_recycle.c): R1 takes a file
 * from recycle/ before it creates one. It opens the file, locks it
 * (F_OFD_SETLK: another cleanup that holds it, or took it a moment ago,
 * has the lock), checks that it is a regular file with one link, empty
 * and not ready, and renames it to D/ID with an ID made from its inode
 * and the time now, without replacing anything. The rename is the claim:
 * of two processes that opened the same name, the second finds it gone
 * (ENOENT) and goes on to the next. A file in recycle/ that is not empty,
 * is ready or has another link can only be what a power loss left (qmgr
 * empties files before they get there); it is moved to corrupt/, never
 * emptied or reused here. R2 is unchanged: the fsync of D makes the new
 * names durable before any of them is handed out. Unused reservations go
 * back to recycle/ instead of being removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/qfile.h"
#include "queue/qfile_int.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define QFILE_POOL_FIRST 4   /* size of a process's first batch */
#define QFILE_POOL_TRIES 100 /* name clashes before giving up */

struct qfile_pool {
    char *queue;
    mode_t mode;
    int max;             /* largest batch */
    long max_age;        /* seconds a batch may wait */
    qfile_out_t **slots; /* the batch; taken ones are NULL */
    int count;           /* files in the batch */
    int next;            /* next one to hand out */
    int want;            /* size of the next batch */
    time_t made;         /* when the batch was made */
    int recycle;         /* take files from recycle/ first */
    DIR *recycled;       /* recycle/ while a batch is made */
};

/* qfile_pool_create - an empty pool */
qfile_pool_t *qfile_pool_create(const char *queue, mode_t mode, int max, long max_age)
{
    qfile_pool_t *p = mr_calloc(1, sizeof(*p));

    p->queue = mr_strdup(queue);
    p->mode = mode & ~(mode_t)QFILE_READY_BIT;
    p->max = max < 1 ? 1 : max;
    p->max_age = max_age;
    p->slots = mr_calloc((size_t)p->max, sizeof(*p->slots));
    p->want = QFILE_POOL_FIRST < p->max ? QFILE_POOL_FIRST : p->max;
    return p;
}

/* qfile_pool_return - put an unused reservation back into recycle/ (it
 * is empty and not ready); 0 done, -1 not */
static int qfile_pool_return(qfile_out_t *qo)
{
    str_t *to = str_new(100);
    int ret;

    str_printf(to, "%s/%s", MAIL_QUEUE_RECYCLE, qo->id);
    ret = renameat2(AT_FDCWD, qo->tmp_abspath, AT_FDCWD, mail_queue_path(str_data(to)),
		    RENAME_NOREPLACE);
    str_free(&to);
    return ret;
}

/* qfile_pool_drop - put back or remove the files not handed out (no
 * flush needed: a removal lost in a crash leaves a reservation that the
 * sweep removes) */
static void qfile_pool_drop(qfile_pool_t *p)
{
    for (int i = p->next; i < p->count; i++) {
	if (p->recycle && qfile_pool_return(p->slots[i]) == 0)
	    p->slots[i]->committed = 1; /* not removed by the discard */
	qfile_discard(&p->slots[i]);
    }
    p->count = p->next = 0;
}

/* qfile_pool_stale - empty, or made too long ago */
static int qfile_pool_stale(const qfile_pool_t *p)
{
    return p->next >= p->count || time(NULL) - p->made > p->max_age;
}

/* qfile_lock - the writer's lock, held until the file is closed */
static int qfile_lock(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

    return fcntl(fd, F_OFD_SETLK, &fl);
}

/* qfile_reserve_name - R1 for a created, locked file: name it D/ID */
static int qfile_reserve_name(qfile_pool_t *p, int dfd, const char *tmp, int fd, const char *model,
			      char id[QID_BUFSIZE])
{
    struct stat st;

    if (fstat(fd, &st) < 0)
	return -1;
    qid_new_in(id, (unsigned long)st.st_ino, p->queue, model);
    if (renameat2(dfd, tmp, dfd, id, RENAME_NOREPLACE) == 0)
	return 0;
    if (errno != EINVAL)
	return -1;
    /* File system without RENAME_NOREPLACE: link refuses to replace. */
    return linkat(dfd, tmp, dfd, id, 0) == 0 ? unlinkat(dfd, tmp, 0) : -1;
}

/* qfile_reclaim_reject - move a recycled file that is not fit for reuse
 * to corrupt/, if name still is the file on fd */
static void qfile_reclaim_reject(int rfd, const char *name, const struct stat *st)
{
    str_t *to = str_new(100);
    struct stat now;

    if (fstatat(rfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_ino == st->st_ino &&
	now.st_dev == st->st_dev &&
	renameat2(rfd, name, AT_FDCWD, qfile_abspath(to, MAIL_QUEUE_CORRUPT, name),
		  RENAME_NOREPLACE) == 0)
	msg_warn("%s: recycled queue file not fit for reuse (%lld bytes, %lu links%s): moved to %s",
		 name, (long long)st->st_size, (unsigned long)st->st_nlink,
		 qfile_ready(st) ? ", ready" : "", MAIL_QUEUE_CORRUPT);
    str_free(&to);
}

/* qfile_reclaim - R1 with a file from recycle/: lock, check, name D/ID;
 * -1 when recycle/ has nothing (more) to give */
static int qfile_reclaim(qfile_pool_t *p, int dfd, const char *model, char id[QID_BUFSIZE])
{
    int rfd = dirfd(p->recycled);
    struct dirent *de;
    struct stat st;
    int fd;

    while ((de = readdir(p->recycled)) != NULL) {
	if (!qid_valid(de->d_name) ||
	    (fd = openat(rfd, de->d_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
	    continue;
	if (qfile_lock(fd) == 0 && fstat(fd, &st) == 0) {
	    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_size != 0 || qfile_ready(&st)) {
		qfile_reclaim_reject(rfd, de->d_name, &st);
	    } else if (((st.st_mode & 07777) == p->mode || fchmod(fd, p->mode) == 0)) {
		qid_new_in(id, (unsigned long)st.st_ino, p->queue, model);
		if (renameat2(rfd, de->d_name, dfd, id, RENAME_NOREPLACE) == 0)
		    return fd;
	    }
	}
	close(fd);
    }
    return -1;
}

/* qfile_reserved - the writer's handle on a reservation named dir/id
 * (mode: its permissions when known, else 0) */
static qfile_out_t *qfile_reserved(qfile_pool_t *p, int fd, const char *dir, const char *id,
				   mode_t mode)
{
    str_t *path = str_new(100);
    qfile_out_t *qo;

    str_printf(path, "%s/%s", dir, id);
    qo = qfile_out_new(fd, p->queue, str_data(path));
    memcpy(qo->id, id, sizeof(qo->id));
    qo->mode = mode;
    qo->home = mr_strdup(p->queue);
    str_free(&path);
    return qo;
}

/* qfile_reserve_new - R1 with a new file: create, lock, name D/ID */
static int qfile_reserve_new(qfile_pool_t *p, int dfd, const char *dir, const char *model,
			     char id[QID_BUFSIZE], const char **error_r)
{
    str_t *tmp = str_new(32);
    str_t *path = str_new(100);
    int fd = -1, clash;

    for (int i = 0; i < QFILE_POOL_TRIES; i++) {
	qfile_temp_name(tmp);
	str_printf(path, "%s/%s", dir, str_data(tmp));
	fd =
	    openat(dfd, str_data(tmp), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, p->mode);
	if (fd < 0 && errno == EEXIST)
	    continue;
	if (fd >= 0 && qfile_lock(fd) == 0 &&
	    qfile_reserve_name(p, dfd, str_data(tmp), fd, model, id) == 0)
	    break;
	clash = fd >= 0 && errno == EEXIST;
	qfile_fail(error_r, "reserve queue file", str_data(path));
	if (fd >= 0) {
	    (void)unlinkat(dfd, str_data(tmp), 0);
	    close(fd);
	}
	fd = -1;
	if (!clash)
	    break;
    }
    str_free(&tmp);
    str_free(&path);
    return fd;
}

/* qfile_reserve_one - R1: one reserved file in dir (absolute), recycled
 * while recycle/ has one, else new */
static qfile_out_t *qfile_reserve_one(qfile_pool_t *p, int dfd, const char *dir, const char *model,
				      const char **error_r)
{
    char id[QID_BUFSIZE];
    int fd = -1;

    if (p->recycled && (fd = qfile_reclaim(p, dfd, model, id)) < 0) {
	closedir(p->recycled); /* nothing (more) there: create the rest */
	p->recycled = NULL;
    }
    if (fd >= 0)
	return qfile_reserved(p, fd, dir, id, p->mode); /* qfile_reclaim set it */
    if ((fd = qfile_reserve_new(p, dfd, dir, model, id, error_r)) < 0)
	return NULL;
    return qfile_reserved(p, fd, dir, id, 0); /* created: the umask had a say */
}

/* qfile_pool_dir - the batch's directory (made if missing), opened */
static int qfile_pool_dir(qfile_pool_t *p, str_t *dir, char model[QID_BUFSIZE],
			  const char **error_r)
{
    str_t *path = str_new(100);
    int dfd = -1;

    qid_new(model, (unsigned long)getpid());
    qfile_abspath(path, p->queue, model);
    str_reset(dir);
    str_append(dir, str_data(path), (size_t)(strrchr(str_data(path), '/') - str_data(path)));
    if (qfile_mkdirs(str_data(path)) < 0)
	qfile_fail(error_r, "create directory", str_data(dir));
    else if ((dfd = open(str_data(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
	qfile_fail(error_r, "open", str_data(dir));
    str_free(&path);
    return dfd;
}

/* qfile_pool_batch - R1 for each file, then R2 */
static int qfile_pool_batch(qfile_pool_t *p, const char **error_r)
{
    str_t *dir = str_new(100);
    char model[QID_BUFSIZE];
    int dfd, n = 0;

    if ((dfd = qfile_pool_dir(p, dir, model, error_r)) >= 0) {
	if (p->recycle)
	    p->recycled = opendir(mail_queue_path(MAIL_QUEUE_RECYCLE));
	while (n < p->want &&
	       (p->slots[n] = qfile_reserve_one(p, dfd, str_data(dir), model, error_r)) != NULL)
	    n++;
	if (n == p->want && fsync(dfd) < 0)
	    qfile_fail(error_r, "fsync", str_data(dir));
	else if (n == p->want) {
	    p->count = n;
	    p->made = time(NULL);
	}
	if (p->recycled)
	    closedir(p->recycled);
	p->recycled = NULL;
	close(dfd);
    }
    if (p->count == 0)
	for (int i = 0; i < n; i++)
	    qfile_discard(&p->slots[i]);
    str_free(&dir);
    return p->count > 0 ? 0 : -1;
}

/* qfile_pool_fill - a new batch if the pool is empty or stale */
int qfile_pool_fill(qfile_pool_t *p, const char **error_r)
{
    int used = p->next;

    if (!qfile_pool_stale(p))
	return 0;
    if (p->count > 0)
	p->want = 2 * used < 1 ? 1 : 2 * used > p->max ? p->max : 2 * used;
    qfile_pool_drop(p);
    return qfile_pool_batch(p, error_r);
}

/* qfile_pool_take - hand out the next reservation */
qfile_out_t *qfile_pool_take(qfile_pool_t *p, const char **error_r)
{
    qfile_out_t *qo;

    if (qfile_pool_fill(p, error_r) < 0)
	return NULL;
    qo = p->slots[p->next];
    p->slots[p->next++] = NULL;
    return qo;
}

/* qfile_pool_recycle - use recycle/ or not */
void qfile_pool_recycle(qfile_pool_t *p, int on)
{
    p->recycle = on;
}

/* qfile_pool_free - drop what is left, free */
void qfile_pool_free(qfile_pool_t **pp)
{
    qfile_pool_t *p = *pp;

    if (p == NULL)
	return;
    qfile_pool_drop(p);
    mr_free(p->slots);
    mr_free(p->queue);
    mr_free(p);
    *pp = NULL;
}
