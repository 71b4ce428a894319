/*
 * store_mbox.c - an mbox file (a system user's /var/mail box) through the
 * store's index: listing, reading, and deletion.
 *
 * The file is read under a shared fcntl lock, the lock local takes (as a
 * write lock) to append, so a scan never sees half a delivery. Deletion
 * takes both of local's locks (dot-lock, fcntl write lock; the protocol of
 * global/mbox_lock.c), scans the file again and rewrites it in place from
 * the first deleted message on, through a journal, keeping whatever was
 * appended since (the crash argument is in global/mbox_lock.c). The
 * dot-lock is made with the group privs_kept_group switches on, where the
 * spool directory needs it (pop3d). A message starts at a
 * line beginning with "From "; its content is what follows that line, up
 * to the next one, less the empty line that separates two messages; a
 * line matching ^>+From  loses one '>' (mboxrd, as local writes it).
 *
 * A message is known in the index by a hash of its From_ line, header
 * (less the fields mail readers change: mbox_volatile) and body size (plus
 * a counter for identical ones), not by its offset: when
 * another program deletes a message and rewrites the file, the others
 * keep their UIDs. Offsets live in memory only; before a message is read,
 * the file is checked to be the one scanned (same inode, not shorter,
 * "From " just before the content), else it is scanned again.
 * Weak spot: every sync reads the whole file (an mbox has no other way to
 * find its messages); Maildir is the format for big mailboxes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "global/mbox_lock.h"
#include "store/store_int.h"
#include "util/msg.h"
#include "util/privs.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"

#define MBOX_PREFIX STORE_MBOX_PREFIX  /* bytes of a line looked at */
#define MBOX_COPY_PIECE 65536          /* bytes read at once for RETR */
#define MBOX_COPY_MEMORY (1024 * 1024) /* a larger message's copy goes to disk */
#define MBOX_HASHED (64 * 1024)        /* header bytes that make a message's key */

/* one line of the file, as the scanner sees it */
typedef struct {
    off_t start;               /* offset of its first byte */
    off_t len;                 /* bytes, with the LF */
    char pre[MBOX_PREFIX + 1]; /* its first bytes, NUL-terminated */
    size_t npre;
    int lf;   /* ends in LF (not the end of the file) */
    int crlf; /* ends in CR LF */
} mbox_line_t;

/* a buffered reader of lines of any length */
typedef struct {
    int fd;
    char buf[65536];
    size_t pos, len;
    off_t off; /* file offset of buf[pos] */
} mbox_reader_t;

/* the message being scanned */
typedef struct {
    int open, in_header;
    off_t from, content, escaped, bare_lf;
    off_t header; /* bytes of the header, with its empty line */
    int last_blank;
    uint64_t hash;
    size_t hashed;
    char flags[STORE_FLAGS_SIZE];
} mbox_msg_t;

/* mbox_escaped - does a line start with >+"From "? */
static int mbox_escaped(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && p[i] == '>')
	i++;
    return i > 0 && n - i >= 5 && memcmp(p + i, "From ", 5) == 0;
}

/* mbox_separator - does a line start a message? */
static int mbox_separator(const mbox_line_t *l)
{
    return l->npre >= 5 && memcmp(l->pre, "From ", 5) == 0;
}

/* reader_fill - more bytes; 1 some, 0 end, -1 error */
static int reader_fill(mbox_reader_t *r)
{
    ssize_t n;

    r->pos = r->len = 0;
    while ((n = read(r->fd, r->buf, sizeof(r->buf))) < 0)
	if (errno != EINTR)
	    return -1;
    r->len = (size_t)n;
    return n > 0;
}

/* reader_line - the next line into l; 1 line, 0 end, -1 error */
static int reader_line(mbox_reader_t *r, mbox_line_t *l)
{
    int prev = 0, got = 0, f;

    l->len = 0;
    l->npre = 0;
    l->lf = l->crlf = 0;
    l->start = r->off;
    for (;;) {
	if (r->pos == r->len && (f = reader_fill(r)) <= 0) {
	    l->pre[l->npre] = 0;
	    return f < 0 ? -1 : got;
	}
	char c = r->buf[r->pos++];

	r->off++;
	l->len++;
	got = 1;
	if (l->npre < MBOX_PREFIX)
	    l->pre[l->npre++] = c;
	if (c == '\n') {
	    l->lf = 1;
	    l->crlf = prev == '\r';
	    l->pre[l->npre] = 0;
	    return 1;
	}
	prev = (unsigned char)c;
    }
}

/* hash_add - FNV-1a over bytes */
static uint64_t hash_add(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
	h ^= (unsigned char)p[i];
	h *= 1099511628211ULL;
    }
    return h;
}

/* header_flags - Status: and X-Status: letters into Maildir flags */
static void header_flags(mbox_msg_t *m, const mbox_line_t *l)
{
    static const char map[][2] = {{'A', 'R'}, {'F', 'F'}, {'T', 'D'}, {'D', 'T'}};
    char tmp[2 * STORE_FLAGS_SIZE];
    size_t n = strlen(m->flags);
    const char *v;

    if (strncasecmp(l->pre, "Status:", 7) == 0) {
	v = l->pre + 7;
	if (strchr(v, 'R') && n < STORE_FLAGS_SIZE - 1)
	    m->flags[n++] = 'S';
    } else if (strncasecmp(l->pre, "X-Status:", 9) == 0) {
	v = l->pre + 9;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
	    if (strchr(v, map[i][0]) && n < STORE_FLAGS_SIZE - 1)
		m->flags[n++] = map[i][1];
    }
    m->flags[n] = 0;
    memcpy(tmp, m->flags, n + 1);
    store_flags_normal(tmp, m->flags);
}

/* mbox_volatile - a header field that mail readers add or change in
 * place (state, sizes, their own UIDs), left out of a message's key so
 * that it keeps its UID when another program rewrites the mbox */
static int mbox_volatile(const mbox_line_t *l)
{
    static const char *const names[] = {"Status:", "X-Status:",   "X-Keywords:",     "X-UID:",
					"X-IMAP:", "X-IMAPbase:", "Content-Length:", "Lines:"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	if (strncasecmp(l->pre, names[i], strlen(names[i])) == 0)
	    return 1;
    return 0;
}

/* msg_end - the message that ends at end joins cl */
static void msg_end(mbox_msg_t *m, off_t end, cur_list_t *cl)
{
    off_t raw = end - m->content - m->last_blank;
    off_t body = raw - m->header;
    char key[40];
    cur_file_t *f;

    if (!m->open)
	return;
    m->hash = hash_add(m->hash, (const char *)&body, sizeof(body));
    snprintf(key, sizeof(key), "%016llx", (unsigned long long)m->hash);
    f = cur_add(cl, key, strlen(key));
    memcpy(f->flags, m->flags, sizeof(f->flags));
    f->offset = m->content;
    f->from = m->from;
    f->raw_size = raw;
    f->size = raw - m->escaped;
    f->vsize = f->size + m->bare_lf - m->last_blank;
    m->open = 0;
}

/* msg_line - one line of the file */
static void msg_line(mbox_msg_t *m, const mbox_line_t *l, cur_list_t *cl)
{
    if (mbox_separator(l)) {
	msg_end(m, l->start, cl);
	memset(m, 0, sizeof(*m));
	m->open = m->in_header = 1;
	m->from = l->start;
	m->content = l->start + l->len;
	m->hash = hash_add(14695981039346656037ULL, l->pre, l->npre);
	return;
    }
    if (!m->open)
	return;
    m->last_blank = l->len == 1 && l->lf;
    m->escaped += mbox_escaped(l->pre, l->npre);
    m->bare_lf += l->lf && !l->crlf;
    if (m->in_header)
	m->header += l->len;
    if (m->in_header && (l->len == 1 || (l->len == 2 && l->crlf))) {
	m->in_header = 0;
    } else if (m->in_header && m->hashed < MBOX_HASHED && !mbox_volatile(l)) {
	m->hash = hash_add(m->hash, l->pre, l->npre);
	m->hashed += l->npre;
    } else if (m->in_header) {
	header_flags(m, l);
    }
}

/* base_cmp - order by key */
static int base_cmp(const void *a, const void *b)
{
    return strcmp(((const cur_file_t *)a)->base, ((const cur_file_t *)b)->base);
}

/* key_cmp - order by key, then by offset */
static int key_cmp(const void *a, const void *b)
{
    const cur_file_t *x = a, *y = b;
    int c = strcmp(x->base, y->base);

    return c ? c : x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* number_twins - identical keys get ".2", ".3", ... in file order; the
 * first keeps its key, and the list ends sorted by key */
static void number_twins(cur_list_t *cl)
{
    size_t run = 1;

    if (cl->n > 1)
	qsort(cl->v, cl->n, sizeof(*cl->v), key_cmp);
    for (size_t i = 1; i < cl->n; i++) {
	if (strcmp(cl->v[i].base, cl->v[i - 1 - (run - 1)].base) != 0) {
	    run = 1;
	    continue;
	}
	char *twin = mr_format("%s.%zu", cl->v[i].base, ++run);

	mr_free(cl->v[i].base);
	cl->v[i].base = twin;
    }
    if (cl->n > 1)
	qsort(cl->v, cl->n, sizeof(*cl->v), key_cmp);
}

/* mbox_open_locked - the mbox, opened and read-locked; fd or -1 */
static int mbox_open_locked(const store_t *st, struct stat *sb, const char **error_r)
{
    int fd = safe_open_read(st->mbox, error_r);

    if (fd < 0)
	return -1;
    if (mbox_lock_fcntl(fd, F_RDLCK) < 0 || fstat(fd, sb) < 0) {
	store_fail(error_r, "lock %s: %s", st->mbox, errno);
	close(fd);
	return -1;
    }
    return fd;
}

/* store_mbox_scan_fd - see store_int.h */
off_t store_mbox_scan_fd(int fd, cur_list_t *cl)
{
    mbox_reader_t *r = mr_calloc(1, sizeof(*r));
    mbox_line_t *l = mr_alloc(sizeof(*l));
    mbox_msg_t m = {0};
    off_t end;
    int got;

    r->fd = fd;
    while ((got = reader_line(r, l)) > 0)
	msg_line(&m, l, cl);
    msg_end(&m, r->off, cl);
    end = r->off;
    mr_free(r);
    mr_free(l);
    if (got < 0)
	return -1;
    number_twins(cl);
    return end;
}

/* store_mbox_scan - see store_int.h */
int store_mbox_scan(store_t *st, cur_list_t *cl, const char **error_r)
{
    struct stat sb;
    off_t end;
    int fd;

    if ((fd = mbox_open_locked(st, &sb, error_r)) < 0 && errno == ENOENT) {
	st->mbox_ino = 0; /* no mail yet: local creates it */
	st->mbox_size = 0;
	return 0;
    }
    if (fd < 0)
	return -1;
    end = store_mbox_scan_fd(fd, cl);
    close(fd); /* releases the lock */
    if (end < 0)
	return store_fail(error_r, "read %s: %s", st->mbox, errno);
    st->mbox_ino = sb.st_ino;
    st->mbox_size = end;
    return 0;
}

/* store_unescape_init - see store_int.h */
void store_unescape_init(store_unescaper_t *u)
{
    u->bol = 1;
    u->npre = 0;
}

/* unescape_flush - the held start of a line is decided: into out, one
 * '>' less if it is a quoted From_ line */
static void unescape_flush(store_unescaper_t *u, str_t *out)
{
    size_t skip = mbox_escaped(u->pre, u->npre) ? 1 : 0;

    str_append(out, u->pre + skip, u->npre - skip);
    u->bol = u->npre > 0 && u->pre[u->npre - 1] == '\n';
    u->npre = 0;
}

/* store_unescape_feed - see store_int.h */
void store_unescape_feed(store_unescaper_t *u, const char *data, size_t len, str_t *out)
{
    size_t i = 0, take, n;
    const char *nl;

    while (i < len) {
	nl = memchr(data + i, '\n', len - i);
	take = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
	if (!u->bol) {
	    str_append(out, data + i, take);
	    i += take;
	    u->bol = nl != NULL;
	    continue;
	}
	n = MBOX_PREFIX - u->npre < take ? MBOX_PREFIX - u->npre : take;
	memcpy(u->pre + u->npre, data + i, n);
	u->npre += n;
	i += n;
	if (u->npre == MBOX_PREFIX || u->pre[u->npre - 1] == '\n')
	    unescape_flush(u, out);
    }
}

/* store_unescape_end - see store_int.h */
void store_unescape_end(store_unescaper_t *u, str_t *out)
{
    if (u->bol && u->npre > 0)
	unescape_flush(u, out);
}

/* store_mbox_unescape - see store_int.h */
void store_mbox_unescape(const char *raw, size_t len, str_t *out)
{
    store_unescaper_t u;

    store_unescape_init(&u);
    store_unescape_feed(&u, raw, len, out);
    store_unescape_end(&u, out);
}

/* still_there - is the file as scanned where m starts? 1 yes, 0 no */
static int still_there(const store_t *st, int fd, const struct stat *sb, const store_msg_t *m)
{
    char from[MBOX_PREFIX + 1];
    off_t at = m->offset > MBOX_PREFIX ? m->offset - MBOX_PREFIX : 0;
    ssize_t n;

    if (sb->st_ino != st->mbox_ino || sb->st_size < st->mbox_size ||
	(n = pread(fd, from, (size_t)(m->offset - at), at)) != m->offset - at || n == 0 ||
	from[n - 1] != '\n')
	return 0;
    from[n - 1] = 0;
    const char *line = strrchr(from, '\n');

    line = line ? line + 1 : (at == 0 ? from : NULL);
    return line && strncmp(line, "From ", 5) == 0;
}

/* copy_unescaped - m's raw text from fd into out, one '>' less on quoted
 * From_ lines, MBOX_COPY_PIECE bytes at a time: memory does not grow with
 * the message. 0, or -1 with errno */
static int copy_unescaped(int fd, const store_msg_t *m, int out)
{
    char *raw = mr_alloc(MBOX_COPY_PIECE);
    str_t *text = str_new(MBOX_COPY_PIECE + MBOX_PREFIX);
    off_t at = m->offset, end = m->offset + m->raw_size;
    store_unescaper_t u;
    ssize_t n;
    int ret = 0;

    store_unescape_init(&u);
    while (ret == 0 && at < end) {
	n = pread(fd, raw, end - at < MBOX_COPY_PIECE ? (size_t)(end - at) : MBOX_COPY_PIECE, at);
	if (n <= 0) {
	    errno = n == 0 ? EIO : errno;
	    ret = -1;
	    break;
	}
	at += n;
	store_unescape_feed(&u, raw, (size_t)n, text);
	if (at == end)
	    store_unescape_end(&u, text);
	ret = write_all(out, str_data(text), str_len(text));
	str_reset(text);
    }
    str_free(&text);
    mr_free(raw);
    return ret;
}

/* copy_to_file - m's copy in a new unnamed file: a memory file for a
 * message of up to MBOX_COPY_MEMORY bytes (no inode to allocate and free
 * per RETR), else a file in the index directory (the user's own disk, not
 * memory), or a memory file after all when that cannot be made or is full
 * (a user at his quota must still be able to read and delete his mail);
 * fd or -1 (errno) */
static int copy_to_file(const store_t *st, int fd, const store_msg_t *m)
{
    int out = -1;

    if (m->raw_size > MBOX_COPY_MEMORY)
	out = open(st->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (out >= 0 && copy_unescaped(fd, m, out) == 0 && lseek(out, 0, SEEK_SET) == 0)
	return out;
    if (out >= 0)
	close(out);
    if ((out = memfd_create("mbox-message", MFD_CLOEXEC)) < 0)
	return -1;
    if (copy_unescaped(fd, m, out) == 0 && lseek(out, 0, SEEK_SET) == 0)
	return out;
    close(out);
    return -1;
}

/* read_msg - m's unescaped content into a new unnamed file, copied under
 * the read lock so that the session can send it at the client's pace
 * without holding the lock; fd or -1, -2 when the file changed under us */
static int read_msg(store_t *st, const store_msg_t *m, const char **error_r)
{
    struct stat sb;
    int fd = mbox_open_locked(st, &sb, error_r), out;

    if (fd < 0)
	return -1;
    if (!still_there(st, fd, &sb, m)) {
	close(fd);
	return -2;
    }
    if ((out = copy_to_file(st, fd, m)) < 0)
	store_fail(error_r, "copy of a message of %s: %s", st->mbox, errno ? errno : EIO);
    close(fd);
    return out;
}

/* store_mbox_msg_open - see store_int.h */
int store_mbox_msg_open(store_t *st, const store_msg_t *m, const char **error_r)
{
    unsigned long uid = m->uid;
    int fd = read_msg(st, m, error_r);
    long i;

    if (fd != -2)
	return fd;
    if (store_sync(st, error_r) < 0)
	return -1;
    if ((i = store_find(st, uid)) < 0 || (fd = read_msg(st, &st->msgs[i], error_r)) == -2)
	return store_fail(error_r, "message %s: %s", "gone", ENOENT);
    return fd;
}

/* from_cmp - order by the offset of the From_ line */
static int from_cmp(const void *a, const void *b)
{
    const cur_file_t *x = a, *y = b;

    return x->from < y->from ? -1 : x->from > y->from;
}

/* doomed - mark in cl (sorted by key) the messages of uids; how many */
static size_t doomed(const store_t *st, const unsigned long *uids, size_t count, cur_list_t *cl)
{
    size_t n = 0;

    for (size_t k = 0; k < count; k++) {
	long i = store_find(st, uids[k]);
	cur_file_t key = {.base = i < 0 ? NULL : st->msgs[i].base}, *f;

	if (i < 0)
	    continue;
	f = cl->n ? bsearch(&key, cl->v, cl->n, sizeof(*cl->v), base_cmp) : NULL;
	if (f && !f->used) {
	    f->used = 1;
	    n++;
	}
    }
    return n;
}

/* kept_ranges - in file order, the parts of the file from the first
 * doomed message on that stay; *from_r is where that message starts */
static mbox_range_t *kept_ranges(cur_list_t *cl, off_t end, off_t *from_r, size_t *n_r)
{
    mbox_range_t *keep = mr_calloc(cl->n + 1, sizeof(*keep));
    size_t n = 0, first = cl->n;

    qsort(cl->v, cl->n, sizeof(*cl->v), from_cmp);
    for (size_t i = 0; i < cl->n && first == cl->n; i++)
	if (cl->v[i].used)
	    first = i;
    *from_r = first < cl->n ? cl->v[first].from : end;
    for (size_t i = first; i < cl->n; i++) {
	off_t stop = i + 1 < cl->n ? cl->v[i + 1].from : end;

	if (cl->v[i].used)
	    continue;
	if (n > 0 && keep[n - 1].end == cl->v[i].from)
	    keep[n - 1].end = stop;
	else
	    keep[n++] = (mbox_range_t){cl->v[i].from, stop};
    }
    *n_r = n;
    return keep;
}

/* rewrite_locked - with both locks: finish an old journal, then drop the
 * doomed messages; the number dropped or -1 */
static long rewrite_locked(store_t *st, int dfd, const char *name, int fd,
			   const unsigned long *uids, size_t count, const char **error_r)
{
    cur_list_t cl = {0};
    mbox_range_t *keep;
    size_t n, nkeep;
    off_t end, from;
    long ret = -1;

    if (mbox_journal_finish(dfd, name, fd, error_r) < 0)
	return -1;
    if (lseek(fd, 0, SEEK_SET) < 0 || (end = store_mbox_scan_fd(fd, &cl)) < 0) {
	cur_free(&cl);
	return store_fail(error_r, "read %s: %s", st->mbox, errno);
    }
    if ((n = doomed(st, uids, count, &cl)) == 0) {
	cur_free(&cl);
	return 0;
    }
    keep = kept_ranges(&cl, end, &from, &nkeep);
    if (mbox_rewrite(dfd, name, fd, from, keep, nkeep, error_r) == 0)
	ret = (long)n;
    mr_free(keep);
    cur_free(&cl);
    return ret;
}

/* mbox_dir_open - the directory of the mbox, and its name in it */
static int mbox_dir_open(const store_t *st, const char **name_r)
{
    const char *slash = strrchr(st->mbox, '/');
    char *dir = slash == NULL       ? mr_strdup(".")
		: slash == st->mbox ? mr_strdup("/")
				    : mr_strndup(st->mbox, (size_t)(slash - st->mbox));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    *name_r = slash ? slash + 1 : st->mbox;
    mr_free(dir);
    return dfd;
}

/* mbox_update - lock the mbox as local does (dot-lock, then fcntl), with
 * the kept group where the spool directory needs it, and rewrite it
 * without the count messages of uids (none: only finish an old rewrite) */
static long mbox_update(store_t *st, const unsigned long *uids, size_t count, const char **error_r)
{
    const char *name;
    struct stat sb;
    long ret = -1;
    int dfd, fd = -1;

    if ((dfd = mbox_dir_open(st, &name)) < 0)
	return store_fail(error_r, "open the directory of %s: %s", st->mbox, errno);
    privs_kept_group(1);
    if (mbox_dotlock_acquire(dfd, name) < 0) {
	store_fail(error_r, "dot-lock %s: %s", st->mbox, errno == EEXIST ? EAGAIN : errno);
    } else {
	if ((fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1)
	    store_fail(error_r, "open %s: %s", st->mbox, fd < 0 ? errno : EINVAL);
	else if (mbox_lock_fcntl(fd, F_WRLCK) < 0)
	    store_fail(error_r, "lock %s: %s", st->mbox, errno);
	else
	    ret = rewrite_locked(st, dfd, name, fd, uids, count, error_r);
	if (fd >= 0)
	    close(fd); /* and the fcntl lock with it */
	mbox_dotlock_release(dfd, name);
    }
    privs_kept_group(0);
    close(dfd);
    return ret;
}

/* store_mbox_expunge - see store_int.h */
long store_mbox_expunge(store_t *st, const unsigned long *uids, size_t count, const char **error_r)
{
    long done;

    if (count == 0)
	return 0;
    if ((done = mbox_update(st, uids, count, error_r)) < 0)
	return -1;
    if (done > 0 && store_sync(st, error_r) < 0)
	return -1;
    return done;
}

/* mbox_journal_left - did a rewrite stop half way (its journal is there)? */
static int mbox_journal_left(const store_t *st)
{
    char *j = mr_format("%s%s", st->mbox, MBOX_JOURNAL_SUFFIX);
    struct stat sb;
    int r = lstat(j, &sb) == 0;

    mr_free(j);
    return r;
}

/* store_open_mbox - see store.h */
int store_open_mbox(const char *path, const char *index_dir, store_t **store_r,
		    const char **error_r)
{
    store_t *st = mr_calloc(1, sizeof(*st));
    char *lock;

    if (mkdir(index_dir, 0700) < 0 && errno != EEXIST) {
	mr_free(st);
	return store_fail(error_r, "mkdir %s: %s", index_dir, errno);
    }
    st->dir = mr_strdup(index_dir);
    st->mbox = mr_strdup(path);
    lock = store_path(st, STORE_LOCK_NAME, NULL);
    st->lock_fd = safe_open(lock, O_RDWR | O_CREAT | SAFE_OPEN_MAY_EXIST | O_CLOEXEC, 0600,
			    (uid_t)-1, error_r);
    mr_free(lock);
    if (st->lock_fd < 0 || (mbox_journal_left(st) && mbox_update(st, NULL, 0, error_r) < 0) ||
	store_sync(st, error_r) < 0) {
	store_close(&st);
	return -1;
    }
    *store_r = st;
    return 0;
}
