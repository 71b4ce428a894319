/*
 * single_server.c - skeleton for daemons that serve one client at a time.
 *
 * Each process accepts a connection on MASTER_LISTEN_FD, says "busy" to
 * master, calls the service hook, closes the connection, says "idle",
 * and waits for the next one. Master starts another process when none is
 * idle. "Busy" and "idle" go into the process's status slot; master is
 * woken by a message only when it has to act (server_report_client in
 * mail_server.c), so a steady stream of clients costs master nothing. A process exits after max_use
 * clients, after max_idle seconds without one, or as soon as master goes away (its end of the
 * status pipe closes); a process busy with a client when master dies lets go of the listening
 * socket at once (mail_server.c), finishes that client, and exits. The listening socket is
 * non-blocking (master sets it), so when several idle processes wake up for one connection, the
 * losers see EAGAIN and simply wait again.
 *
 * Parameters: max_use, max_idle, ipc_timeout (client stream timeout),
 * plus those read by server_startup (mail_server.c).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "global/mail_proto.h"
#include "server_int.h"
#include "util/msg.h"
#include "util/stream.h"

/* single_server_serve - run the service hook on one connected socket */
static void single_server_serve(int fd, const server_args_t *args, const server_params_t *params)
{
    stream_t *client = stream_open(fd);

    server_client_nodelay(fd, args);
    server_set_client_addr(fd, args);
    stream_set_timeout(client, var_ipc_timeout);
    params->service(client, args->service);
    stream_close(&client);
}

/* single_server_stand_alone - -S: the client on fd 0 (a socket), or on
 * standard input and output (pipes, a terminal) */
static void single_server_stand_alone(const server_args_t *args, const server_params_t *params)
{
    struct stat st;
    stream_t *client;

    if (fstat(0, &st) == 0 && S_ISSOCK(st.st_mode)) {
	single_server_serve(0, args, params);
	return;
    }
    client = stream_open_pair(0, 1);
    stream_set_timeout(client, var_ipc_timeout);
    params->service(client, args->service);
    stream_close(&client);
}

/*
 * single_server_epoll - an epoll instance that wakes this process for a
 * connection only if no other idle process got that wake-up (EPOLLEXCLUSIVE),
 * plus the status pipe (error/hang-up: master is gone). -1 if the kernel
 * cannot do it; the caller then polls, and every idle process wakes.
 */
static int single_server_epoll(void)
{
    struct epoll_event listen_ev = {.events = EPOLLIN | EPOLLEXCLUSIVE,
				    .data.fd = MASTER_LISTEN_FD};
    struct epoll_event status_ev = {.events = 0, .data.fd = MASTER_STATUS_FD};
    int ep = epoll_create1(EPOLL_CLOEXEC);

    if (ep < 0)
	return -1;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, MASTER_LISTEN_FD, &listen_ev) < 0 ||
	epoll_ctl(ep, EPOLL_CTL_ADD, MASTER_STATUS_FD, &status_ev) < 0) {
	if (msg_verbose)
	    msg_info("epoll with EPOLLEXCLUSIVE: %m; using poll");
	close(ep);
	return -1;
    }
    return ep;
}

/* single_server_wait_epoll - as single_server_wait, on the epoll instance */
static int single_server_wait_epoll(int ep, long max_idle)
{
    struct epoll_event ev[2];
    int n;

    do {
	n = epoll_wait(ep, ev, 2, max_idle > 0 ? (int)(max_idle * 1000) : -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
	msg_fatal("epoll_wait: %m");
    for (int i = 0; i < n; i++)
	if (ev[i].data.fd == MASTER_STATUS_FD && (ev[i].events & (EPOLLERR | EPOLLHUP)))
	    return -1;
    return n > 0;
}

/* single_server_wait - wait for a connection; 1 ready, 0 idle too long,
 * -1 master gone */
static int single_server_wait(int ep, long max_idle)
{
    struct pollfd pfd[2] = {
	{.fd = MASTER_LISTEN_FD, .events = POLLIN},
	{.fd = MASTER_STATUS_FD, .events = 0},
    };
    int n;

    if (ep >= 0)
	return single_server_wait_epoll(ep, max_idle);
    do {
	n = poll(pfd, 2, max_idle > 0 ? (int)(max_idle * 1000) : -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
	msg_fatal("poll: %m");
    if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL))
	return -1;
    return n > 0;
}

/* single_server_loop - accept and serve until a limit is reached */
static void single_server_loop(const server_args_t *args, const server_params_t *params)
{
    long max_use = var_max_use;
    long max_idle = var_max_idle;
    long used = 0;
    int ep = single_server_epoll();
    int fd;

    server_one_at_a_time();
    if (server_report(1) < 0) /* "started fine" */
	return;
    while (max_use == 0 || used < max_use) {
	switch (single_server_wait(ep, max_idle)) {
	case -1:
	    if (msg_verbose)
		msg_info("master went away: exiting");
	    return;
	case 0:
	    if (msg_verbose)
		msg_info("idle for %lds: exiting", max_idle);
	    return;
	}
	if ((fd = accept4(MASTER_LISTEN_FD, NULL, NULL, SOCK_CLOEXEC)) < 0) {
	    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
		msg_warn("accept: %m");
	    continue;
	}
	server_took_client();
	if (server_report_client(0) < 0)
	    msg_fatal("cannot report to master: %m");
	single_server_serve(fd, args, params);
	used++;
	if (server_orphan()) {
	    msg_info("master is gone: exiting after the client");
	    return;
	}
	if (server_report_client(1) < 0)
	    return;
    }
}

int single_server_main(int argc, char **argv, const server_params_t *params)
{
    server_args_t args;

    if (params->service == NULL)
	msg_panic("single_server_main: no service hook");
    server_startup(argc, argv, params, &args);
    if (args.stand_alone) {
	single_server_stand_alone(&args, params);
	server_exit(params);
    }
    single_server_loop(&args, params);
    server_exit(params);
}
