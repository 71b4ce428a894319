/*
 * master_services.c - the service table: sockets, limits, when to fork.
 *
 * A service is identified by its type and listening address. On reload a
 * service whose type and address remain keeps its socket (no connection
 * is refused while the table changes); its old processes are retired
 * (master_spawn.c) so that new ones start with the new settings. A
 * service that disappeared loses its socket; one that appeared gets one.
 *
 * Unix sockets and FIFOs live in public/ and private/, which mail_owner
 * can write: master, although root, touches them only with mail_owner's
 * effective ids (master_as_owner), never by path as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "master.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"
#include "util/sock.h"

#define MASTER_BACKLOG 128
#define MASTER_BIND_WAIT 2000   /* ms: see master_listen_inet */
#define MASTER_STRESS_HOLD 1000 /* s: see master_serv_stress */

master_serv_t *master_services;
int master_stopping;

/* master_serv_timer - a hold period ended: look again */
static void master_serv_timer(int fd, int event, void *context)
{
    master_serv_update(context);
}

/*
 * master_serv_short - would one more process serve a client sooner? Only
 * when none is idle, the limit allows one, and the processes still
 * starting are fewer than the connections waiting. A TCP socket tells how
 * many wait (sock_listen_queue), so a burst of N clients gets N processes
 * starting at once rather than one after the other, for a service whose
 * processes said they serve one client at a time (serv->single, from
 * their first message). Otherwise (an event server takes every client;
 * nothing reported yet; Unix sockets and FIFOs, where the kernel cannot
 * tell) one starting process is taken to cover what waits: its first
 * message (it is ready, or it took a client while no other was idle)
 * makes master look again.
 *
 * While the starting processes cover the waiting connections, master
 * must not watch the socket for readiness (the same connections would
 * wake it again and again), but clients that arrive meanwhile should
 * get their own process without waiting for a start: where it can count
 * the queue it watches the socket for arrivals only (master_serv_covered),
 * so each new connection wakes it once to count again, and the first
 * message of each starting process wakes it too (master_spawn.c). No
 * timer polls the queue: a master whose processes are held in their
 * start-up sleeps until something changes.
 */
static int master_serv_short(master_serv_t *serv, int avail)
{
    int starting, queued;

    if (avail > 0 || (serv->maxproc != 0 && serv->total >= serv->maxproc))
	return 0;
    if ((starting = master_serv_starting(serv)) == 0)
	return 1;
    queued = serv->single ? sock_listen_queue(serv->listen_fd) : -1;
    return queued > starting;
}

/* master_listen_event - a client waits (or, watching arrivals, came) and
 * nobody is idle */
static void master_listen_event(int fd, int event, void *context)
{
    master_serv_t *serv = context;

    if (master_serv_short(serv, master_serv_avail(serv)))
	master_spawn(serv);
    master_serv_update(serv);
}

/* master_serv_covered - do processes still starting cover the clients
 * waiting, in a queue master can count (see master_serv_short)? */
static int master_serv_covered(master_serv_t *serv, int avail)
{
    return avail == 0 && serv->single && master_serv_starting(serv) > 0 &&
	   (serv->maxproc == 0 || serv->total < serv->maxproc) &&
	   sock_listen_queue(serv->listen_fd) >= 0;
}

/* master_watch - watch the listening socket as how (MASTER_WATCH_*) says;
 * changed only when how changes (enabling arrivals again would report
 * the clients already waiting once more) */
static void master_watch(master_serv_t *serv, int how)
{
    if (how == serv->watching)
	return;
    if (how == MASTER_WATCH_WAITING)
	event_enable_read(serv->listen_fd, master_listen_event, serv);
    else if (how == MASTER_WATCH_ARRIVALS)
	event_enable_arrivals(serv->listen_fd, master_listen_event, serv);
    else
	event_disable(serv->listen_fd);
    serv->watching = how;
}

/*
 * master_serv_stress - a demand-driven service with every process busy
 * at its process limit is under stress: clients wait in the queue. The
 * running processes are told at once (a signal), and processes started
 * for the next MASTER_STRESS_HOLD seconds start with -s; they then cut
 * their deadlines (smtpd: smtpd_stress_timeout), so a slot held by a
 * slow or idle client frees up quickly. As Postfix's master, nothing
 * ends the stress before its time: a burst tends to come back.
 */
static void master_serv_stress(master_serv_t *serv, long long now, int avail)
{
    if (serv->wakeup > 0 || serv->maxproc == 0 || serv->total < serv->maxproc || avail > 0 ||
	master_serv_starting(serv) > 0)
	return;
    if (now >= serv->stress_until) {
	msg_warn("service %s (%s): all %d processes are busy: under stress, shorter "
		 "timeouts for %d seconds",
		 serv->name, serv->addr, serv->maxproc, MASTER_STRESS_HOLD);
	master_stress_children(serv);
    }
    serv->stress_until = now + MASTER_STRESS_HOLD * 1000LL;
}

void master_serv_update(master_serv_t *serv)
{
    long long now = event_now_ms();
    int avail;

    if (master_stopping || serv->listen_fd < 0)
	return;
    if (now < serv->hold_until) {
	master_watch(serv, MASTER_WATCH_NONE);
	event_request_timer(master_serv_timer, serv, (long)(serv->hold_until - now));
	return;
    }
    if (serv->wakeup > 0) {
	master_watch(serv, MASTER_WATCH_NONE);
	if (serv->total == 0 && serv->stale == 0)
	    master_spawn(serv);
	return;
    }
    avail = master_serv_avail(serv);
    master_serv_stress(serv, now, avail);
    if (master_serv_short(serv, avail))
	master_watch(serv, MASTER_WATCH_WAITING);
    else
	master_watch(serv,
		     master_serv_covered(serv, avail) ? MASTER_WATCH_ARRIVALS : MASTER_WATCH_NONE);
}

/*
 * master_as_owner / master_as_self - the queue's public/ and private/
 * belong to mail_owner, who could swap a link in at any moment: master
 * removes, binds, creates and chmods there only with mail_owner's
 * effective ids, so a link reaches nothing mail_owner could not reach
 * itself. The files are then mail_owner's without a chown.
 */
static void master_as_owner(void)
{
    uid_t uid;
    gid_t gid;

    if (getuid() != 0)
	return;
    if (privs_lookup(config_str("mail_owner"), &uid, &gid) < 0)
	msg_fatal("unknown mail_owner \"%s\"", config_str("mail_owner"));
    privs_as_user(uid, gid);
}

/* master_as_self - back to master's own ids (root) */
static void master_as_self(void)
{
    privs_as_root();
}

/* master_open_fifo - (re)create and open a FIFO for reading */
static int master_open_fifo(const char *path, int mode, const char **error_r)
{
    static char err[600];
    mode_t old_mask = umask((mode_t)(~mode & 0777));
    int fd = -1;

    struct stat st;

    if ((unlink(path) < 0 && errno != ENOENT) || mkfifo(path, (mode_t)mode) < 0 ||
	(fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)) < 0) {
	snprintf(err, sizeof(err), "fifo %s: %s", path, strerror(errno));
	*error_r = err;
    } else if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
	snprintf(err, sizeof(err), "fifo %s: replaced by something else", path);
	*error_r = err;
	close(fd);
	fd = -1;
    }
    umask(old_mask);
    return fd;
}

/*
 * master_listen_inet - bind a TCP address. Right after a crash of the
 * previous master, its orphaned children let go of the listening socket
 * when the kernel tells them (mail_server.c), which may be a moment after
 * the crash: an address in use is tried again for MASTER_BIND_WAIT ms.
 */
static int master_listen_inet(const char *addr, const char **error_r)
{
    int fd;

    for (int waited = 0;; waited += 50) {
	fd = sock_listen_inet(addr, MASTER_BACKLOG, error_r);
	if (fd >= 0 || errno != EADDRINUSE || waited >= MASTER_BIND_WAIT)
	    return fd;
	usleep(50 * 1000);
    }
}

/* master_open_listener - the socket or FIFO children will inherit */
static int master_open_listener(master_serv_t *serv, const char **error_r)
{
    int fd;

    switch (serv->type) {
    case MASTER_TYPE_INET:
	fd = master_listen_inet(serv->addr, error_r);
	break;
    case MASTER_TYPE_UNIX:
	master_as_owner();
	fd =
	    sock_listen_unix(serv->addr, MASTER_BACKLOG, serv->private_flag ? 0600 : 0666, error_r);
	master_as_self();
	break;
    default:
	master_as_owner();
	fd = master_open_fifo(serv->addr, serv->private_flag ? 0600 : 0622, error_r);
	master_as_self();
	break;
    }
    if (fd >= 0)
	sock_nonblock(fd, 1); /* idle children race for accept() */
    return fd;
}

/* master_open_status - a fresh status pipe and status slots (a new
 * generation) */
static void master_open_status(master_serv_t *serv)
{
    if (pipe2(serv->status_fd, O_CLOEXEC) < 0)
	msg_fatal("pipe: %m");
    sock_nonblock(serv->status_fd[0], 1);
    event_enable_read(serv->status_fd[0], master_status_event, serv);
    master_slots_open(serv);
}

/* master_serv_settings - copy a master.conf entry, defaults applied */
static void master_serv_settings(master_serv_t *serv, const master_ent_t *ent)
{
    if (serv->argv == NULL || strcmp(serv->argv[0], ent->argv[0]) != 0)
	serv->single = 0; /* another program: wait for its word */
    for (int i = 0; serv->argv && i < serv->argc; i++)
	mr_free(serv->argv[i]);
    mr_free(serv->argv);
    mr_free(serv->path);
    serv->private_flag = ent->type != MASTER_TYPE_INET && ent->private_flag != 0;
    serv->unpriv = ent->unpriv_flag != 0;
    serv->chroot =
	ent->chroot_flag == MASTER_FLAG_DEFAULT ? config_bool("default_chroot") : ent->chroot_flag;
    serv->wakeup = ent->wakeup;
    serv->maxproc = ent->maxproc == MASTER_FLAG_DEFAULT
			? (int)config_int("default_process_limit", 0, 100000)
			: ent->maxproc;
    if (serv->wakeup > 0)
	serv->maxproc = 1;
    serv->argc = ent->argc;
    serv->argv = mr_calloc((size_t)ent->argc + 1, sizeof(char *));
    for (int i = 0; i < ent->argc; i++)
	serv->argv[i] = mr_strdup(ent->argv[i]);
    serv->path = mr_format("%s/%s", config_str("daemon_directory"), ent->argv[0]);
    serv->line = ent->line;
    serv->fail_count = 0;
    serv->hold_until = 0;
    serv->throttled = 0;
}

/* master_serv_free - close everything a service holds */
static void master_serv_free(master_serv_t *serv)
{
    master_retire(serv);
    master_forget(serv);
    event_cancel_timer(master_serv_timer, serv);
    master_watch(serv, MASTER_WATCH_NONE);
    if (serv->listen_fd >= 0)
	close(serv->listen_fd);
    if (serv->type != MASTER_TYPE_INET) {
	master_as_owner();
	unlink(serv->addr);
	master_as_self();
    }
    for (int i = 0; i < serv->argc; i++)
	mr_free(serv->argv[i]);
    mr_free(serv->argv);
    mr_free(serv->path);
    mr_free(serv->addr);
    mr_free(serv->name);
    mr_free(serv);
}

/* master_serv_take - unlink the old service with this type and address */
static master_serv_t *master_serv_take(master_serv_t **old, int type, const char *addr)
{
    for (master_serv_t **pp = old; *pp; pp = &(*pp)->next) {
	master_serv_t *s = *pp;

	if (s->type == type && strcmp(s->addr, addr) == 0) {
	    *pp = s->next;
	    s->next = NULL;
	    return s;
	}
    }
    return NULL;
}

/* master_serv_new - a service that was not there: open its socket */
static master_serv_t *master_serv_new(const master_ent_t *ent, char *addr, const char *conf)
{
    master_serv_t *serv = mr_calloc(1, sizeof(*serv));
    const char *error;

    serv->name = mr_strdup(ent->service);
    serv->type = ent->type;
    serv->addr = addr;
    serv->status_fd[0] = serv->status_fd[1] = -1;
    serv->slots_fd = -1;
    master_serv_settings(serv, ent);
    if ((serv->listen_fd = master_open_listener(serv, &error)) < 0) {
	msg_error("%s:%d: service %s: cannot listen on %s: %s", conf, ent->line, ent->service, addr,
		  error);
	serv->listen_fd = -1;
	master_serv_free(serv);
	return NULL;
    }
    master_open_status(serv);
    return serv;
}

/* master_report_problems - log what is wrong with master.conf */
static void master_report_problems(str_t *errors)
{
    char *text = mr_strdup(str_data(errors)), *cp = text, *line;

    while ((line = next_token(&cp, "\n")) != NULL)
	msg_error("%s", line);
    mr_free(text);
}

/* master_build - new service list from the entries, reusing old sockets;
 * returns the number of services that failed to open */
static int master_build(master_conf_t *conf, master_serv_t **old, master_serv_t **list)
{
    master_serv_t **tail = list;
    int failed = 0;

    for (int i = 0; i < conf->count; i++) {
	master_ent_t *ent = &conf->ents[i];
	char *addr = master_ent_address(ent, config_str("queue_directory"));
	master_serv_t *serv = master_serv_take(old, ent->type, addr);

	if (serv) {
	    mr_free(addr);
	    mr_free(serv->name);
	    serv->name = mr_strdup(ent->service);
	    master_serv_settings(serv, ent);
	    master_retire(serv);
	    master_open_status(serv);
	} else if ((serv = master_serv_new(ent, addr, conf->path)) == NULL) {
	    failed++;
	    continue;
	}
	*tail = serv;
	tail = &serv->next;
    }
    return failed;
}

void master_services_load(int initial)
{
    char *path = mr_format("%s/master.conf", config_dir());
    str_t *errors = str_new(256);
    master_conf_t *conf = NULL;
    master_serv_t *old = master_services, *list = NULL;
    int problems = master_conf_read(path, &conf, errors);

    if (problems != 0) {
	master_report_problems(errors);
	if (initial)
	    msg_fatal("%s: %d problem(s); run \"mailroom check\"", path,
		      problems < 0 ? 1 : problems);
	msg_warn("%s has problems: keeping the services as they were", path);
    } else {
	if (master_build(conf, &old, &list) > 0 && initial)
	    msg_fatal("cannot open every service socket; see the errors above");
	while (old) {
	    master_serv_t *gone = old;

	    old = gone->next;
	    msg_info("service %s (%s) removed", gone->name, master_type_name(gone->type));
	    master_serv_free(gone);
	}
	master_services = list;
	master_flow_open();
	if (!initial)
	    master_services_start();
    }
    master_conf_free(&conf);
    str_free(&errors);
    mr_free(path);
    master_state_changed();
}

void master_services_start(void)
{
    for (master_serv_t *s = master_services; s; s = s->next)
	master_serv_update(s);
}

void master_services_close_all(void)
{
    master_stopping = 1;
    for (master_serv_t *s = master_services; s; s = s->next) {
	master_watch(s, MASTER_WATCH_NONE);
	if (s->listen_fd >= 0)
	    close(s->listen_fd);
	s->listen_fd = -1;
    }
}
