/*
 * mailroom.c - the administrator's control command.
 *
 * Usage: mailroom [-c config_dir] COMMAND
 *   start          run "check", then start master (daemon_directory/master)
 *                  and wait until it has written its pid file
 *   stop           SIGTERM to master; wait until it is gone
 *   reload         SIGHUP to master (re-read mailroom.conf and master.conf)
 *   status         is master running; each service with its address and
 *                  processes (from queue_directory/pid/master.status)
 *   check          validate configuration, programs, directories, tables
 *   config [-n|-d] [name...]   parameter values (-n: only non-defaults,
 *                  -d: the built-in defaults, unexpanded)
 * Exit status 0 on success, 1 otherwise (status: 1 when not running).
 *
 * Trust: the configuration (root's). Runs as the invoking user; start,
 * stop and reload need the rights to signal/start master (root in
 * production). Never chroots. Reads data_directory, daemon_directory,
 * queue_directory, mail_owner, setgid_group, master_stop_timeout and
 * every *_maps parameter (check).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "global/config.h"
#include "mailroom.h"
#include "master_dirtab.h"
#include "master_pid.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define MAILROOM_START_WAIT 10    /* seconds for master to come up */
#define MAILROOM_ORPHAN_WAIT 3000 /* ms: see mailroom_running */

static int mailroom_usage(FILE *fp);

/* mailroom_say - one line for the user on stderr */
static void __attribute__((format(printf, 1, 2))) mailroom_say(const char *fmt, ...)
{
    va_list ap;

    fputs("mailroom: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* mailroom_state_path - a file of master's state: queue_directory/pid/NAME */
static char *mailroom_state_path(const char *name)
{
    return mr_format("%s/%s/%s", config_str("queue_directory"), MASTER_PID_DIR, name);
}

/* mailroom_pid_path - queue_directory/pid/master.pid */
static const char *mailroom_pid_path(void)
{
    static char *path;

    if (path == NULL)
	path = mailroom_state_path(MASTER_PID_FILE);
    return path;
}

/*
 * mailroom_running - 1 and the pid if master runs. A master killed a
 * moment ago may leave the lock to a child it forked that has not yet
 * reached exec (the lock belongs to the open file, which the child
 * shares until then): while the pid in the file is gone and the lock is
 * still held, wait a little for it to go.
 */
static int mailroom_running(pid_t *pid_r)
{
    int running;

    for (int ms = 0; ms < MAILROOM_ORPHAN_WAIT; ms += 50) {
	running = master_pid_running(mailroom_pid_path(), pid_r);
	if (!running || *pid_r <= 0 || kill(*pid_r, 0) == 0 || errno != ESRCH)
	    return running;
	usleep(50000);
    }
    return master_pid_running(mailroom_pid_path(), pid_r);
}

/* mailroom_wait_for - wait until master is running (want 1) or not (0);
 * a running master must have written a pid other than not_pid */
static int mailroom_wait_for(int want, long seconds, pid_t not_pid, pid_t *pid_r)
{
    for (long ms = 0; ms < seconds * 1000; ms += 50) {
	int running = mailroom_running(pid_r);

	if (running == want && (!want || (*pid_r > 0 && *pid_r != not_pid)))
	    return 0;
	usleep(50000);
    }
    return -1;
}

/* mailroom_print_check - problems to stderr, notes to stdout */
static int mailroom_print_check(void)
{
    str_t *problems = str_new(256), *notes = str_new(256);
    int n = mailroom_check(problems, notes);
    char *cp = str_data(notes), *line;

    while ((line = next_token(&cp, "\n")) != NULL)
	printf("mailroom: note: %s\n", line);
    fflush(stdout);
    fputs(str_data(problems), stderr);
    str_free(&problems);
    str_free(&notes);
    return n;
}

/* mailroom_exec_master - run master; its parent exits once it is set up */
static int mailroom_exec_master(void)
{
    char *path = mr_format("%s/master", config_str("daemon_directory"));
    char *argv[] = {"master", "-c", (char *)config_dir(), NULL};
    int status;
    pid_t pid = fork();

    if (pid < 0)
	msg_fatal("fork: %m");
    if (pid == 0) {
	execv(path, argv);
	fprintf(stderr, "mailroom: cannot run %s: %s\n", path, strerror(errno));
	_exit(1);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
	mailroom_say("master failed to start; see the messages above and %s",
		     config_str("maillog_file"));
	return -1;
    }
    mr_free(path);
    return 0;
}

/* cmd_start - check, then start master */
static int cmd_start(int argc, char **argv)
{
    pid_t pid, stale;

    if (mailroom_running(&stale)) {
	mailroom_say("the mail system is already running (master pid %ld)", (long)stale);
	return 1;
    }
    if (stale > 0)
	mailroom_say("master pid %ld is gone (stale pid file %s); starting a new one", (long)stale,
		     mailroom_pid_path());
    if (mailroom_print_check() > 0) {
	mailroom_say("not starting: \"mailroom check\" found the problems above");
	return 1;
    }
    if (mailroom_exec_master() < 0)
	return 1;
    if (mailroom_wait_for(1, MAILROOM_START_WAIT, stale, &pid) < 0) {
	mailroom_say("master did not write %s within %ds", mailroom_pid_path(),
		     MAILROOM_START_WAIT);
	return 1;
    }
    mailroom_say("started the mail system (master pid %ld)", (long)pid);
    return 0;
}

/* mailroom_signal - send sig to a running master */
static int mailroom_signal(int sig, pid_t *pid_r)
{
    if (!mailroom_running(pid_r) || *pid_r <= 0) {
	mailroom_say("the mail system is not running");
	return -1;
    }
    if (kill(*pid_r, sig) < 0) {
	mailroom_say("cannot signal master pid %ld: %s", (long)*pid_r, strerror(errno));
	return -1;
    }
    return 0;
}

/* cmd_stop - SIGTERM and wait until master let go of its pid file */
static int cmd_stop(int argc, char **argv)
{
    pid_t pid, ignored;

    if (mailroom_signal(SIGTERM, &pid) < 0)
	return 1;
    if (mailroom_wait_for(0, config_time("master_stop_timeout") + 10, 0, &ignored) < 0) {
	mailroom_say("master pid %ld is still running", (long)pid);
	return 1;
    }
    mailroom_say("stopped the mail system (master pid %ld)", (long)pid);
    return 0;
}

/* cmd_reload - the checks of start, then SIGHUP */
static int cmd_reload(int argc, char **argv)
{
    pid_t pid;

    if (mailroom_print_check() > 0) {
	mailroom_say("not reloading: \"mailroom check\" found the problems above; "
		     "master keeps the configuration it has");
	return 1;
    }
    if (mailroom_signal(SIGHUP, &pid) < 0)
	return 1;
    mailroom_say("reloading the mail system (master pid %ld)", (long)pid);
    return 0;
}

/* mailroom_print_services - the table from master.status */
static void mailroom_print_services(void)
{
    char *path = mailroom_state_path(MASTER_STATUS_FILE);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *fp = fd < 0 ? NULL : fdopen(fd, "r");
    char line[2048];

    if (fp == NULL) {
	if (fd >= 0)
	    close(fd);
	printf("(no service information: %s: %s)\n", path, strerror(errno));
	mr_free(path);
	return;
    }
    printf("%-24s %-5s %-40s %9s %5s %s\n", "SERVICE", "TYPE", "ADDRESS", "PROCESSES", "LIMIT",
	   "STATE");
    while (fgets(line, sizeof(line), fp)) {
	char *cp = line, *f[7];
	int n = 0;

	line[strcspn(line, "\n")] = 0;
	while (n < 7 && (f[n] = next_token(&cp, "\t")) != NULL)
	    n++;
	if (n != 7)
	    continue;
	printf("%-24s %-5s %-40s %9s %5s %s\n", f[0], f[1], f[2], f[3],
	       strcmp(f[5], "0") == 0 ? "-" : f[5], f[6]);
    }
    fclose(fp);
    mr_free(path);
}

/* cmd_status - running or not, and the services */
static int cmd_status(int argc, char **argv)
{
    pid_t pid;

    if (!mailroom_running(&pid)) {
	if (pid > 0)
	    printf("mailroom: the mail system is not running (master pid %ld is gone; "
		   "stale pid file)\n",
		   (long)pid);
	else
	    printf("mailroom: the mail system is not running\n");
	return 1;
    }
    printf("mailroom: the mail system is running (master pid %ld)\n", (long)pid);
    mailroom_print_services();
    return 0;
}

/* cmd_check - validate; problems on stderr */
static int cmd_check(int argc, char **argv)
{
    return mailroom_print_check() > 0;
}

typedef struct {
    int non_default; /* -n */
    int defaults;    /* -d */
} config_ctx_t;

/* config_print_one - "name = value" for config_walk */
static void config_print_one(const param_def_t *def, const char *value, int is_default,
			     void *context)
{
    config_ctx_t *ctx = context;

    if (ctx->defaults)
	printf("%s = %s\n", def->name, config_default(def));
    else if (ctx->non_default && !is_default)
	printf("%s = %s\n", def->name, config_raw_value(def->name));
    else if (!ctx->non_default)
	printf("%s = %s\n", def->name, value);
}

/* cmd_config_edit - -e name=value ...: check each, then rewrite the file */
static int cmd_config_edit(int argc, char **argv)
{
    const char *error;
    int ret = 0;

    for (int i = 0; i < argc; i++) {
	if (mailroom_config_edit(argv[i], &error) < 0) {
	    mailroom_say("%s", error);
	    ret = 1;
	}
    }
    return ret;
}

/* cmd_config - parameter values */
static int cmd_config(int argc, char **argv)
{
    config_ctx_t ctx = {0};
    const param_def_t *def;
    int i = 1, ret = 0;

    if (i < argc && strcmp(argv[i], "-e") == 0)
	return i + 1 < argc ? cmd_config_edit(argc - i - 1, argv + i + 1) : mailroom_usage(stderr);
    for (; i < argc && (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "-d") == 0); i++)
	*(argv[i][1] == 'n' ? &ctx.non_default : &ctx.defaults) = 1;
    if (i >= argc) {
	config_walk(config_print_one, &ctx);
	return 0;
    }
    for (; i < argc; i++) {
	if ((def = config_find(argv[i])) == NULL) {
	    mailroom_say("unknown parameter \"%s\"", argv[i]);
	    ret = 1;
	} else {
	    printf("%s = %s\n", argv[i],
		   ctx.defaults      ? config_default(def)
		   : ctx.non_default ? config_raw_value(argv[i])
				     : config_str(argv[i]));
	}
    }
    return ret;
}

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    int max_args;   /* after the command name; -1 any */
    int any_config; /* works whatever mailroom.conf says */
    const char *help;
} mailroom_cmd_t;

static const mailroom_cmd_t mailroom_cmds[] = {
    {"start", cmd_start, 0, 0, "check the configuration, then start the mail system"},
    {"stop", cmd_stop, 0, 1, "stop the mail system (works from the pid file)"},
    {"reload", cmd_reload, 0, 0, "check, then make master re-read both files"},
    {"status", cmd_status, 0, 1, "is it running; its services and processes"},
    {"check", cmd_check, 0, 0, "validate files, values, directories and tables"},
    {"config", cmd_config, -1, 0,
     "[-n|-d] [name...]: parameter values; -n as written "
     "in mailroom.conf, -d the defaults; -e name=value...: set in mailroom.conf"},
    {0, 0, 0, 0, 0},
};

/* mailroom_usage - say how to call us (on stdout for --help) */
static int mailroom_usage(FILE *fp)
{
    fprintf(fp, "usage: mailroom [-c config_dir] [-v] COMMAND [arguments]\n");
    for (const mailroom_cmd_t *c = mailroom_cmds; c->name; c++)
	fprintf(fp, "  %-8s %s\n", c->name, c->help);
    return fp == stdout ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *error;
    int ch;

    msg_init("mailroom");
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
		     strcmp(argv[1], "help") == 0))
	return mailroom_usage(stdout);
    while ((ch = getopt(argc, argv, "+c:v")) != -1) {
	switch (ch) {
	case 'c':
	    dir = optarg;
	    break;
	case 'v':
	    msg_verbose++;
	    break;
	default:
	    return mailroom_usage(stderr);
	}
    }
    if (optind >= argc)
	return mailroom_usage(stderr);
    for (const mailroom_cmd_t *c = mailroom_cmds; c->name; c++) {
	if (strcmp(c->name, argv[optind]) != 0)
	    continue;
	if (c->max_args >= 0 && argc - optind - 1 > c->max_args)
	    return mailroom_usage(stderr);
	if (config_load(dir, &error) < 0) {
	    fprintf(stderr, "%s\n", error);
	    if (!c->any_config)
		return 1;
	    mailroom_say("going on with the rest of %s", config_file());
	}
	return c->fn(argc - optind, argv + optind);
    }
    mailroom_say("unknown command \"%s\"", argv[optind]);
    return mailroom_usage(stderr);
}
