/*
 * local_pipe.c - "|command" delivery.
 *
 * Runs in a child that already is the owner of the alias, :include:
 * file or .forward (local_user_run). The command line comes from that
 * file, written by its owner, and is run by "/bin/sh -c" so that
 * redirections and pipelines work as users expect. Mail data never
 * becomes part of a command line: the message is on standard input and
 * the envelope is in the environment (SENDER, RECIPIENT,
 * ORIGINAL_RECIPIENT, LOCAL, EXTENSION, DOMAIN, USER, LOGNAME, HOME,
 * SHELL, PATH=/usr/bin:/bin), nothing else of the daemon's environment
 * is passed on, and no descriptor but 0, 1 and 2 (the queue file is open
 * read-write in the agent and must not reach a user's program). The command runs in its own
 * session, in HOME, with the default SIGPIPE; its standard output and error go to an anonymous
 * memory file whose first bytes end up in the reason of a failure.
 *
 * The whole delivery (feeding the message and waiting for the exit)
 * must end within command_time_limit, else the command's process group
 * is killed and the delivery deferred. Exit status (sysexits.h): 0 sent;
 * 75 (EX_TEMPFAIL) deferred; any other status bounced, with the DSN
 * code of its meaning; killed by a signal: deferred. A command that exits
 * 0 without reading its input has still taken the message.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_params.h"
#include "local.h"
#include "util/msg.h"

#define PIPE_OUTPUT_MAX 300 /* bytes of output quoted in a reason */

static const struct {
    int code;
    const char *dsn;
    const char *text;
} pipe_sysexits[] = {
    {EX_USAGE, "5.3.0", "command line usage error"},
    {EX_DATAERR, "5.6.0", "data format error"},
    {EX_NOINPUT, "5.3.0", "cannot open input"},
    {EX_NOUSER, "5.1.1", "user unknown"},
    {EX_NOHOST, "5.1.2", "host name unknown"},
    {EX_UNAVAILABLE, "5.3.0", "service unavailable"},
    {EX_SOFTWARE, "5.3.0", "internal software error"},
    {EX_OSERR, "5.3.0", "system resource problem"},
    {EX_OSFILE, "5.3.0", "critical OS file missing"},
    {EX_CANTCREAT, "5.2.0", "cannot create output file"},
    {EX_IOERR, "5.3.0", "input/output error"},
    {EX_PROTOCOL, "5.5.0", "remote error in protocol"},
    {EX_NOPERM, "5.7.0", "permission denied"},
    {EX_CONFIG, "5.3.5", "local configuration error"},
};

/* pipe_exit_result - wait status to result */
void pipe_exit_result(int status, const char *output, local_result_t *r)
{
    const char *sep = *output ? ": " : "";
    int code;

    if (WIFSIGNALED(status)) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "command died with signal %d%s%s",
			 WTERMSIG(status), sep, output);
	return;
    }
    if ((code = WEXITSTATUS(status)) == 0) {
	local_result_set(r, LOCAL_SENT, "2.0.0", "delivered to command");
	return;
    }
    if (code == EX_TEMPFAIL) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "temporary failure, command exit status %d%s%s",
			 code, sep, output);
	return;
    }
    for (size_t i = 0; i < sizeof(pipe_sysexits) / sizeof(pipe_sysexits[0]); i++)
	if (pipe_sysexits[i].code == code) {
	    local_result_set(r, LOCAL_BOUNCE, pipe_sysexits[i].dsn,
			     "%s, command exit status %d%s%s", pipe_sysexits[i].text, code, sep,
			     output);
	    return;
	}
    local_result_set(r, LOCAL_BOUNCE, "5.3.0", "command exit status %d%s%s", code, sep, output);
}

/* pipe_setenv - one environment variable (empty when value is NULL) */
static void pipe_setenv(const char *name, const char *value)
{
    if (setenv(name, value ? value : "", 1) < 0)
	_exit(EX_OSERR);
}

/* pipe_exec - the command process: stdin, output, environment, exec */
static void pipe_exec(const char *command, const local_pipe_env_t *env, int in, int out)
{
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
	_exit(EX_OSERR);
    closefrom(3); /* not the queue file, not qmgr's socket */
    setsid();
    signal(SIGPIPE, SIG_DFL);
    clearenv();
    pipe_setenv("PATH", "/usr/bin:/bin");
    pipe_setenv("SENDER", env->sender);
    pipe_setenv("RECIPIENT", env->recipient);
    pipe_setenv("ORIGINAL_RECIPIENT", env->original);
    pipe_setenv("LOCAL", env->local);
    pipe_setenv("EXTENSION", env->extension);
    pipe_setenv("DOMAIN", env->domain);
    pipe_setenv("USER", env->user);
    pipe_setenv("LOGNAME", env->user);
    pipe_setenv("HOME", env->home);
    pipe_setenv("SHELL", env->shell && *env->shell ? env->shell : "/bin/sh");
    if (chdir(env->home && *env->home ? env->home : "/") < 0 && chdir("/") < 0)
	_exit(EX_OSERR);
    execl("/bin/sh", "sh", "-c", command, (char *)0);
    _exit(EX_OSERR);
}

/* pipe_wait - wait for the exit until deadline; -1 on timeout */
static int pipe_wait(pid_t pid, time_t deadline, int *status)
{
    struct timespec pause = {0, 1000000};

    for (;;) {
	pid_t w = waitpid(pid, status, WNOHANG);

	if (w == pid)
	    return 0;
	if (w < 0 && errno != EINTR) {
	    *status = EX_TEMPFAIL << 8; /* lost track of it: try again */
	    return 0;
	}
	if (time(NULL) >= deadline)
	    return -1;
	nanosleep(&pause, NULL);
	if (pause.tv_nsec < 50000000)
	    pause.tv_nsec *= 2;
    }
}

/* pipe_output - the first bytes the command wrote, one line */
static void pipe_output(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);

    buf[n > 0 ? n : 0] = 0;
    for (char *cp = buf; *cp; cp++)
	if ((unsigned char)*cp < ' ' || *cp == 127)
	    *cp = ' ';
    while (*buf && buf[strlen(buf) - 1] == ' ')
	buf[strlen(buf) - 1] = 0;
}

static volatile pid_t pipe_pid;
static volatile sig_atomic_t pipe_timed_out;

/* pipe_alarm - the time limit passed while feeding: kill the command, so
 * that the blocked write fails with EPIPE */
static void pipe_alarm(int sig)
{
    pipe_timed_out = 1;
    if (pipe_pid > 0) {
	kill(-pipe_pid, SIGKILL);
	kill(pipe_pid, SIGKILL);
    }
}

/* pipe_feed - write the message to the command's stdin, within the
 * time limit */
static void pipe_feed(int fd, pid_t pid, const local_msg_t *msg, const char *rcpt, time_t deadline)
{
    struct sigaction sa = {.sa_handler = pipe_alarm};
    const char *why;
    long left = (long)(deadline - time(NULL));

    pipe_pid = pid;
    pipe_timed_out = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)(left > 0 ? left : 1));
    (void)local_msg_write(fd, msg, rcpt, 0, &why); /* EPIPE: it read less */
    alarm(0);
}

/* pipe_deliver - run the command with the message */
void pipe_deliver(const char *command, const local_pipe_env_t *env, const local_msg_t *msg,
		  const char *rcpt, local_result_t *r)
{
    time_t deadline = time(NULL) + var_command_time_limit;
    char output[PIPE_OUTPUT_MAX];
    int in[2], out, status;
    pid_t pid;

    if ((out = memfd_create("command-output", MFD_CLOEXEC)) < 0 || pipe2(in, O_CLOEXEC) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "cannot run command: %s", strerror(errno));
	if (out >= 0)
	    close(out);
	return;
    }
    if ((pid = fork()) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "cannot fork: %s", strerror(errno));
	close(in[0]), close(in[1]), close(out);
	return;
    }
    if (pid == 0)
	pipe_exec(command, env, in[0], out);
    close(in[0]);
    pipe_feed(in[1], pid, msg, rcpt, deadline);
    close(in[1]);
    if (pipe_timed_out || pipe_wait(pid, deadline, &status) < 0) {
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	local_result_set(r, LOCAL_DEFER, "4.3.0", "command time limit exceeded");
    } else {
	pipe_output(out, output, sizeof(output));
	pipe_exit_result(status, output, r);
    }
    close(out);
}
