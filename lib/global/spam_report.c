/*
 * spam_report.c - the report spool (see spam_report.h).
 *
 * The writer puts the message into tmp/NAME and renames it into new/;
 * NAME is seconds.microseconds.pid.counter, unique on this machine. The
 * consumer takes the reports of new/ in directory order, each opened
 * with safe_open_read (no links followed), its head parsed from a
 * bounded read, the message learned from the offset after the head.
 *
 * The unwrapper reads just enough MIME for a message forwarded as an
 * attachment: the top-level Content-Type's boundary, the delimiter
 * lines, each part's Content-Type. It does not decode: a message/rfc822
 * part is 7bit, 8bit or binary by definition (RFC 2046).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/safe_open.h"
#include "util/str.h"
#include "spam_filter.h"
#include "spam_report.h"

/* report_fail - format an error into static storage */
static int report_fail(const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int report_fail(const char **error_r, const char *fmt, ...)
{
    static char text[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    *error_r = text;
    return -1;
}

/* report_dirs - dir and its tmp/ new/ bad/ */
static int report_dirs(const char *dir, const char **error_r)
{
    static const char *subs[] = {"", "/tmp", "/new", "/bad"};
    str_t *path = str_new(256);
    int rc = 0;

    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]) && rc == 0; i++) {
	str_printf(path, "%s%s", dir, subs[i]);
	if (mkdir(str_data(path), 0700) < 0 && errno != EEXIST)
	    rc = report_fail(error_r, "mkdir %s: %s", str_data(path), strerror(errno));
    }
    str_free(&path);
    return rc;
}

/* report_put - the head and the message into out, fsync'd */
static int report_put(int out, const char *head, const char *msg, size_t len, const char **error_r)
{
    if (write_all(out, head, strlen(head)) < 0 || write_all(out, msg, len) < 0)
	return report_fail(error_r, "write: %s", strerror(errno));
    if (fsync(out) < 0)
	return report_fail(error_r, "fsync: %s", strerror(errno));
    return 0;
}

/* spam_report_write - tmp/NAME, fsync, rename into new/, fsync new/ */
int spam_report_write(const char *dir, const char *user, int is_spam, const char *msg, size_t len,
		      const char **error_r)
{
    static unsigned counter;
    str_t *tmp = str_new(256), *dst = str_new(256), *head = str_new(128);
    struct timeval tv;
    int out = -1, rc = -1;

    if (user && (*user == 0 || strpbrk(user, "\r\n=") || strlen(user) > 255)) {
	rc = report_fail(error_r, "unusable user name");
	goto done;
    }
    if (report_dirs(dir, error_r) < 0)
	goto done;
    gettimeofday(&tv, NULL);
    str_printf(tmp, "%s/tmp/%lld.%06ld.%ld.%u", dir, (long long)tv.tv_sec, (long)tv.tv_usec,
	       (long)getpid(), counter++);
    str_printf(dst, "%s/new/%s", dir, strrchr(str_data(tmp), '/') + 1);
    str_printf(head, "%s\n", SPAM_REPORT_MAGIC);
    if (user)
	str_appendf(head, "user=%s\n", user);
    str_appendf(head, "verdict=%s\n\n", is_spam ? "spam" : "ham");
    if ((out = safe_open(str_data(tmp), O_WRONLY | O_CREAT | O_CLOEXEC, 0600, -1, error_r)) < 0)
	goto done;
    if (report_put(out, str_data(head), msg, len, error_r) < 0)
	goto done;
    if (close(out) < 0 || (out = -1, rename(str_data(tmp), str_data(dst)) < 0) ||
	fsync_dir(str_data(dst)) < 0) {
	report_fail(error_r, "commit %s: %s", str_data(dst), strerror(errno));
	goto done;
    }
    rc = 0;
done:
    if (out >= 0)
	close(out);
    if (rc < 0 && str_len(tmp) > 0)
	unlink(str_data(tmp));
    str_free(&tmp);
    str_free(&dst);
    str_free(&head);
    return rc;
}

/* head_parse - the head of a report: user (empty: none), verdict; the
 * message offset, or -1 if the head is not one */
static long head_parse(const char *buf, size_t len, char *user, size_t usize, int *spam_r)
{
    const char *end = memmem(buf, len, "\n\n", 2), *p, *nl;
    size_t magic = strlen(SPAM_REPORT_MAGIC);

    *spam_r = -1;
    user[0] = 0;
    if (end == NULL || len < magic + 1 || memcmp(buf, SPAM_REPORT_MAGIC "\n", magic + 1) != 0)
	return -1;
    for (p = buf + magic + 1; p <= end; p = nl + 1) {
	nl = memchr(p, '\n', (size_t)(end + 1 - p));
	if (nl - p > 5 && memcmp(p, "user=", 5) == 0 && (size_t)(nl - p - 5) < usize) {
	    memcpy(user, p + 5, (size_t)(nl - p - 5));
	    user[nl - p - 5] = 0;
	} else if (nl - p == 12 && memcmp(p, "verdict=spam", 12) == 0) {
	    *spam_r = 1;
	} else if (nl - p == 11 && memcmp(p, "verdict=ham", 11) == 0) {
	    *spam_r = 0;
	} else {
	    return -1;
	}
    }
    return *spam_r < 0 ? -1 : (long)(end + 2 - buf);
}

/* report_bad - move an unreadable report to bad/ */
static void report_bad(const char *dir, const char *name, const char *why,
		       spam_report_stats_t *stats)
{
    str_t *from = str_new(256), *to = str_new(256);

    str_printf(from, "%s/new/%s", dir, name);
    str_printf(to, "%s/bad/%s", dir, name);
    msg_warn("spam report %s: %s; moved to bad/", name, why);
    if (rename(str_data(from), str_data(to)) < 0)
	msg_warn("spam report %s: rename to bad/: %s", name, strerror(errno));
    stats->bad++;
    str_free(&from);
    str_free(&to);
}

/* report_learn - one report: learn it and remove it */
static void report_learn(const char *dir, const char *name, spam_report_stats_t *stats)
{
    char head[SPAM_REPORT_HEAD_MAX], user[256];
    str_t *path = str_new(256);
    const char *error, *text;
    ssize_t n;
    long at;
    int fd, spam, rc;

    str_printf(path, "%s/new/%s", dir, name);
    if ((fd = safe_open_read(str_data(path), &error)) < 0) {
	report_bad(dir, name, error, stats);
    } else if ((n = pread(fd, head, sizeof(head), 0)) < 0 ||
	       (at = head_parse(head, (size_t)n, user, sizeof(user), &spam)) < 0 ||
	       lseek(fd, at, SEEK_SET) < 0) {
	report_bad(dir, name, "not a report", stats);
    } else if ((rc = spam_learn_fd(fd, user[0] ? user : NULL, spam, 0, &text)) < 0) {
	msg_warn("spam report %s: user=%s verdict=%s: %s; will retry", name,
		 user[0] ? user : "(global)", spam ? "spam" : "ham", text);
	stats->failed++;
    } else {
	msg_info("spam report %s: user=%s verdict=%s: %s", name, user[0] ? user : "(global)",
		 spam ? "spam" : "ham", text);
	if (unlink(str_data(path)) < 0)
	    msg_warn("spam report %s: unlink: %s", name, strerror(errno));
	stats->learned++;
    }
    if (fd >= 0)
	close(fd);
    str_free(&path);
}

/* spam_report_run - learn what is in new/ */
int spam_report_run(const char *dir, int limit, spam_report_stats_t *stats, const char **error_r)
{
    str_t *path = str_new(256);
    struct dirent *de;
    DIR *d;
    int done = 0;

    memset(stats, 0, sizeof(*stats));
    str_printf(path, "%s/new", dir);
    if ((d = opendir(str_data(path))) == NULL) {
	int rc = errno == ENOENT
		     ? 0
		     : report_fail(error_r, "open %s: %s", str_data(path), strerror(errno));

	str_free(&path);
	return rc;
    }
    str_free(&path);
    while ((de = readdir(d)) != NULL && done < limit) {
	if (de->d_name[0] == '.')
	    continue;
	report_learn(dir, de->d_name, stats);
	done++;
    }
    closedir(d);
    return 0;
}

/* line_end - the end of the line at p (after its LF, or end) */
static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));

    return nl ? nl + 1 : end;
}

/* blank_line - is [p, e) an empty line (LF or CRLF)? */
static int blank_line(const char *p, const char *e)
{
    return e - p == 1 ? *p == '\n' : e - p == 2 && p[0] == '\r' && p[1] == '\n';
}

/* header_value - the unfolded value of the first field called name in
 * the header that starts at p (cut to fit out), and where the body
 * starts; 1 found, 0 not */
static int header_value(const char *p, const char *end, const char *name, char *out, size_t size,
			const char **body_r)
{
    size_t n = strlen(name), len = 0;
    int state = 0; /* 0 before the field, 1 in it, 2 after it */
    const char *e = p, *q;

    for (; p < end && !blank_line(p, e = line_end(p, end)); p = e) {
	if (*p != ' ' && *p != '\t') {
	    state = state == 1 ? 2 : state;
	    if (state != 0 || (size_t)(e - p) <= n || p[n] != ':' || strncasecmp(p, name, n) != 0)
		continue;
	    state = 1;
	    q = p + n + 1;
	} else if (state == 1) {
	    q = p;
	} else {
	    continue;
	}
	for (; q < e && len + 1 < size; q++)
	    out[len++] = *q == '\r' || *q == '\n' || *q == '\t' ? ' ' : *q;
    }
    out[len] = 0;
    *body_r = p < end ? e : end;
    return state != 0;
}

/* boundary_of - the boundary parameter of a multipart Content-Type */
static int boundary_of(const char *ctype, char *out, size_t size)
{
    const char *p = ctype + strspn(ctype, " ");
    size_t n = 0;

    if (strncasecmp(p, "multipart/", 10) != 0 || (p = strcasestr(p, "boundary=")) == NULL)
	return 0;
    p += 9;
    if (*p == '"')
	for (p++; *p && *p != '"' && n + 1 < size; p++)
	    out[n++] = *p;
    else
	for (; *p && !strchr(" ;\t", *p) && n + 1 < size; p++)
	    out[n++] = *p;
    out[n] = 0;
    return n > 0 && n <= 70;
}

/* is_delimiter - is [p, e) "--boundary" (or its closing form)? */
static int is_delimiter(const char *p, const char *e, const char *b, size_t blen)
{
    return (size_t)(e - p) >= blen + 2 && p[0] == '-' && p[1] == '-' && memcmp(p + 2, b, blen) == 0;
}

/* spam_report_unwrap - the message attached to a report, if any */
int spam_report_unwrap(const char *msg, size_t len, size_t *off_r, size_t *len_r)
{
    const char *end = msg + len, *body, *p, *e, *part = NULL, *pbody;
    char ctype[512], boundary[80];
    size_t blen;

    if (!header_value(msg, end, "Content-Type", ctype, sizeof(ctype), &body) ||
	!boundary_of(ctype, boundary, sizeof(boundary)))
	return 0;
    blen = strlen(boundary);
    for (p = body; p < end; p = e) {
	e = line_end(p, end);
	if (!is_delimiter(p, e, boundary, blen))
	    continue;
	if (part && header_value(part, p, "Content-Type", ctype, sizeof(ctype), &pbody) &&
	    strncasecmp(ctype + strspn(ctype, " "), "message/rfc822", 14) == 0) {
	    const char *stop = p;

	    if (stop > pbody && stop[-1] == '\n')
		stop--;
	    if (stop > pbody && stop[-1] == '\r')
		stop--;
	    *off_r = (size_t)(pbody - msg);
	    *len_r = (size_t)(stop - pbody);
	    return *len_r > 0;
	}
	part = e;
    }
    return 0;
}
