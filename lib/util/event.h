/*
 * event.h - a small epoll event loop with timers.
 *
 * One loop per process. Callbacks get the descriptor (or -1 for a timer),
 * the event (EVENT_READ, EVENT_WRITE, EVENT_TIME) and their context.
 */
#ifndef MR_EVENT_H
#define MR_EVENT_H

#define EVENT_READ 1
#define EVENT_WRITE 2
#define EVENT_TIME 4

typedef void (*event_fn)(int fd, int event, void *context);

/* event_enable_read - call fn when fd is readable (replaces write interest) */
void event_enable_read(int fd, event_fn fn, void *context);
/* event_enable_arrivals - call fn when something new arrives on fd
 * (edge-triggered: once at once if fd is readable, then once after each
 * arrival, however much is already waiting; arrivals before fn runs make
 * one call; a listening socket: a new connection). For a watcher that
 * only needs to hear of changes: it is not woken again and again by
 * what it leaves waiting. */
void event_enable_arrivals(int fd, event_fn fn, void *context);
/* event_enable_write - call fn when fd is writable (replaces read interest) */
void event_enable_write(int fd, event_fn fn, void *context);
/* event_disable - stop watching fd (call before closing it) */
void event_disable(int fd);
/* event_request_timer - call fn once after delay_ms (re-requesting the
 * same fn+context moves the deadline) */
void event_request_timer(event_fn fn, void *context, long delay_ms);
/* event_cancel_timer - forget a timer; returns 1 if one was pending */
int event_cancel_timer(event_fn fn, void *context);
/* event_loop - wait at most max_ms (-1: until something happens) and
 * run the callbacks that are due */
void event_loop(long max_ms);
/* event_set_spin - after an iteration that served descriptors, poll
 * without sleeping for up to us microseconds before blocking (0: never).
 * For request/reply partners on one machine: waking a sleeping process
 * takes far longer than their round trip. Costs CPU only while busy. */
void event_set_spin(long us);
/* event_now_ms - monotonic milliseconds */
long long event_now_ms(void);

#endif
