/*
 * store.c - a Maildir mailbox with a UID index (see store.h for the file
 * format and the rules).
 *
 * Why the index cannot lose a UID or a flag, step by step (all under the
 * exclusive flock on mailroom.index.lock, which every writer takes):
 *   1. bring the copy in memory up to date with the disk (the other
 *      session may have changed it since): when the index file is still
 *      the one this session read (same inode, not shorter), read only the
 *      transactions appended since; else read the whole file;
 *   2. for a sync: list cur/, and move every file of new/ to cur/NAME:2,
 *      (a delivery renames into new/ after its fsync, so a file there is
 *      complete); a flag change lists nothing (the file names it renames
 *      are in the index; a rename made meanwhile by another program is
 *      followed, see rename_flags);
 *   3. a listed file keeps the UID the index gives its base name; a file
 *      the index does not know gets NEXTUID, which then grows; an index
 *      entry whose file is gone is dropped (expunged by someone); each
 *      change is written into one transaction text (st->txn);
 *   4. append the transaction at the end of what step 1 read (cutting
 *      off first a transaction a crashed writer left unfinished) and
 *      fdatasync; or, when the index was rebuilt, is of an earlier format
 *      or its changes have outgrown its snapshot, write the whole index
 *      to mailroom.index.tmp, fsync, rename over the index, fsync the
 *      directory; then unlock.
 * A crash before 4 ends leaves the old index (a transaction cut short has
 * no commit line or a wrong CRC and is ignored): files moved to cur/ in 2
 * get their UIDs at the next sync, from the same NEXTUID, so no UID is
 * handed out twice to two different files. Deliveries take no lock: they
 * only add files to new/, which the next sync picks up.
 * Weak spot: an index that is deleted or damaged is rebuilt with a new
 * UIDVALIDITY, so clients re-download (that is what UIDVALIDITY is for).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"

#define STORE_FLAG_LETTERS STORE_SYSTEM_LETTERS "abcdefghijklmnopqrstuvwxyz"

unsigned long store_message_opens;
size_t store_index_log_min = 65536;
static char store_err[512];

/* store_fail - see store_int.h */
int store_fail(const char **error_r, const char *fmt, const char *arg, int err)
{
    snprintf(store_err, sizeof(store_err), fmt, arg, strerror(err));
    *error_r = store_err;
    errno = err;
    return -1;
}

/* store_path - see store_int.h */
char *store_path(const store_t *st, const char *a, const char *b)
{
    return b ? mr_format("%s/%s/%s", st->dir, a, b) : mr_format("%s/%s", st->dir, a);
}

/* store_flags_normal - see store_int.h */
void store_flags_normal(const char *in, char out[STORE_FLAGS_SIZE])
{
    unsigned char seen[128] = {0};
    size_t n = 0;

    for (const unsigned char *cp = (const unsigned char *)in; *cp; cp++)
	if (*cp < 128)
	    seen[*cp] = 1;
    for (const char *l = STORE_FLAG_LETTERS; *l; l++)
	if (seen[(unsigned char)*l])
	    out[n++] = *l;
    out[n] = 0;
}

/* store_name_ok - see store_int.h */
int store_name_ok(const char *name)
{
    size_t len = strlen(name);

    return len > 0 && len <= STORE_MAX_NAME && name[0] != '.' && !strchr(name, '/') &&
	   !strchr(name, ' ') && !strchr(name, '\n');
}

/* name_field - the number after ",X=" in base, or -1 */
static off_t name_field(const char *base, char key)
{
    for (const char *cp = strchr(base, ','); cp; cp = strchr(cp + 1, ',')) {
	if (cp[1] == key && cp[2] == '=' && cp[3] >= '0' && cp[3] <= '9') {
	    char *end;
	    long long v = strtoll(cp + 3, &end, 10);

	    if ((*end == 0 || *end == ',') && v >= 0)
		return (off_t)v;
	}
    }
    return -1;
}

/* store_open_message - open a message file for reading: no symbolic
 * link, a regular file; unlike safe_open_read, a file with more than one
 * hard link is fine (Dovecot copies messages between folders with
 * link(2), and the store runs as the mailbox's owner). fd or -1 */
static int store_open_message(const char *path, const char **error_r)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;

    store_message_opens++;
    if (fd < 0)
	return store_fail(error_r, "open %s: %s", path, errno);
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
	close(fd);
	return store_fail(error_r, "open %s: %s", path, EINVAL);
    }
    return fd;
}

/* vsize_copy - read in to its end, writing it to out unless out is -1;
 * the size with every bare LF counted as CRLF (-1 on error), and in
 * *size_r (if not NULL) the bytes read */
static off_t vsize_copy(int in, int out, off_t *size_r)
{
    char buf[65536];
    off_t total = 0, bytes = 0;
    int prev = 0;
    ssize_t n;

    while ((n = read(in, buf, sizeof(buf))) != 0) {
	if (n < 0) {
	    if (errno == EINTR)
		continue;
	    return -1;
	}
	for (ssize_t i = 0; i < n; i++) {
	    if (buf[i] == '\n' && prev != '\r')
		total++;
	    prev = (unsigned char)buf[i];
	}
	total += n;
	bytes += n;
	if (out >= 0 && write_all(out, buf, (size_t)n) < 0)
	    return -1;
    }
    if (size_r)
	*size_r = bytes;
    return total;
}

/* store_vsize - size with bare LFs counted as CRLF */
off_t store_vsize(int fd)
{
    return vsize_copy(fd, -1, NULL);
}

/* cur_add - see store_int.h */
cur_file_t *cur_add(cur_list_t *cl, const char *base, size_t len)
{
    cur_file_t *f;

    if (cl->n == cl->cap) {
	cl->cap = cl->cap ? cl->cap * 2 : 64;
	cl->v = mr_reallocarray(cl->v, cl->cap, sizeof(*cl->v));
    }
    f = &cl->v[cl->n++];
    memset(f, 0, sizeof(*f));
    f->base = mr_strndup(base, len);
    f->size = f->vsize = -1;
    return f;
}

/* cur_add_name - remember a file of cur/ (name split at ":2,") */
static void cur_add_name(cur_list_t *cl, const char *name)
{
    const char *info = strstr(name, ":2,");
    cur_file_t *f = cur_add(cl, name, info ? (size_t)(info - name) : strlen(name));

    store_flags_normal(info ? info + 3 : "", f->flags);
}

/* cur_free - see store_int.h */
void cur_free(cur_list_t *cl)
{
    for (size_t i = 0; i < cl->n; i++)
	mr_free(cl->v[i].base);
    mr_free(cl->v);
    cl->v = NULL;
    cl->n = cl->cap = 0;
}

/* cur_cmp - order by base name */
static int cur_cmp(const void *a, const void *b)
{
    return strcmp(((const cur_file_t *)a)->base, ((const cur_file_t *)b)->base);
}

/* cur_time_cmp - order of arrival: leading seconds, then the name; in an
 * mbox, the order in the file */
static int cur_time_cmp(const void *a, const void *b)
{
    const cur_file_t *x = *(cur_file_t *const *)a, *y = *(cur_file_t *const *)b;
    unsigned long long tx = strtoull(x->base, NULL, 10), ty = strtoull(y->base, NULL, 10);

    if (x->size >= 0 && y->size >= 0)
	return x->offset < y->offset ? -1 : x->offset > y->offset;
    return tx < ty ? -1 : tx > ty ? 1 : strcmp(x->base, y->base);
}

/* cur_lookup - the listed file with this base, or NULL */
static cur_file_t *cur_lookup(cur_list_t *cl, const char *base)
{
    cur_file_t key = {.base = (char *)base};

    return cl->n ? bsearch(&key, cl->v, cl->n, sizeof(*cl->v), cur_cmp) : NULL;
}

/* cur_next - the listed file with this base, tried first at *hint (the
 * files sorted by name are mostly in the order of the index's UIDs, so
 * one comparison usually finds it), else looked up; *hint moves past it */
static cur_file_t *cur_next(cur_list_t *cl, size_t *hint, const char *base)
{
    cur_file_t *f;

    if (*hint < cl->n && strcmp(cl->v[*hint].base, base) == 0)
	f = &cl->v[*hint];
    else if ((f = cur_lookup(cl, base)) == 0)
	return NULL;
    *hint = (size_t)(f - cl->v) + 1;
    return f;
}

/* take_new - move every file of new/ to cur/NAME:2, */
static void take_new(const store_t *st)
{
    char *ndir = store_path(st, "new", NULL);
    DIR *d = opendir(ndir);
    struct dirent *de;

    if (d == 0) {
	msg_warn("store %s: open new/: %m", st->dir);
	mr_free(ndir);
	return;
    }
    while ((de = readdir(d)) != 0) {
	if (!store_name_ok(de->d_name) || strstr(de->d_name, ":2,"))
	    continue;
	char *from = store_path(st, "new", de->d_name);
	char *to = mr_format("%s/cur/%s:2,", st->dir, de->d_name);

	if (rename(from, to) < 0 && errno != ENOENT)
	    msg_warn("store %s: rename %s to cur/: %m", st->dir, de->d_name);
	mr_free(from);
	mr_free(to);
    }
    closedir(d);
    mr_free(ndir);
}

/* list_cur - list cur/ into cl, sorted by base; 0 ok, -1 error */
static int list_cur(const store_t *st, cur_list_t *cl, const char **error_r)
{
    char *cdir = store_path(st, "cur", NULL);
    DIR *d = opendir(cdir);
    struct dirent *de;

    mr_free(cdir);
    if (d == 0)
	return store_fail(error_r, "open %s/cur: %s", st->dir, errno);
    while ((de = readdir(d)) != 0)
	if (store_name_ok(de->d_name))
	    cur_add_name(cl, de->d_name);
    closedir(d);
    if (cl->n > 1)
	qsort(cl->v, cl->n, sizeof(*cl->v), cur_cmp);
    return 0;
}

/* read_from - the content of fd from offset to its end; NULL on a read
 * error or beyond the size any index may have */
static str_t *read_from(int fd, off_t offset)
{
    const size_t max = (size_t)STORE_MAX_MESSAGES * (STORE_MAX_NAME + 120);
    struct stat sb;
    str_t *text;
    char buf[65536];
    ssize_t n;

    if (fstat(fd, &sb) < 0 || sb.st_size < offset || (size_t)(sb.st_size - offset) > max)
	return NULL;
    text = str_new((size_t)(sb.st_size - offset) + 1);
    while ((n = pread(fd, buf, sizeof(buf), offset)) != 0) {
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0 || str_len(text) + (size_t)n > max) {
	    str_free(&text);
	    return NULL;
	}
	str_append(text, buf, (size_t)n);
	offset += n;
    }
    return text;
}

/* index_forget - close the index file: the next step reads it whole */
static void index_forget(store_t *st)
{
    if (st->index_fd >= 0)
	close(st->index_fd);
    st->index_fd = -1;
}

/* keep_head - remember the first line of index text (up to its LF), or
 * nothing when it does not fit with its NUL (a file the user wrote) */
static void keep_head(store_t *st, const char *text, size_t len)
{
    size_t room = sizeof(st->index_head) - 1;
    const char *lf = memchr(text, '\n', len < room ? len : room);
    size_t n = lf ? (size_t)(lf - text) + 1 : 0;

    memcpy(st->index_head, text, n);
    st->index_head[n] = 0;
}

/* same_head - does the index file still start with the line read? */
static int same_head(const store_t *st)
{
    char buf[sizeof(st->index_head)];
    size_t n = strlen(st->index_head);

    return n > 0 && pread(st->index_fd, buf, n, 0) == (ssize_t)n &&
	   memcmp(buf, st->index_head, n) == 0;
}

/* read_index - load the whole index into st (keeping the file open for
 * the next catch-up and append); 1 loaded, 0 missing, -1 corrupt */
static int read_index(store_t *st)
{
    char *path = store_path(st, STORE_INDEX_NAME, NULL);
    const char *err;
    int fd = safe_open(path, O_RDWR | O_CLOEXEC, 0, (uid_t)-1, &err);
    str_t *text;
    size_t end;
    int ret = -1;

    if (fd < 0 && errno == EACCES) /* a read-only file: replaced, not appended to */
	fd = safe_open(path, O_RDONLY | O_CLOEXEC, 0, (uid_t)-1, &err);
    mr_free(path);
    index_forget(st);
    store_index_clear(st);
    if (fd < 0)
	return errno == ENOENT ? 0 : -1;
    if ((text = read_from(fd, 0)) != 0)
	keep_head(st, str_data(text), str_len(text));
    if (text && store_index_parse(st, str_data(text), str_len(text), &end) == 0) {
	st->index_fd = fd;
	st->index_end = end;
	ret = 1;
    }
    if (ret < 0)
	close(fd);
    str_free(&text);
    return ret;
}

/* index_catch_up - apply to st what other sessions appended to its index
 * file since st read it; 1 done (st is current), 0 the whole index must
 * be read (replaced, shortened, corrupt, or never read) */
static int index_catch_up(store_t *st)
{
    char *path;
    struct stat now, ours;
    str_t *text;
    size_t n;
    int same;

    if (st->rebuilt || str_len(st->txn) > 0)
	return 1; /* changed in memory under the lock we still hold */
    if (st->index_fd < 0 || st->index_format != 3 || fstat(st->index_fd, &ours) < 0)
	return 0;
    path = store_path(st, STORE_INDEX_NAME, NULL);
    same = lstat(path, &now) == 0 && now.st_ino == ours.st_ino && now.st_dev == ours.st_dev &&
	   (size_t)ours.st_size >= st->index_end && same_head(st);
    mr_free(path);
    if (!same)
	return 0;
    if ((size_t)ours.st_size == st->index_end)
	return 1;
    if ((text = read_from(st->index_fd, (off_t)st->index_end)) == 0 ||
	store_index_replay(st, str_data(text), str_len(text), &n) < 0) {
	str_free(&text);
	return 0;
    }
    st->index_end += n;
    str_free(&text);
    return 1;
}

/* store_replace_file - see store_int.h */
int store_replace_file(const char *path, const char *tmp, const void *data, size_t len,
		       const char **error_r)
{
    const char *err;
    int fd, ret = -1;

    (void)unlink(tmp); /* a crashed writer's leftover; the caller holds the lock */
    if ((fd = safe_open(tmp, O_WRONLY | O_CREAT, 0600, (uid_t)-1, &err)) < 0)
	store_fail(error_r, "create %s: %s", tmp, errno);
    else if (write_all(fd, data, len) < 0 || fsync(fd) < 0)
	store_fail(error_r, "write %s: %s", tmp, errno);
    else if (rename(tmp, path) < 0)
	store_fail(error_r, "rename %s: %s", tmp, errno);
    else
	ret = fsync_dir(path) < 0
		  ? store_fail(error_r, "fsync the directory of %s: %s", path, errno)
		  : 0;
    if (fd >= 0)
	close(fd);
    if (ret < 0)
	(void)unlink(tmp);
    return ret;
}

/* write_index - write st's whole index: temporary file, fsync, rename,
 * fsync the directory; then keep the new file open for appends. 0 ok, -1
 * error */
static int write_index(store_t *st, const char **error_r)
{
    char *tmp = store_path(st, STORE_INDEX_NAME ".tmp", NULL);
    char *path = store_path(st, STORE_INDEX_NAME, NULL);
    str_t *text = str_new(64 + st->count * 80);
    const char *err;
    int ret;

    index_forget(st);
    store_index_format(st, text);
    ret = store_replace_file(path, tmp, str_data(text), str_len(text), error_r);
    if (ret == 0 && (st->index_fd = safe_open(path, O_RDWR | O_CLOEXEC, 0, (uid_t)-1, &err)) >= 0) {
	st->index_format = 3;
	st->index_snapshot = st->index_end = str_len(text);
	keep_head(st, str_data(text), str_len(text));
    }
    mr_free(tmp);
    mr_free(path);
    str_free(&text);
    return ret;
}

/* append_txn - append st->txn (committed) where st's index ends, after
 * cutting off what a crashed writer left beyond that; fdatasync. 0 ok,
 * -1 error (the file is cut back) */
static int append_txn(store_t *st, const char **error_r)
{
    off_t end = (off_t)st->index_end;
    struct stat sb;

    if (fstat(st->index_fd, &sb) < 0)
	return store_fail(error_r, "stat %s: %s", STORE_INDEX_NAME, errno);
    if (sb.st_size > end) {
	msg_warn("store %s: index %s: %lld bytes of an unfinished change cut off", st->dir,
		 STORE_INDEX_NAME, (long long)(sb.st_size - end));
	if (ftruncate(st->index_fd, end) < 0)
	    return store_fail(error_r, "truncate %s: %s", STORE_INDEX_NAME, errno);
    }
    if (pwrite_all(st->index_fd, str_data(st->txn), str_len(st->txn), end) < 0 ||
	fdatasync(st->index_fd) < 0) {
	store_fail(error_r, "write %s: %s", STORE_INDEX_NAME, errno);
	(void)ftruncate(st->index_fd, end);
	return -1;
    }
    st->index_end += str_len(st->txn);
    return 0;
}

/* index_commit - make the changes of this step durable: appended as one
 * transaction, or the whole index written (rebuilt, an earlier format,
 * changes past a quarter of the snapshot and store_index_log_min, or an append
 * that failed). On an error the copy in memory is ahead of the disk, so
 * the next step reads the index whole. 0 ok, -1 error */
static int index_commit(store_t *st, const char **error_r)
{
    size_t log = st->index_end - st->index_snapshot + str_len(st->txn);
    int ret = -1;

    if (st->index_fd >= 0 && st->index_format == 3 && !st->rebuilt &&
	(log <= store_index_log_min || log <= st->index_snapshot / 4)) {
	store_txn_commit(st->txn, st);
	ret = append_txn(st, error_r);
    }
    if (ret < 0)
	ret = write_index(st, error_r);
    if (ret < 0)
	index_forget(st);
    str_reset(st->txn);
    st->rebuilt = 0;
    return ret;
}

/* file_sizes - fill m->size and m->vsize from the name or the file */
static void file_sizes(const store_t *st, store_msg_t *m, const char *flags)
{
    char *path;
    const char *err;
    struct stat sb;
    int fd;

    m->size = name_field(m->base, 'S');
    m->vsize = name_field(m->base, 'W');
    if (m->size >= 0 && m->vsize >= m->size)
	return;
    path = mr_format("%s/cur/%s:2,%s", st->dir, m->base, flags);
    if ((fd = store_open_message(path, &err)) < 0) {
	m->size = m->vsize = 0; /* gone meanwhile: dropped at the next sync */
    } else {
	m->size = fstat(fd, &sb) == 0 ? sb.st_size : 0;
	m->vsize = store_vsize(fd);
	if (m->vsize < m->size)
	    m->vsize = m->size;
	close(fd);
    }
    mr_free(path);
}

/* merge_old - keep the index entries whose file is still there (flags as
 * the file says; a change gets a new modseq), moved down in st->msgs to
 * st->msgs[0..*n); forget the others as expunged, all at one new modseq;
 * returns 1 when anything changed */
static int merge_old(store_t *st, cur_list_t *cl, size_t *n)
{
    store_msg_t *out = st->msgs;
    unsigned long long gone_modseq = 0;
    size_t hint = 0;
    int changed = 0;

    for (size_t i = 0; i < st->count; i++) {
	store_msg_t *m = &st->msgs[i];
	cur_file_t *f = cur_next(cl, &hint, m->base);

	if (f == 0 || f->used) {
	    if (gone_modseq == 0)
		gone_modseq = ++st->highest_modseq;
	    store_expunged_add(st, m->uid, gone_modseq);
	    store_txn_gone(st->txn, m->uid, gone_modseq);
	    st->quota_bytes -= m->size;
	    st->quota_count--;
	    mr_free(m->base);
	    changed = 1;
	    continue;
	}
	f->used = 1;
	if (*n != i)
	    out[*n] = *m; /* *n < i: an entry already looked at */
	if (strcmp(out[*n].flags, f->flags) != 0) {
	    memcpy(out[*n].flags, f->flags, sizeof(f->flags));
	    out[*n].modseq = ++st->highest_modseq;
	    store_txn_flags(st->txn, &out[*n]);
	    changed = 1;
	}
	out[*n].offset = f->offset;
	out[(*n)++].raw_size = f->raw_size;
    }
    return changed;
}

/* merge_new - give the files the index does not know the next UIDs, in
 * order of arrival, at the end of st->msgs[0..*n); returns 1 when there
 * were any */
static int merge_new(store_t *st, cur_list_t *cl, size_t *n)
{
    cur_file_t **fresh = mr_calloc(cl->n + 1, sizeof(*fresh));
    size_t nfresh = 0;

    for (size_t i = 0; i < cl->n; i++)
	if (!cl->v[i].used)
	    fresh[nfresh++] = &cl->v[i];
    if (nfresh > 1)
	qsort(fresh, nfresh, sizeof(*fresh), cur_time_cmp);
    if (*n + nfresh > st->msgs_cap) {
	st->msgs_cap = *n + nfresh;
	st->msgs = mr_reallocarray(st->msgs, st->msgs_cap, sizeof(*st->msgs));
    }
    for (size_t i = 0; i < nfresh; i++) {
	store_msg_t *m = &st->msgs[(*n)++];
	cur_file_t *f = fresh[i];

	memset(m, 0, sizeof(*m));
	m->uid = st->next_uid++;
	m->base = mr_strdup(f->base);
	m->modseq = ++st->highest_modseq;
	memcpy(m->flags, f->flags, sizeof(f->flags));
	m->offset = f->offset;
	m->raw_size = f->raw_size;
	if (f->size >= 0) {
	    m->size = f->size;
	    m->vsize = f->vsize;
	} else {
	    file_sizes(st, m, f->flags);
	}
	st->quota_bytes += m->size;
	st->quota_count++;
	if (!st->rebuilt) /* else the whole index is written */
	    store_txn_new(st->txn, m);
    }
    mr_free(fresh);
    return nfresh > 0;
}

/* merge - the message array from the index and the listed files, made
 * in place; returns 1 when anything changed */
static int merge(store_t *st, cur_list_t *cl)
{
    size_t n = 0;
    int changed = merge_old(st, cl, &n);

    st->count = n;
    changed |= merge_new(st, cl, &n);
    st->count = n;
    return changed;
}

/* store_lock - see store_int.h */
int store_lock(store_t *st, const char **error_r)
{
    while (flock(st->lock_fd, LOCK_EX) < 0)
	if (errno != EINTR)
	    return store_fail(error_r, "lock %s: %s", st->dir, errno);
    return 0;
}

/* store_unlock - see store_int.h */
void store_unlock(store_t *st)
{
    (void)flock(st->lock_fd, LOCK_UN);
}

/* load_or_rebuild - read the index; start a new one (new UIDVALIDITY,
 * logged) when it is missing or corrupt; returns 1 when rebuilt */
static int load_or_rebuild(store_t *st)
{
    unsigned long old_validity = st->uidvalidity;
    int r;

    if (index_catch_up(st))
	return 0;
    str_reset(st->txn); /* made against the copy now replaced */
    st->quota_bytes = 0;
    st->quota_count = 0;
    if ((r = read_index(st)) > 0)
	return 0;
    store_index_clear(st);
    st->uidvalidity = (unsigned long)time(NULL);
    if (st->uidvalidity <= old_validity)
	st->uidvalidity = old_validity + 1;
    st->next_uid = 1;
    st->highest_modseq = 1;
    st->forgotten = 0;
    if (r < 0)
	msg_warn("store %s: index %s is corrupt: rebuilt from the %s, new UIDVALIDITY %lu", st->dir,
		 STORE_INDEX_NAME, st->mbox ? "mbox" : "Maildir", st->uidvalidity);
    else
	msg_info("store %s: no index: built from the %s, UIDVALIDITY %lu", st->dir,
		 st->mbox ? "mbox" : "Maildir", st->uidvalidity);
    return 1;
}

/* begin_locked - start a step under the lock: no changes yet. A store_t
 * that store_mbox.c made with mr_calloc gets its index state here. */
static void begin_locked(store_t *st)
{
    if (st->txn == 0) {
	st->txn = str_new(256);
	st->index_fd = -1;
    }
    str_reset(st->txn);
    st->rebuilt = 0;
    st->quota_bytes = 0;
    st->quota_count = 0;
}

/* lock_begin - store_lock and begin_locked; 0 ok, -1 error */
static int lock_begin(store_t *st, const char **error_r)
{
    if (store_lock(st, error_r) < 0)
	return -1;
    begin_locked(st);
    return 0;
}

/* refresh_locked - steps 1-3 of the header: the index from disk merged
 * with the files now there, the changes in st->txn. The caller holds the
 * lock (lock_begin). 0 ok, -1 error */
static int refresh_locked(store_t *st, const char **error_r)
{
    cur_list_t cl = {0};
    int r = 0;

    st->rebuilt |= load_or_rebuild(st);
    if (st->mbox) {
	r = store_mbox_scan(st, &cl, error_r);
    } else {
	store_keywords_load(st);
	take_new(st);
	r = list_cur(st, &cl, error_r);
    }
    if (r < 0) {
	cur_free(&cl);
	return -1;
    }
    (void)merge(st, &cl);
    cur_free(&cl);
    return 0;
}

/* sync_locked - steps 1-4 of the header; the caller holds the lock */
static int sync_locked(store_t *st, const char **error_r)
{
    int rebuilt;

    if (refresh_locked(st, error_r) < 0)
	return -1;
    rebuilt = st->rebuilt;
    if ((str_len(st->txn) > 0 || rebuilt) && index_commit(st, error_r) < 0)
	return -1;
    st->rebuilt = rebuilt; /* for store_quota_apply and the caller */
    store_quota_apply(st);
    return 0;
}

/* store_sync - see store.h */
int store_sync(store_t *st, const char **error_r)
{
    int ret;

    if (lock_begin(st, error_r) < 0)
	return -1;
    ret = sync_locked(st, error_r);
    store_unlock(st);
    return ret;
}

/* make_parents - create the missing parent directories of dir (0700) */
static int make_parents(const char *dir, const char **error_r)
{
    char *path = mr_strdup(dir);
    int ret = 0;

    for (char *cp = strchr(path + 1, '/'); cp && ret == 0; cp = strchr(cp + 1, '/')) {
	*cp = 0;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
	    ret = store_fail(error_r, "mkdir %s: %s", path, errno);
	*cp = '/';
    }
    mr_free(path);
    return ret;
}

/* store_make_maildir - see store_int.h */
int store_make_maildir(const char *dir, const char **error_r)
{
    const char *subs[] = {"", "/tmp", "/new", "/cur"};
    struct stat sb;

    if (stat(dir, &sb) < 0 && make_parents(dir, error_r) < 0)
	return -1;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
	char *path = mr_format("%s%s", dir, subs[i]);
	int r = mkdir(path, 0700);

	mr_free(path);
	if (r < 0 && errno != EEXIST)
	    return store_fail(error_r, "mkdir %s: %s", dir, errno);
    }
    return 0;
}

/* maildir_root - the user's Maildir that holds folder dir: its parent
 * when dir's last name starts with '.' and the parent is a Maildir (has
 * cur/), else dir itself */
static char *maildir_root(const char *dir)
{
    const char *slash = strrchr(dir, '/');
    struct stat sb;
    char *parent, *cur;
    int folder;

    if (slash == 0 || slash[1] != '.' || slash == dir)
	return mr_strdup(dir);
    parent = mr_strndup(dir, (size_t)(slash - dir));
    cur = mr_format("%s/cur", parent);
    folder = stat(cur, &sb) == 0 && S_ISDIR(sb.st_mode);
    mr_free(cur);
    if (folder)
	return parent;
    mr_free(parent);
    return mr_strdup(dir);
}

/* store_mark_folder - see store_int.h */
void store_mark_folder(const char *dir)
{
    char *path = mr_format("%s/maildirfolder", dir);
    const char *err;
    int fd = safe_open(path, O_WRONLY | O_CREAT | SAFE_OPEN_MAY_EXIST, 0600, (uid_t)-1, &err);

    if (fd >= 0)
	close(fd);
    mr_free(path);
}

/* store_new - a store_t for dir with its lock file open, or NULL */
static store_t *store_new(const char *dir, const char **error_r)
{
    store_t *st = mr_calloc(1, sizeof(*st));
    char *lock;

    st->dir = mr_strdup(dir);
    st->root = maildir_root(dir);
    st->txn = str_new(256);
    st->index_fd = -1;
    lock = store_path(st, STORE_LOCK_NAME, NULL);
    st->lock_fd = safe_open(lock, O_RDWR | O_CREAT | SAFE_OPEN_MAY_EXIST | O_CLOEXEC, 0600,
			    (uid_t)-1, error_r);
    mr_free(lock);
    if (st->lock_fd < 0)
	store_close(&st);
    return st;
}

/* special_init - store_special_init under the Maildir's lock; a failure
 * is logged, not fatal (the mailbox itself is fine) */
static int special_init(store_t *st, const char **error_r)
{
    const char *err;

    if (store_lock(st, error_r) < 0)
	return -1;
    if (store_special_init(st->dir, &err) < 0)
	msg_warn("store %s: SPECIAL-USE folders: %s", st->dir, err);
    store_unlock(st);
    return 0;
}

/* store_open - see store.h */
int store_open(const char *dir, store_t **store_r, const char **error_r)
{
    store_t *st;

    if (store_make_maildir(dir, error_r) < 0 || (st = store_new(dir, error_r)) == 0)
	return -1;
    if (strcmp(st->root, st->dir) != 0)
	store_mark_folder(st->dir);
    else if (special_init(st, error_r) < 0) {
	store_close(&st);
	return -1;
    }
    if (store_sync(st, error_r) < 0) {
	store_close(&st);
	return -1;
    }
    *store_r = st;
    return 0;
}

/* store_find - see store.h */
long store_find(const store_t *st, unsigned long uid)
{
    size_t lo = 0, hi = st->count;

    while (lo < hi) {
	size_t mid = lo + (hi - lo) / 2;

	if (st->msgs[mid].uid == uid)
	    return (long)mid;
	if (st->msgs[mid].uid < uid)
	    lo = mid + 1;
	else
	    hi = mid;
    }
    return -1;
}

/* current_name - the name in cur/ of base now (flags may have changed
 * since the last sync); mr_alloc'd, or NULL when gone */
static char *current_name(const store_t *st, const store_msg_t *m)
{
    char *path = mr_format("%s/cur/%s:2,%s", st->dir, m->base, m->flags);
    cur_list_t cl = {0};
    const char *err;
    cur_file_t *f;
    struct stat sb;
    char *name = NULL;

    if (lstat(path, &sb) == 0) {
	mr_free(path);
	return mr_format("%s:2,%s", m->base, m->flags);
    }
    mr_free(path);
    if (list_cur(st, &cl, &err) == 0 && (f = cur_lookup(&cl, m->base)) != 0)
	name = mr_format("%s:2,%s", f->base, f->flags);
    cur_free(&cl);
    return name;
}

/* store_msg_open - see store.h */
int store_msg_open(store_t *st, unsigned long uid, const char **error_r)
{
    long i = store_find(st, uid);
    char *name, *path;
    int fd;

    if (i >= 0 && st->mbox)
	return store_mbox_msg_open(st, &st->msgs[i], error_r);
    if (i < 0 || (name = current_name(st, &st->msgs[i])) == 0)
	return store_fail(error_r, "message %s: %s", "gone", ENOENT);
    path = store_path(st, "cur", name);
    fd = store_open_message(path, error_r);
    mr_free(path);
    mr_free(name);
    return fd;
}

/* flags_apply - the flags after op with letters */
static void flags_apply(const char *old, store_flags_op_t op, const char *letters,
			char out[STORE_FLAGS_SIZE])
{
    char tmp[2 * STORE_FLAGS_SIZE];
    size_t n = 0;

    if (op == STORE_FLAGS_REMOVE) {
	for (const char *cp = old; *cp; cp++)
	    if (!strchr(letters, *cp))
		tmp[n++] = *cp;
	tmp[n] = 0;
    } else {
	snprintf(tmp, sizeof(tmp), "%s%.*s", op == STORE_FLAGS_ADD ? old : "", STORE_FLAGS_SIZE - 1,
		 letters);
    }
    store_flags_normal(tmp, out);
}

/* rename_flags - give m's file the flags in want, following a rename made
 * meanwhile by a program that does not take our lock; 1 done, 0 gone,
 * -1 error */
static int rename_flags(store_t *st, store_msg_t *m, store_flags_op_t op, const char *letters,
			char want[STORE_FLAGS_SIZE], const char **error_r)
{
    for (int attempt = 0; attempt < 2; attempt++) {
	char *from = mr_format("%s/cur/%s:2,%s", st->dir, m->base, m->flags);
	char *to = mr_format("%s/cur/%s:2,%s", st->dir, m->base, want);
	int r = rename(from, to);

	mr_free(from);
	mr_free(to);
	if (r == 0)
	    return 1;
	if (errno != ENOENT)
	    return store_fail(error_r, "rename in %s/cur: %s", st->dir, errno);
	char *now = current_name(st, m), *info;

	if (now == 0)
	    return 0;
	info = strstr(now, ":2,");
	store_flags_normal(info ? info + 3 : "", m->flags);
	flags_apply(m->flags, op, letters, want);
	mr_free(now);
    }
    return store_fail(error_r, "rename in %s/cur: %s", st->dir, EAGAIN);
}

/* change_one - apply op to message m; 1 changed, 0 not, -1 error */
static int change_one(store_t *st, store_msg_t *m, store_flags_op_t op, const char *letters,
		      const char **error_r)
{
    char want[STORE_FLAGS_SIZE];
    int r;

    flags_apply(m->flags, op, letters, want);
    if (strcmp(want, m->flags) == 0)
	return 0;
    if ((r = rename_flags(st, m, op, letters, want, error_r)) <= 0)
	return r;
    memcpy(m->flags, want, sizeof(want));
    m->modseq = ++st->highest_modseq;
    store_txn_flags(st->txn, m);
    return 1;
}

/* change_locked - the loop of store_change_flags; under the lock */
static long change_locked(store_t *st, const unsigned long *uids, size_t count, store_flags_op_t op,
			  const char *letters, unsigned long long unchangedsince,
			  unsigned long *modified_r, size_t *nmodified_r, const char **error_r)
{
    long done = 0;
    int r = 0;

    /* step 1 of the header, and steps 2-3 only for an index that had to
     * be rebuilt: the files need no listing to change their flags */
    if (!index_catch_up(st) && (st->rebuilt = load_or_rebuild(st)) &&
	refresh_locked(st, error_r) < 0)
	return -1;
    for (size_t k = 0; k < count && r >= 0; k++) {
	long i = store_find(st, uids[k]);

	if (i < 0)
	    continue;
	if (unchangedsince && st->msgs[i].modseq > unchangedsince) {
	    modified_r[(*nmodified_r)++] = uids[k];
	    continue;
	}
	if ((r = change_one(st, &st->msgs[i], op, letters, error_r)) > 0)
	    done++;
    }
    if (str_len(st->txn) > 0 || st->rebuilt) {
	const char *werr; /* the first error is the one to report */
	int rebuilt = st->rebuilt;

	if (index_commit(st, &werr) < 0) {
	    *error_r = r >= 0 ? werr : *error_r;
	    r = -1;
	} else {
	    st->rebuilt = rebuilt;
	    store_quota_apply(st);
	}
    }
    return r < 0 ? -1 : done;
}

/* store_change_flags - see store.h */
long store_change_flags(store_t *st, const unsigned long *uids, size_t count, store_flags_op_t op,
			const char *letters, unsigned long long unchangedsince,
			unsigned long *modified_r, size_t *nmodified_r, const char **error_r)
{
    size_t nmodified = 0;
    long done;

    if (nmodified_r)
	*nmodified_r = 0;
    if (st->mbox)
	return store_fail(error_r, "flags in %s: %s", st->mbox, EROFS);
    if (unchangedsince && modified_r == 0)
	return store_fail(error_r, "flags: %s%s", "", EINVAL);
    if (lock_begin(st, error_r) < 0)
	return -1;
    done = change_locked(st, uids, count, op, letters, unchangedsince, modified_r, &nmodified,
			 error_r);
    store_unlock(st);
    if (nmodified_r)
	*nmodified_r = nmodified;
    return done;
}

/* store_set_flags - see store.h */
int store_set_flags(store_t *st, unsigned long uid, const char *flags, const char **error_r)
{
    if (store_find(st, uid) < 0)
	return store_fail(error_r, "message %s: %s", "gone", ENOENT);
    return store_change_flags(st, &uid, 1, STORE_FLAGS_REPLACE, flags, 0, NULL, NULL, error_r) < 0
	       ? -1
	       : 0;
}

/* append_name - a new Maildir file name: "SEC.M<usec>P<pid>Q<n>.HOST" with
 * '/' and ':' in the host name written \057 and \072, as local does */
static char *append_name(void)
{
    static unsigned long seq;
    struct timespec ts;
    char host[256];
    str_t *s = str_new(100);

    clock_gettime(CLOCK_REALTIME, &ts);
    if (gethostname(host, sizeof(host)) < 0)
	mr_strlcpy(host, "localhost", sizeof(host));
    host[sizeof(host) - 1] = 0;
    str_printf(s, "%lld.M%06ldP%ldQ%lu.", (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
	       ++seq);
    for (const char *cp = host; *cp; cp++) {
	if (*cp == '/')
	    str_appends(s, "\\057");
	else if (*cp == ':')
	    str_appends(s, "\\072");
	else
	    str_appendc(s, *cp);
    }
    return str_steal(&s);
}

/* append_file - write the message into tmp/ and move it into cur/ with
 * its sizes and flags in the name; the base name, or NULL (*error_r) */
static char *append_file(store_t *st, int in, const char *flags, time_t date, const char **error_r)
{
    char *name = append_name(), *tmp = store_path(st, "tmp", name), *base = NULL, *to;
    char norm[STORE_FLAGS_SIZE];
    off_t size, vsize;
    int fd;

    store_flags_normal(flags, norm);
    if ((fd = safe_open(tmp, O_WRONLY | O_CREAT, 0600, (uid_t)-1, error_r)) < 0) {
	store_fail(error_r, "create %s: %s", tmp, errno);
    } else if ((vsize = vsize_copy(in, fd, &size)) < 0 || fsync(fd) < 0 ||
	       futimens(fd, (struct timespec[2]){{date, 0}, {date, 0}}) < 0 || close(fd) < 0) {
	store_fail(error_r, "write %s: %s", tmp, errno);
	fd = -1;
    } else {
	fd = -1;
	base = mr_format("%s,S=%lld,W=%lld", name, (long long)size, (long long)vsize);
	to = mr_format("%s/cur/%s:2,%s", st->dir, base, norm);
	if (rename(tmp, to) < 0 || fsync_dir(to) < 0) {
	    store_fail(error_r, "rename %s: %s", tmp, errno);
	    mr_free(base);
	}
	mr_free(to);
    }
    if (fd >= 0)
	close(fd);
    if (base == 0)
	(void)unlink(tmp);
    mr_free(tmp);
    mr_free(name);
    return base;
}

/* append_undo - remove an appended file that got no UID (the index could
 * not be written), so that a failed APPEND leaves nothing behind */
static void append_undo(const store_t *st, const char *base, const char *flags)
{
    char norm[STORE_FLAGS_SIZE];
    char *path;

    store_flags_normal(flags, norm);
    path = mr_format("%s/cur/%s:2,%s", st->dir, base, norm);
    (void)unlink(path);
    mr_free(path);
}

/* store_append - see store.h */
unsigned long store_append(store_t *st, int fd, const char *flags, time_t date,
			   const char **error_r)
{
    unsigned long uid = 0;
    char *base;

    if (st->mbox) {
	store_fail(error_r, "append to %s: %s", st->mbox, EROFS);
	return 0;
    }
    if ((base = append_file(st, fd, flags, date ? date : time(NULL), error_r)) == 0)
	return 0;
    if (lock_begin(st, error_r) == 0) {
	if (sync_locked(st, error_r) == 0)
	    for (size_t i = st->count; i-- > 0 && uid == 0;)
		if (strcmp(st->msgs[i].base, base) == 0)
		    uid = st->msgs[i].uid;
	if (uid == 0)
	    append_undo(st, base, flags);
	store_unlock(st);
    }
    mr_free(base);
    return uid;
}

/* unlink_msg - remove message m's file; 1 removed, 0 already gone, -1 error */
static int unlink_msg(const store_t *st, const store_msg_t *m)
{
    char *name = current_name(st, m), *path;
    int r;

    if (name == 0)
	return 0;
    path = store_path(st, "cur", name);
    r = unlink(path) == 0 ? 1 : errno == ENOENT ? 0 : -1;
    if (r < 0)
	msg_warn("store %s: unlink %s: %m", st->dir, name);
    mr_free(path);
    mr_free(name);
    return r;
}

/* expunge_locked - the work of store_expunge under the lock */
static long expunge_locked(store_t *st, const unsigned long *uids, size_t count,
			   const char **error_r)
{
    long done = 0;
    int failed = 0;

    if (refresh_locked(st, error_r) < 0)
	return -1;
    for (size_t k = 0; k < count; k++) {
	long i = store_find(st, uids[k]);
	int r = i < 0 ? 0 : unlink_msg(st, &st->msgs[i]);

	done += r > 0;
	failed |= r < 0;
    }
    if (done > 0) {
	char *cur = store_path(st, "cur", "x");

	(void)fsync_dir(cur);
	mr_free(cur);
    }
    if (sync_locked(st, error_r) < 0)
	return -1;
    return failed ? store_fail(error_r, "expunge in %s: %s", st->dir, EIO) : done;
}

/* store_expunge - see store.h */
long store_expunge(store_t *st, const unsigned long *uids, size_t count, const char **error_r)
{
    long done;

    if (st->mbox)
	return store_mbox_expunge(st, uids, count, error_r);
    if (lock_begin(st, error_r) < 0)
	return -1;
    done = expunge_locked(st, uids, count, error_r);
    store_unlock(st);
    return done;
}

/* folder_part_ok - may one part of a folder name be used in a path? */
static int folder_part_ok(const char *p, size_t len)
{
    if (len == 0 || len > 100)
	return 0;
    for (size_t i = 0; i < len; i++)
	if (p[i] == '.' || (unsigned char)p[i] < 0x20 || p[i] == 0x7f)
	    return 0;
    return 1;
}

/* store_folder_path - see store.h */
char *store_folder_path(const char *maildir, const char *name)
{
    str_t *path;

    if (name[0] == 0 || mr_strcaseeq(name, "INBOX"))
	return mr_strdup(maildir);
    path = str_new(strlen(maildir) + strlen(name) + 4);
    str_set(path, maildir);
    str_appendc(path, '/');
    for (const char *p = name;;) {
	const char *slash = strchr(p, '/');
	size_t len = slash ? (size_t)(slash - p) : strlen(p);

	if (!folder_part_ok(p, len)) {
	    str_free(&path);
	    return NULL;
	}
	str_appendc(path, '.');
	str_append(path, p, len);
	if (slash == 0)
	    break;
	p = slash + 1;
    }
    return str_steal(&path);
}

/* store_close - see store.h */
void store_close(store_t **stp)
{
    store_t *st = *stp;

    if (st == 0)
	return;
    if (st->lock_fd >= 0)
	close(st->lock_fd);
    if (st->txn) { /* else never synced: no index state (see begin_locked) */
	index_forget(st);
	str_free(&st->txn);
    }
    store_index_clear(st);
    for (int i = 0; i < STORE_MAX_KEYWORDS; i++)
	mr_free(st->keywords[i]);
    mr_free(st->dir);
    mr_free(st->root);
    mr_free(st->mbox);
    mr_free(st);
    *stp = NULL;
}
