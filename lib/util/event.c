/*
 * event.c - epoll-based event loop (see event.h).
 *
 * File descriptors index a growable table of handlers; timers are a short
 * unsorted list (a daemon has a handful), scanned on each iteration.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "msg.h"
#include "mymalloc.h"

typedef struct {
    event_fn fn;
    void *context;
    int mask;
    int edge; /* EPOLLET: arrivals only (event_enable_arrivals) */
} event_fd_t;

typedef struct {
    event_fn fn;
    void *context;
    long long when;
} event_timer_t;

static int event_epfd = -1;
static event_fd_t *event_fds;
static int event_fd_slots;
static long event_spin_us;
static int event_was_busy; /* the last iteration served an fd */
static event_timer_t *event_timers;
static int event_timer_count, event_timer_slots;

long long event_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* event_init - create the epoll instance on first use */
static void event_init(void)
{
    if (event_epfd < 0 && (event_epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
	msg_fatal("epoll_create1: %s", strerror(errno));
}

/* event_enable - register fd for one kind of event (edge: EPOLLET) */
static void event_enable(int fd, int mask, int edge, event_fn fn, void *context)
{
    struct epoll_event ev;
    int op;

    event_init();
    if (fd < 0)
	msg_panic("event_enable: bad fd %d", fd);
    if (fd >= event_fd_slots) {
	int old = event_fd_slots;

	event_fd_slots = fd + 64;
	event_fds = mr_reallocarray(event_fds, (size_t)event_fd_slots, sizeof(*event_fds));
	memset(event_fds + old, 0, sizeof(*event_fds) * (size_t)(event_fd_slots - old));
    }
    op = event_fds[fd].mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    memset(&ev, 0, sizeof(ev));
    ev.events = (mask == EVENT_READ ? EPOLLIN : EPOLLOUT) | (edge ? EPOLLET : 0);
    ev.data.fd = fd;
    if (epoll_ctl(event_epfd, op, fd, &ev) < 0)
	msg_fatal("epoll_ctl(%d): %s", fd, strerror(errno));
    event_fds[fd].fn = fn;
    event_fds[fd].context = context;
    event_fds[fd].mask = mask;
    event_fds[fd].edge = edge;
}

void event_enable_read(int fd, event_fn fn, void *context)
{
    event_enable(fd, EVENT_READ, 0, fn, context);
}

void event_enable_arrivals(int fd, event_fn fn, void *context)
{
    event_enable(fd, EVENT_READ, 1, fn, context);
}

void event_enable_write(int fd, event_fn fn, void *context)
{
    event_enable(fd, EVENT_WRITE, 0, fn, context);
}

void event_disable(int fd)
{
    if (fd < 0 || fd >= event_fd_slots || event_fds[fd].mask == 0)
	return;
    epoll_ctl(event_epfd, EPOLL_CTL_DEL, fd, NULL);
    event_fds[fd].mask = 0;
    event_fds[fd].fn = NULL;
}

void event_request_timer(event_fn fn, void *context, long delay_ms)
{
    long long when = event_now_ms() + delay_ms;

    for (int i = 0; i < event_timer_count; i++) {
	if (event_timers[i].fn == fn && event_timers[i].context == context) {
	    event_timers[i].when = when;
	    return;
	}
    }
    if (event_timer_count == event_timer_slots) {
	event_timer_slots = event_timer_slots ? event_timer_slots * 2 : 8;
	event_timers =
	    mr_reallocarray(event_timers, (size_t)event_timer_slots, sizeof(*event_timers));
    }
    event_timers[event_timer_count++] = (event_timer_t){fn, context, when};
}

int event_cancel_timer(event_fn fn, void *context)
{
    for (int i = 0; i < event_timer_count; i++) {
	if (event_timers[i].fn == fn && event_timers[i].context == context) {
	    event_timers[i] = event_timers[--event_timer_count];
	    return 1;
	}
    }
    return 0;
}

/* event_next_deadline - ms until the earliest timer, capped by max_ms */
static long event_next_deadline(long max_ms)
{
    long long now = event_now_ms();
    long wait = max_ms;

    for (int i = 0; i < event_timer_count; i++) {
	long long left = event_timers[i].when - now;

	if (left < 0)
	    left = 0;
	if (wait < 0 || left < wait)
	    wait = (long)left;
    }
    return wait;
}

/* event_run_timers - call every timer that is due, once */
static void event_run_timers(void)
{
    long long now = event_now_ms();

    for (int i = 0; i < event_timer_count; i++) {
	if (event_timers[i].when <= now) {
	    event_timer_t t = event_timers[i];

	    event_timers[i] = event_timers[--event_timer_count];
	    i = -1; /* the list changed: rescan */
	    t.fn(-1, EVENT_TIME, t.context);
	    now = event_now_ms();
	}
    }
}

void event_set_spin(long us)
{
    event_spin_us = us;
}

/* event_spin - busy-poll for up to event_spin_us; returns epoll's count */
static int event_spin(struct epoll_event *evs, int size)
{
    struct timespec start, now;
    int n;

    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
	if ((n = epoll_wait(event_epfd, evs, size, 0)) != 0)
	    return n;
	clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000 <
	     event_spin_us);
    return 0;
}

void event_loop(long max_ms)
{
    struct epoll_event evs[64];
    long wait;
    int n = 0;

    event_init();
    wait = event_next_deadline(max_ms);
    if (event_spin_us > 0 && event_was_busy && wait != 0)
	n = event_spin(evs, 64);
    if (n == 0)
	n = epoll_wait(event_epfd, evs, 64, (int)wait);
    event_was_busy = n > 0;
    if (n < 0 && errno != EINTR)
	msg_fatal("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
	int fd = evs[i].data.fd;

	if (fd < event_fd_slots && event_fds[fd].mask && event_fds[fd].fn)
	    event_fds[fd].fn(fd, event_fds[fd].mask, event_fds[fd].context);
    }
    event_run_timers();
}
