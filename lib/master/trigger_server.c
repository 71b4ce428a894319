/*
 * trigger_server.c - skeleton for daemons woken up by short triggers.
 *
 * MASTER_LISTEN_FD is a listening Unix socket or a FIFO. A client writes
 * a few bytes (mail_proto.h: TRIGGER_WAKEUP, ...) and goes away; the
 * skeleton hands the bytes to the trigger hook. With -w N the hook is
 * also called every N seconds with len 0, so that a lost trigger only
 * delays work (a trigger is a hint; the periodic scan is the truth).
 *
 * Such a process is long-lived: with -w, max_idle does not apply (the
 * timer keeps it busy); max_use counts triggers from clients. It exits
 * as soon as master goes away.
 *
 * Parameters: max_use, max_idle (without -w), plus server_startup's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "global/mail_proto.h"
#include "server_int.h"
#include "util/event.h"
#include "util/msg.h"

#define TRIGGER_BUF_SIZE 1024
#define TRIGGER_READ_MS 1000 /* a client has this long to write */

/* trigger_read_client - read what one client sends, until EOF or a pause */
static ssize_t trigger_read_client(int fd, char *buf, size_t size)
{
    size_t got = 0;
    ssize_t n;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    while (got < size && poll(&pfd, 1, TRIGGER_READ_MS) > 0) {
	if ((n = read(fd, buf + got, size - got)) < 0 && errno == EINTR)
	    continue;
	if (n <= 0)
	    break;
	got += (size_t)n;
    }
    return (ssize_t)got;
}

/* trigger_fetch - get the bytes of one wake-up from the socket or FIFO;
 * returns the count (0: nothing there after all) */
static ssize_t trigger_fetch(int listen_fd, int is_fifo, char *buf, size_t size)
{
    ssize_t n;
    int fd;

    if (is_fifo) {
	n = read(listen_fd, buf, size);
	return n > 0 ? n : 0;
    }
    if ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
	    msg_warn("accept: %m");
	return 0;
    }
    n = trigger_read_client(fd, buf, size);
    close(fd);
    return n;
}

/* trigger_call - run the hook with busy/idle reports around it */
static void trigger_call(const server_params_t *params, const server_args_t *args, const char *buf,
			 size_t len)
{
    server_took_client();
    if (!args->stand_alone)
	server_report(0);
    params->trigger(buf, len, args->service);
    if (!args->stand_alone && server_report(1) < 0)
	msg_fatal("cannot report to master: %m");
}

/* trigger_wait - wait for a wake-up; 1 input, 0 timer, -1 master gone */
static int trigger_wait(long timeout_ms)
{
    struct pollfd pfd[2] = {
	{.fd = MASTER_LISTEN_FD, .events = POLLIN},
	{.fd = MASTER_STATUS_FD, .events = 0},
    };
    int n;

    do {
	n = poll(pfd, 2, (int)timeout_ms);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
	msg_fatal("poll: %m");
    if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL))
	return -1;
    return (pfd[0].revents & POLLIN) != 0;
}

/* trigger_loop - serve wake-ups and timer ticks until a limit */
static void trigger_loop(const server_args_t *args, const server_params_t *params)
{
    long max_use = var_max_use;
    long max_idle = args->wakeup > 0 ? 0 : var_max_idle;
    long long next = event_now_ms(); /* first tick at once: a start-up scan */
    long used = 0;
    struct stat st;
    int is_fifo = fstat(MASTER_LISTEN_FD, &st) == 0 && S_ISFIFO(st.st_mode);
    char buf[TRIGGER_BUF_SIZE];
    ssize_t n;

    if (server_report(1) < 0)
	return;
    while (max_use == 0 || used < max_use) {
	long wait = args->wakeup > 0 ? (long)(next - event_now_ms())
				     : (max_idle > 0 ? max_idle * 1000 : -1);

	switch (trigger_wait(wait < 0 && args->wakeup > 0 ? 0 : wait)) {
	case -1:
	    return;
	case 0:
	    if (args->wakeup <= 0)
		return; /* idle too long */
	    trigger_call(params, args, "", 0);
	    next = event_now_ms() + args->wakeup * 1000LL;
	    continue;
	}
	if ((n = trigger_fetch(MASTER_LISTEN_FD, is_fifo, buf, sizeof(buf))) > 0) {
	    trigger_call(params, args, buf, (size_t)n);
	    used++;
	}
    }
}

int trigger_server_main(int argc, char **argv, const server_params_t *params)
{
    server_args_t args;
    char buf[TRIGGER_BUF_SIZE];
    ssize_t n;

    if (params->trigger == NULL)
	msg_panic("trigger_server_main: no trigger hook");
    server_startup(argc, argv, params, &args);
    if (args.stand_alone) {
	if ((n = trigger_read_client(0, buf, sizeof(buf))) > 0)
	    trigger_call(params, &args, buf, (size_t)n);
	server_exit(params);
    }
    trigger_loop(&args, params);
    server_exit(params);
}
