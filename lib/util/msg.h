/*
 * msg.h - logging with five fixed levels.
 *
 *  info     something happened that an administrator may want to see.
 *  warning  odd input or a recoverable problem; carry on.
 *  error    a real problem; counted, and a daemon may give up after many.
 *  fatal    the environment is broken (missing file, bad config): exit(1)
 *           and let master restart us.
 *  panic    our own bug: abort() so that there is a core to look at.
 *
 * Lines look like Postfix's so that log tools work unchanged:
 *   "Nov 23 16:42:50 host mailroom/smtpd[4711]: warning: text"
 * A line about a message starts with its queue ID.
 */
#ifndef MR_MSG_H
#define MR_MSG_H

#include <stdarg.h>
#include <stddef.h>

extern int msg_verbose;
extern int msg_error_count;

/* msg_init - set the program name ("smtpd" logs as "mailroom/smtpd") */
void msg_init(const char *progname);
/* msg_target - log to "syslog", "stderr", or an absolute file path.
 * Several may be given, comma-separated. Returns -1 if a file cannot be
 * opened (logged to stderr), else 0. */
int msg_target(const char *spec);
/* msg_target_fallback - msg_target; but when spec names syslog and there
 * is no syslog socket (MSG_SYSLOG_SOCKET: containers, minimal images),
 * log to fallback_file instead of losing every line. Returns 1 when the
 * fall-back file is in use, 2 when it could not be opened either (then
 * standard error: a bad log file must not stop the service), 0 ok, -1 a
 * target named in spec could not be opened. */
int msg_target_fallback(const char *spec, const char *fallback_file);
/* msg_syslog_available - 1 if MSG_SYSLOG_SOCKET is a socket */
int msg_syslog_available(void);
/* msg_syslog_name - tag lines "NAME/PROGRAM" (default "mailroom"; NAME
 * may itself hold a '/': "postfix/submission"); a name with '[', ']',
 * ':' or a space, or a too long one, is ignored */
void msg_syslog_name(const char *name);
#define MSG_SYSLOG_SOCKET "/dev/log"

/* msg_progname - the name given to msg_init */
const char *msg_progname(void);
/* msg_close_others - close every descriptor from 3 up except keep and
 * the log's own (a log file; the syslog socket is opened again), for a
 * child that must hold nothing of its parent's */
void msg_close_others(int keep);
/* msg_close_others_but - the same, keeping the n descriptors of keep
 * (at most MSG_CLOSE_KEEP_MAX; negative ones are ignored) */
void msg_close_others_but(const int *keep, size_t n);
#define MSG_CLOSE_KEEP_MAX 8
/* msg_cleanup_hook - function to run before exit on fatal */
void msg_cleanup_hook(void (*fn)(void));

void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* msg_vlog - va_list form; level is one of the MSG_ values below */
void msg_vlog(int level, const char *fmt, va_list ap);

#define MSG_INFO 0
#define MSG_WARN 1
#define MSG_ERROR 2
#define MSG_FATAL 3
#define MSG_PANIC 4

#endif
