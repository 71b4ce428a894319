/*
 * msg.c - the logging back end: syslog (facility mail), stderr, or a file.
 *
 * A file target is opened once, with O_APPEND, before any chroot, and each
 * line is written with one write(2) so that lines from many processes do not
 * interleave. The process ID and host name in each line are looked up
 * once per process (the pid again in every forked child, through a
 * pthread_atfork handler, and whenever msg_init runs).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "str.h"

int msg_verbose;
int msg_error_count;

static char msg_ident[64] = "mailroom";
static char msg_name[32] = "mailroom"; /* syslog_name: the ident's first part */
static const char *msg_prog = "mailroom";
static int msg_to_syslog;
static int msg_syslog_missing; /* syslog asked for, no socket */
static int msg_to_stderr = 1;
static int msg_file_fd = -1;
static void (*msg_hook)(void);
static pid_t msg_pid;     /* cached getpid(); 0: not yet */
static char msg_host[64]; /* cached short host name; "": not yet */
static int msg_atfork_done;

static const char *msg_level_names[] = {
    "", "warning: ", "error: ", "fatal: ", "panic: ",
};

/* msg_forget_pid - in a new child: the cached pid is the parent's */
static void msg_forget_pid(void)
{
    msg_pid = 0;
}

/* msg_getpid - the process ID, asked once per process */
static long msg_getpid(void)
{
    if (msg_pid == 0) {
	if (!msg_atfork_done) {
	    pthread_atfork(NULL, NULL, msg_forget_pid);
	    msg_atfork_done = 1;
	}
	msg_pid = getpid();
    }
    return (long)msg_pid;
}

/* msg_hostname - the host name up to its first dot, asked once */
static const char *msg_hostname(void)
{
    if (msg_host[0] == 0) {
	if (gethostname(msg_host, sizeof(msg_host)) < 0 || msg_host[0] == 0)
	    snprintf(msg_host, sizeof(msg_host), "localhost");
	msg_host[sizeof(msg_host) - 1] = 0;
	if (strchr(msg_host, '.'))
	    *strchr(msg_host, '.') = 0;
    }
    return msg_host;
}

/* msg_close_range - close lo..hi (both included; nothing if lo > hi) */
static void msg_close_range(unsigned lo, unsigned hi)
{
    if (lo <= hi && close_range(lo, hi, 0) < 0)
	for (unsigned fd = lo; fd <= hi && fd < 65536; fd++)
	    close((int)fd);
}

/* msg_close_others_but - everything from 3 up but the n descriptors of
 * keep (at most MSG_CLOSE_KEEP_MAX; -1 entries ignored) and the log file */
void msg_close_others_but(const int *keep, size_t n)
{
    int set[MSG_CLOSE_KEEP_MAX + 1], count = 0, t;
    unsigned next = 3;

    if (n > MSG_CLOSE_KEEP_MAX)
	msg_panic("msg_close_others_but: %zu descriptors to keep", n);
    for (size_t i = 0; i <= n; i++) {
	t = i < n ? keep[i] : msg_file_fd;
	if (t >= 3)
	    set[count++] = t;
    }
    for (int i = 1; i < count; i++) /* insertion sort: a handful */
	for (int k = i; k > 0 && set[k - 1] > set[k]; k--)
	    t = set[k], set[k] = set[k - 1], set[k - 1] = t;
    if (msg_to_syslog)
	closelog();
    for (int i = 0; i < count; i++) {
	if ((unsigned)set[i] > next)
	    msg_close_range(next, (unsigned)set[i] - 1);
	if ((unsigned)set[i] + 1 > next)
	    next = (unsigned)set[i] + 1;
    }
    msg_close_range(next, ~0U);
    if (msg_to_syslog)
	openlog(msg_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* msg_close_others - everything from 3 up but keep and the log file */
void msg_close_others(int keep)
{
    msg_close_others_but(&keep, 1);
}

/* msg_set_ident - "NAME/PROGRAM", and tell syslog if it is in use */
static void msg_set_ident(void)
{
    snprintf(msg_ident, sizeof(msg_ident), "%s/%s", msg_name, msg_prog);
    if (msg_to_syslog) {
	closelog();
	openlog(msg_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
    }
}

/* msg_init - remember who we are */
void msg_init(const char *progname)
{
    const char *slash = strrchr(progname, '/');

    msg_pid = 0;
    msg_host[0] = 0;
    msg_prog = slash ? slash + 1 : progname;
    msg_set_ident();
}

/* msg_syslog_name - the first part of every line's tag (syslog_name) */
void msg_syslog_name(const char *name)
{
    if (name == NULL || *name == 0 || strlen(name) >= sizeof(msg_name) ||
	strpbrk(name, "[]: ") != NULL)
	return;
    memcpy(msg_name, name, strlen(name) + 1);
    msg_set_ident();
}

/* msg_syslog_available - is there a syslog socket to send lines to? */
int msg_syslog_available(void)
{
    struct stat st;

    return stat(MSG_SYSLOG_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* msg_progname - accessor */
const char *msg_progname(void)
{
    return msg_prog;
}

/*
 * msg_open_file - the log file. It may sit in a directory that a less
 * privileged user can write (the fall-back file in data_directory), so
 * no link is followed, a FIFO cannot block the open, and anything but a
 * regular file with exactly one name is refused.
 */
static int msg_open_file(const char *path)
{
    struct stat st;
    int fd;

    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0640);
    if (fd < 0) {
	fprintf(stderr, "%s: cannot open log file %s: %s\n", msg_ident, path, strerror(errno));
	return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
	fprintf(stderr, "%s: cannot use log file %s: not a regular file with one name\n", msg_ident,
		path);
	close(fd);
	return -1;
    }
    if (msg_file_fd >= 0)
	close(msg_file_fd);
    msg_file_fd = fd;
    return 0;
}

/* msg_target_one - enable one log target */
static int msg_target_one(const char *spec, size_t len)
{
    char path[4096];

    if (len == 6 && strncmp(spec, "syslog", 6) == 0) {
	if (!msg_syslog_available()) {
	    msg_syslog_missing = 1;
	    return 0;
	}
	msg_to_syslog = 1;
	openlog(msg_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	return 0;
    }
    if (len == 6 && strncmp(spec, "stderr", 6) == 0) {
	msg_to_stderr = 1;
	return 0;
    }
    if (len == 0 || len >= sizeof(path) || spec[0] != '/') {
	fprintf(stderr, "%s: bad log target \"%.*s\"\n", msg_ident, (int)len, spec);
	return -1;
    }
    memcpy(path, spec, len);
    path[len] = 0;
    return msg_open_file(path);
}

/* msg_target - choose where log lines go */
int msg_target(const char *spec)
{
    int ret = 0;

    msg_to_stderr = 0;
    msg_to_syslog = 0;
    msg_syslog_missing = 0;
    while (*spec) {
	size_t len = strcspn(spec, ", ");

	if (len > 0 && msg_target_one(spec, len) < 0)
	    ret = -1;
	spec += len;
	spec += strspn(spec, ", ");
    }
    if (!msg_to_syslog && msg_file_fd < 0)
	msg_to_stderr = 1;
    return ret;
}

/* msg_target_fallback - msg_target, with fallback_file instead of syslog
 * when there is no syslog socket to send to */
int msg_target_fallback(const char *spec, const char *fallback_file)
{
    int ret = msg_target(spec);

    if (!msg_syslog_missing || fallback_file == NULL || *fallback_file == 0)
	return ret;
    if (msg_target_one(fallback_file, strlen(fallback_file)) < 0) {
	msg_to_stderr = 1; /* lines somewhere, service going */
	return ret < 0 ? ret : 2;
    }
    msg_to_stderr = msg_to_stderr && strstr(spec, "stderr") != NULL;
    return ret < 0 ? ret : 1;
}

/* msg_cleanup_hook - run before a fatal exit */
void msg_cleanup_hook(void (*fn)(void))
{
    msg_hook = fn;
}

/* msg_write_line - one line to stderr and/or the log file */
static void msg_write_line(int level, const char *text)
{
    char line[2200], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    if (msg_file_fd >= 0) {
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s%s\n", stamp, msg_hostname(), msg_ident,
		     msg_getpid(), msg_level_names[level], text);
	if (n > (int)sizeof(line) - 1)
	    n = sizeof(line) - 1, line[n - 1] = '\n';
	if (write(msg_file_fd, line, (size_t)n) < 0) {
	    /* nowhere left to complain */
	}
    }
    if (msg_to_stderr) {
	n = snprintf(line, sizeof(line), "%s[%ld]: %s%s\n", msg_ident, msg_getpid(),
		     msg_level_names[level], text);
	if (n > (int)sizeof(line) - 1)
	    n = sizeof(line) - 1, line[n - 1] = '\n';
	if (write(2, line, (size_t)n) < 0) {
	    /* nothing to do */
	}
    }
}

/*
 * msg_printable - the one rule for every log line: no control byte from
 * anywhere (mail, clients, files) reaches a log or a terminal. CR and LF
 * become spaces (a line stays one line); other C0 controls, DEL, C1
 * controls and bytes that are not well-formed UTF-8 become "\xHH";
 * printable ASCII and well-formed UTF-8 stay. The result is cut to fit
 * out (no allocation: this runs on the out-of-memory path too).
 */
static void msg_printable(char *out, size_t size, const char *in)
{
    size_t n = 0, len = strlen(in), k;

    for (size_t i = 0; i < len && n + 5 < size; i += k) {
	unsigned char ch = (unsigned char)in[i];

	k = 1;
	if (ch == '\n' || ch == '\r')
	    out[n++] = ' ';
	else if (ch >= 0x20 && ch < 0x7f)
	    out[n++] = (char)ch;
	else if (ch >= 0x80 && (k = utf8_char_len(in + i, len - i)) > 0 &&
		 !(ch == 0xc2 && (unsigned char)in[i + 1] < 0xa0)) {
	    if (n + k + 1 > size)
		break;
	    memcpy(out + n, in + i, k);
	    n += k;
	} else {
	    k = 1;
	    n += (size_t)snprintf(out + n, size - n, "\\x%02x", ch);
	}
    }
    out[n] = 0;
}

/* msg_vlog - format and emit one log line */
void msg_vlog(int level, const char *fmt, va_list ap)
{
    static const int prio[] = {LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT, LOG_CRIT};
    char raw[2048], text[2048];
    int saved_errno = errno;

    vsnprintf(raw, sizeof(raw), fmt, ap);
    msg_printable(text, sizeof(text), raw);
    if (msg_to_syslog)
	syslog(prio[level], "%s%s", msg_level_names[level], text);
    msg_write_line(level, text);
    errno = saved_errno;
}

#define MSG_FN(name, level)                                                                        \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
	va_list ap;                                                                                \
	va_start(ap, fmt);                                                                         \
	msg_vlog(level, fmt, ap);                                                                  \
	va_end(ap);                                                                                \
    }

MSG_FN(msg_info, MSG_INFO)
MSG_FN(msg_warn, MSG_WARN)

/* msg_error - log and count */
void msg_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    msg_vlog(MSG_ERROR, fmt, ap);
    va_end(ap);
    if (++msg_error_count >= 13)
	msg_fatal("too many errors - program terminated");
}

/* msg_fatal - log, clean up, exit */
void msg_fatal(const char *fmt, ...)
{
    static int recursion;
    va_list ap;

    va_start(ap, fmt);
    msg_vlog(MSG_FATAL, fmt, ap);
    va_end(ap);
    if (recursion++ == 0 && msg_hook)
	msg_hook();
    sleep(1); /* do not let master restart us too fast */
    _exit(1);
}

/* msg_panic - log and dump core */
void msg_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    msg_vlog(MSG_PANIC, fmt, ap);
    va_end(ap);
    abort();
}
