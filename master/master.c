/*
 * master.c - the supervisor: opens every service socket and keeps the
 * right number of daemons running behind each one.
 *
 * Usage: master [-c config_dir] [-f] [-v]
 *   -f  stay in the foreground and log to stderr as well (tests, systemd)
 *
 * What it does: reads mailroom.conf and master.conf, creates the queue
 * directories (and the mail_owner user / setgid_group group when they are
 * missing), takes the lock on queue_directory/pid/master.pid (a second
 * master refuses to start), opens every listening socket, then forks children
 * with the status pipe at MASTER_STATUS_FD and the listening socket at
 * MASTER_LISTEN_FD (mail_proto.h). A demand-driven service gets a new
 * process when a connection waits and no process is idle, up to maxproc;
 * a trigger service (wakeup column) gets one long-lived process.
 *
 * Signals: SIGHUP re-reads both files, keeping the sockets that remain;
 * SIGTERM/SIGINT stop every child (SIGKILL after master_stop_timeout)
 * and exit 0. SIGCHLD reaps; a child that keeps dying abnormally gets
 * its service throttled for service_throttle_time.
 *
 * Trust: the configuration files (root's). No network input is read
 * here; children read it after they dropped privileges.
 * Runs as: root in production (ports < 1024, chown, children's setuid);
 * as any user for tests and development. Never chroots.
 *
 * Root and mail_owner's directories: every directory mail_owner can
 * write (the queue directories, data_directory) is hostile ground for
 * root. master touches it only through descriptors (mkdirat/openat with
 * O_NOFOLLOW, fchown, fchmod: master_dirs.c) or with its effective ids
 * switched to mail_owner (sockets and FIFOs in public/ and private/:
 * master_services.c). Its own state (master.pid, master.status) lives
 * in queue_directory/pid, which belongs to root, and is written under a
 * descriptor of that directory (master_pid_dir_fd).
 * Parameters: queue_directory, data_directory, daemon_directory,
 * mail_owner, setgid_group, maillog_file, default_process_limit,
 * default_chroot, service_throttle_time, service_failure_limit,
 * master_stop_timeout, debug_level.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_params.h"
#include "master.h"
#include "master_dirtab.h"
#include "master_pid.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"

int master_foreground;
int master_pid_dir_fd = -1;
static int master_sig_pipe[2] = {-1, -1};
static int master_pid_fd = -1;
static char *master_pid_path;

/* master_log_target - maillog_file, plus stderr in the foreground */
static void master_log_target(int with_stderr)
{
    char *spec = mr_format("%s%s", config_str("maillog_file"), with_stderr ? ",stderr" : "");
    int ret;

    msg_syslog_name(config_str("syslog_name"));
    ret = msg_target_fallback(spec, config_str("maillog_fallback_file"));
    if (ret < 0)
	msg_warn("cannot use maillog_file \"%s\"", config_str("maillog_file"));
    else if (ret > 0)
	msg_warn("no syslog socket %s: logging to %s", MSG_SYSLOG_SOCKET,
		 ret == 1 ? config_str("maillog_fallback_file") : "standard error");
    mr_free(spec);
}

/* master_load_config - read mailroom.conf; fatal or (reload) error */
static int master_load_config(const char *dir, int reload)
{
    const char *error;

    if (reload)
	config_reset();
    if (config_load(dir, &error) < 0) {
	if (!reload)
	    msg_fatal("%s", error);
	msg_error("%s (values after that line are defaults)", error);
	return -1;
    }
    if (config_fill(&error) < 0) {
	if (!reload)
	    msg_fatal("%s", error);
	msg_error("%s", error);
	return -1;
    }
    if (var_debug_level > msg_verbose)
	msg_verbose = var_debug_level;
    return 0;
}

/* master_remove_pid - on exit, leave no pid file behind */
static void master_remove_pid(void)
{
    if (master_pid_fd >= 0)
	unlinkat(master_pid_dir_fd, MASTER_PID_FILE, 0);
    master_state_remove();
}

/* master_lock_pid - refuse to run twice */
static void master_lock_pid(void)
{
    const char *error;
    pid_t other;

    master_pid_path =
	mr_format("%s/%s/%s", config_str("queue_directory"), MASTER_PID_DIR, MASTER_PID_FILE);
    master_pid_fd = master_pid_lock(master_pid_dir_fd, MASTER_PID_FILE, &other, &error);
    if (master_pid_fd == -2)
	msg_fatal("the mail system is already running (master pid %ld holds %s)", (long)other,
		  master_pid_path);
    if (master_pid_fd < 0)
	msg_fatal("cannot open pid file: %s", error);
}

/* master_daemonize - detach from the terminal; the parent exits 0 */
static void master_daemonize(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
	msg_fatal("fork: %m");
    if (pid > 0)
	_exit(0);
    setsid();
    if ((fd = open("/dev/null", O_RDWR)) >= 0) {
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
	    close(fd);
    }
}

/* master_sig_handler - only tell the event loop */
static void master_sig_handler(int sig)
{
    int saved = errno;
    char c = (char)sig;

    if (write(master_sig_pipe[1], &c, 1) < 0) {
	/* the pipe is full: the loop has plenty to do already */
    }
    errno = saved;
}

/* master_shutdown - stop every child and leave */
static void master_shutdown(int sig)
{
    msg_info("terminating on signal %d", sig);
    master_services_close_all();
    master_stop_children(config_time("master_stop_timeout"));
    master_remove_pid();
    exit(0);
}

/* master_reload - SIGHUP: both files again */
static void master_reload(void)
{
    char *dir = mr_strdup(config_dir()); /* config_load frees the old one */

    msg_info("reload -- configuration %s", dir);
    /* errors are counted per reload: a long-lived master must not die of
     * their sum (a mail owner racing links into public/ makes binds fail) */
    msg_error_count = 0;
    master_load_config(dir, 1);
    mr_free(dir);
    master_log_target(master_foreground);
    master_services_load(0);
}

/* master_sig_event - act on the signals the handler queued */
static void master_sig_event(int fd, int event, void *context)
{
    char buf[64];
    ssize_t n;
    int reload = 0;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
	for (ssize_t i = 0; i < n; i++) {
	    if (buf[i] == SIGTERM || buf[i] == SIGINT)
		master_shutdown(buf[i]);
	    reload |= buf[i] == SIGHUP;
	}
    }
    master_reap();
    if (reload)
	master_reload();
}

/* master_signals - self-pipe and handlers */
static void master_signals(void)
{
    struct sigaction sa;
    int sigs[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT};

    if (pipe2(master_sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
	msg_fatal("pipe: %m");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = master_sig_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
	sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    event_enable_read(master_sig_pipe[0], master_sig_event, NULL);
}

/* master_usage - bad command line */
static void master_usage(const char *prog)
{
    msg_fatal("usage: %s [-c config_dir] [-f] [-v]", prog);
}

int main(int argc, char **argv)
{
    char dir[PATH_MAX];
    const char *config = NULL;
    int ch;

    msg_init("master");
    umask(022);
    while ((ch = getopt(argc, argv, "c:fv")) != -1) {
	switch (ch) {
	case 'c':
	    config = optarg;
	    break;
	case 'f':
	    master_foreground = 1;
	    break;
	case 'v':
	    msg_verbose++;
	    break;
	default:
	    master_usage(argv[0]);
	}
    }
    if (optind < argc)
	master_usage(argv[0]);
    if (config && realpath(config, dir) == NULL)
	msg_fatal("config directory %s: %m", config);
    master_load_config(config ? dir : NULL, 0);
    master_pid_dir_fd = master_dirs_init(); /* the fall-back log lives there */
    master_log_target(1);
    master_lock_pid();
    msg_cleanup_hook(master_remove_pid);
    master_signals();
    master_services_load(1);
    if (!master_foreground) {
	master_daemonize();
	master_log_target(0);
    }
    if (master_pid_write(master_pid_fd) < 0)
	msg_fatal("write %s: %m", master_pid_path);
    msg_info("daemon started -- configuration %s", config_dir());
    master_services_start();
    for (;;)
	event_loop(-1);
}
