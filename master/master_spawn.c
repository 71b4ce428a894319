/*
 * master_spawn.c - forking children, hearing from them, reaping them.
 *
 * A child finds its service's status pipe at MASTER_STATUS_FD and the
 * listening socket at MASTER_LISTEN_FD, and tells master "idle" or
 * "busy" with a fixed-size mail_status_t, which also says whether it took
 * a client yet. A new child is "starting" until its first message: it is
 * neither idle (it accepts nothing yet, so neither master nor a sibling
 * that takes a client may count on it) nor busy (master_serv_starting:
 * master does not fork a second one for a connection it already forked
 * one for; master_services.c weighs the starting processes against the
 * connections waiting).
 *
 * Back-off: only a child that dies abnormally before it took its first
 * client (it never said "busy") counts as a failure: that is a daemon
 * that cannot start or cannot serve, and restarting it at once would
 * only spin. Each such failure holds the service for a second per
 * failure in a row; after service_failure_limit failures in a row the
 * service is throttled for service_throttle_time. A child that took a
 * client clears the count. A child that had served clients and then
 * died (killed, crashed on one client's input) is simply replaced, at
 * once: killing healthy processes never takes a whole service down.
 * A crashing daemon thus costs a few forks a minute, never a fork bomb.
 *
 * Status slots: each service generation has a page of MASTER_SLOTS_SIZE
 * bytes (a memfd) shared with its processes; master gives each new
 * process a free byte (-i N, the page at MASTER_SLOTS_FD), sets it to
 * busy (the process is starting), and the process sets it to idle when
 * it is ready and flips it between idle and busy around each client
 * (lib/master/mail_server.c). Master counts idle processes from the bytes
 * of its live processes whenever it decides (master_serv_avail), and is
 * woken by a message only when a process takes a client while none other
 * is idle. A process without a byte (more than MASTER_SLOTS_SIZE of them,
 * no memfd) reports every change by message, counted in proc->avail. The
 * page is written by unprivileged processes: master reads only the bytes
 * of the slots it handed out and compares them with IDLE, so a lying
 * process can at worst make master start processes up to the limit or
 * start none, which false messages could do as well.
 *
 * Flow tokens (lib/global/mail_flow.h): once master.conf runs qmgr,
 * master makes one pipe (both ends non-blocking) and keeps it for its
 * whole life, so tokens outlast a qmgr restart; it gives both ends to
 * qmgr and cleanup processes only (at MASTER_FLOW_READ_FD and
 * MASTER_FLOW_WRITE_FD), no other daemon can take or forge tokens.
 *
 * Retiring (reload, removed service): master closes its end of the
 * service's status pipe. Old children notice (the write end reports an
 * error), finish the client they have, and exit on their own; no
 * connection is cut. They no longer count against the service's limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master.h"
#include "master/mail_server.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"

typedef struct master_proc {
    struct master_proc *next;
    pid_t pid;
    master_serv_t *serv; /* NULL once the service is gone */
    char *path;          /* for log lines */
    int avail;           /* by message: processes without a slot */
    int slot;            /* byte in serv->slots, -1 none */
    int served;          /* said "busy" once: took a client */
    int reported;        /* past start-up: handles signals */
    int stale;           /* retired: no longer counted */
    int killed;          /* master sent SIGTERM */
} master_proc_t;

static master_proc_t *master_procs;

/* master_find_proc - the child with this pid */
static master_proc_t *master_find_proc(pid_t pid)
{
    for (master_proc_t *p = master_procs; p; p = p->next)
	if (p->pid == pid)
	    return p;
    return NULL;
}

/* master_child_argv - command line for a child (see mail_server.h) */
static char **master_child_argv(const master_serv_t *serv, int slot)
{
    char **argv = mr_calloc((size_t)serv->argc + 16, sizeof(char *));
    int n = 0;

    argv[n++] = serv->argv[0];
    argv[n++] = "-c";
    argv[n++] = (char *)config_dir();
    argv[n++] = "-n";
    argv[n++] = serv->name;
    argv[n++] = "-t";
    argv[n++] = (char *)master_type_name(serv->type);
    if (serv->unpriv)
	argv[n++] = "-u";
    if (serv->chroot)
	argv[n++] = "-r";
    if (event_now_ms() < serv->stress_until)
	argv[n++] = "-s";
    if (serv->wakeup > 0) {
	argv[n++] = "-w";
	argv[n++] = mr_format("%d", serv->wakeup);
    }
    if (slot >= 0) {
	argv[n++] = "-i";
	argv[n++] = mr_format("%d", slot);
    }
    for (int i = 1; i < serv->argc; i++)
	argv[n++] = serv->argv[i];
    return argv;
}

static int master_flow[2] = {-1, -1}; /* the flow-token pipe, or -1 */

/* master_flow_user - does the service take part in flow control? */
static int master_flow_user(const master_serv_t *serv)
{
    return strcmp(serv->argv[0], "qmgr") == 0 || strcmp(serv->argv[0], "cleanup") == 0;
}

void master_flow_open(void)
{
    int qmgr = 0;

    for (master_serv_t *s = master_services; s; s = s->next)
	qmgr |= strcmp(s->argv[0], "qmgr") == 0;
    if (!qmgr || master_flow[0] >= 0)
	return;
    if (pipe2(master_flow, O_NONBLOCK | O_CLOEXEC) < 0) {
	msg_warn("cannot create the flow-control pipe: %m; intake is not slowed down");
	master_flow[0] = master_flow[1] = -1;
    }
}

/* master_child_flow - in the child: the flow pipe at its descriptors
 * (r and w are copies above 10, closed here) */
static void master_child_flow(master_serv_t *serv, int r, int w)
{
    if (r >= 0 && w >= 0 && dup2(r, MASTER_FLOW_READ_FD) >= 0 &&
	dup2(w, MASTER_FLOW_WRITE_FD) >= 0) {
	sock_cloexec(MASTER_FLOW_READ_FD, 0);
	sock_cloexec(MASTER_FLOW_WRITE_FD, 0);
    }
    if (r >= 0)
	close(r);
    if (w >= 0)
	close(w);
}

/* master_child - in the new process: descriptors, signals, exec */
static void __attribute__((noreturn)) master_child(master_serv_t *serv, int slot)
{
    int status_fd = fcntl(serv->status_fd[1], F_DUPFD, 10);
    int listen_fd = fcntl(serv->listen_fd, F_DUPFD, 10);
    int slots_fd = slot >= 0 ? fcntl(serv->slots_fd, F_DUPFD, 10) : -1;
    int flow = master_flow[0] >= 0 && master_flow_user(serv);
    int flow_r = flow ? fcntl(master_flow[0], F_DUPFD, 10) : -1;
    int flow_w = flow ? fcntl(master_flow[1], F_DUPFD, 10) : -1;
    sigset_t none;

    msg_cleanup_hook(NULL);
    for (int sig = 1; sig < NSIG; sig++)
	if (sig != SIGKILL && sig != SIGSTOP)
	    signal(sig, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (status_fd < 0 || listen_fd < 0 || dup2(status_fd, MASTER_STATUS_FD) < 0 ||
	dup2(listen_fd, MASTER_LISTEN_FD) < 0)
	msg_fatal("%s: cannot set up descriptors: %m", serv->name);
    close(status_fd);
    close(listen_fd);
    sock_cloexec(MASTER_STATUS_FD, 0);
    sock_cloexec(MASTER_LISTEN_FD, 0);
    if (slot >= 0) {
	if (slots_fd < 0 || dup2(slots_fd, MASTER_SLOTS_FD) < 0)
	    slot = -1; /* report by message */
	else
	    sock_cloexec(MASTER_SLOTS_FD, 0);
	if (slots_fd >= 0)
	    close(slots_fd);
    }
    if (flow)
	master_child_flow(serv, flow_r, flow_w);
    execv(serv->path, master_child_argv(serv, slot));
    msg_fatal("service %s: exec %s: %m", serv->name, serv->path);
}

void master_slots_open(master_serv_t *serv)
{
    void *page = MAP_FAILED;
    int fd = memfd_create("mailroom-status-slots", MFD_CLOEXEC);

    if (fd >= 0 && ftruncate(fd, MASTER_SLOTS_SIZE) == 0)
	page = mmap(NULL, MASTER_SLOTS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (page == MAP_FAILED) {
	msg_warn("service %s: no status slots (%m): its processes report by message", serv->name);
	if (fd >= 0)
	    close(fd);
	return;
    }
    serv->slots = page;
    serv->slots_fd = fd;
    serv->slot_used = mr_calloc(MASTER_SLOTS_SIZE, 1);
}

/* master_slots_close - forget a generation's slots; its processes keep
 * their own mappings until they exit */
static void master_slots_close(master_serv_t *serv)
{
    if (serv->slots == NULL)
	return;
    munmap(serv->slots, MASTER_SLOTS_SIZE);
    close(serv->slots_fd);
    mr_free(serv->slot_used);
    serv->slots = NULL;
    serv->slots_fd = -1;
}

/* master_slot_take - a free slot for a new process, set to busy (it is
 * not idle before it says so: see master_serv_starting); -1 none */
static int master_slot_take(master_serv_t *serv)
{
    if (serv->slots == NULL)
	return -1;
    for (int i = 0; i < MASTER_SLOTS_SIZE; i++) {
	if (!serv->slot_used[i]) {
	    serv->slot_used[i] = 1;
	    __atomic_store_n(&serv->slots[i], MASTER_SLOT_BUSY, __ATOMIC_SEQ_CST);
	    return i;
	}
    }
    return -1;
}

/* master_slot_free - the process of this slot is gone (or never was) */
static void master_slot_free(master_serv_t *serv, int slot)
{
    if (slot < 0 || serv->slots == NULL)
	return;
    __atomic_store_n(&serv->slots[slot], MASTER_SLOT_BUSY, __ATOMIC_SEQ_CST);
    serv->slot_used[slot] = 0;
}

int master_serv_avail(const master_serv_t *serv)
{
    int n = 0;

    for (master_proc_t *p = master_procs; p; p = p->next) {
	if (p->serv != serv || p->stale)
	    continue;
	if (p->slot >= 0 && serv->slots != NULL)
	    n += __atomic_load_n(&serv->slots[p->slot], __ATOMIC_SEQ_CST) == MASTER_SLOT_IDLE;
	else
	    n += p->avail;
    }
    return n;
}

int master_serv_starting(const master_serv_t *serv)
{
    int n = 0;

    for (master_proc_t *p = master_procs; p; p = p->next)
	n += p->serv == serv && !p->stale && !p->reported;
    return n;
}

void master_spawn(master_serv_t *serv)
{
    master_proc_t *proc;
    sigset_t all, old;
    pid_t pid;

    int slot = master_slot_take(serv);

    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old); /* no handler runs in the child */
    pid = fork();
    if (pid == 0)
	master_child(serv, slot);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
	msg_warn("service %s: fork: %m", serv->name);
	master_slot_free(serv, slot);
	serv->hold_until = event_now_ms() + 1000;
	return;
    }
    proc = mr_calloc(1, sizeof(*proc));
    *proc = (master_proc_t){master_procs, pid, serv, mr_strdup(serv->path), 0, slot, 0, 0, 0, 0};
    master_procs = proc;
    serv->total++;
    if (msg_verbose)
	msg_info("service %s: started %s pid %ld", serv->name, serv->path, (long)pid);
    master_state_changed();
}

/* master_status_one - one status message from a child */
static void master_status_one(master_serv_t *serv, const mail_status_t *st)
{
    master_proc_t *proc = master_find_proc(st->pid);
    int avail = st->avail != 0;

    if (proc == NULL || proc->serv != serv || proc->stale)
	return;
    proc->reported = 1;
    serv->single = st->single != 0;
    if (st->taken && !proc->served) { /* its first client: it works */
	proc->served = 1;
	serv->fail_count = 0;
	serv->throttled = 0;
    }
    proc->avail = avail; /* counted only without a slot */
}

void master_status_event(int fd, int event, void *context)
{
    master_serv_t *serv = context;
    mail_status_t st[64];
    ssize_t n;

    while ((n = read(fd, st, sizeof(st))) > 0)
	for (size_t i = 0; i < (size_t)n / sizeof(st[0]); i++)
	    master_status_one(serv, &st[i]);
    master_serv_update(serv);
    master_state_changed();
}

/* master_failure - count an abnormal exit; hold or throttle the service */
static void master_failure(master_serv_t *serv)
{
    long long now = event_now_ms();
    long limit = config_int("service_failure_limit", 1, 1000);
    long throttle = config_time("service_throttle_time");

    serv->fail_count++;
    if (serv->fail_count < limit) {
	serv->hold_until = now + 1000LL * serv->fail_count;
	return;
    }
    serv->hold_until = now + 1000LL * throttle;
    serv->throttled = 1;
    msg_warn("service %s: throttling after repeated failures (%d in a row); "
	     "next attempt in %ld seconds",
	     serv->name, serv->fail_count, throttle);
}

/* master_exited - account for one child that is gone */
static void master_exited(master_proc_t *proc, int status)
{
    master_serv_t *serv = proc->serv;
    int abnormal = (WIFEXITED(status) && WEXITSTATUS(status) != 0) ||
		   (WIFSIGNALED(status) && !(proc->killed && WTERMSIG(status) == SIGTERM));

    if (WIFEXITED(status) && abnormal)
	msg_warn("process %s pid %ld exit status %d", proc->path, (long)proc->pid,
		 WEXITSTATUS(status));
    else if (abnormal)
	msg_warn("process %s pid %ld killed by signal %d", proc->path, (long)proc->pid,
		 WTERMSIG(status));
    if (serv == NULL)
	return;
    if (proc->stale) {
	serv->stale--;
    } else {
	serv->total--;
	master_slot_free(serv, proc->slot);
	if (abnormal && !proc->served)
	    master_failure(serv);
    }
    master_serv_update(serv);
}

void master_reap(void)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
	master_proc_t **pp, *proc;

	for (pp = &master_procs; *pp && (*pp)->pid != pid; pp = &(*pp)->next)
	    ;
	if ((proc = *pp) == NULL)
	    continue;
	*pp = proc->next;
	master_exited(proc, status);
	mr_free(proc->path);
	mr_free(proc);
	master_state_changed();
    }
}

void master_retire(master_serv_t *serv)
{
    for (master_proc_t *p = master_procs; p; p = p->next) {
	if (p->serv != serv || p->stale)
	    continue;
	p->stale = 1;
	serv->stale++;
    }
    serv->total = 0;
    master_slots_close(serv);
    if (serv->status_fd[0] >= 0) {
	event_disable(serv->status_fd[0]);
	close(serv->status_fd[0]);
	close(serv->status_fd[1]);
	serv->status_fd[0] = serv->status_fd[1] = -1;
    }
}

/* master_forget - a service is freed: its old children belong to no one */
void master_forget(master_serv_t *serv)
{
    for (master_proc_t *p = master_procs; p; p = p->next)
	if (p->serv == serv)
	    p->serv = NULL;
}

int master_children(void)
{
    int n = 0;

    for (master_proc_t *p = master_procs; p; p = p->next)
	n++;
    return n;
}

/* master_stress_children - the service is under stress: tell every process
 * of it that is past its start-up (before that, the signal would kill it) */
void master_stress_children(master_serv_t *serv)
{
    for (master_proc_t *p = master_procs; p; p = p->next)
	if (p->serv == serv && !p->stale && p->reported)
	    kill(p->pid, SERVER_STRESS_SIGNAL);
}

/* master_signal_all - send sig to every child */
static void master_signal_all(int sig)
{
    for (master_proc_t *p = master_procs; p; p = p->next) {
	kill(p->pid, sig);
	p->killed = 1;
    }
}

void master_stop_children(long timeout_s)
{
    long long deadline = event_now_ms() + timeout_s * 1000;

    master_stopping = 1;
    master_signal_all(SIGTERM);
    while (master_procs && event_now_ms() < deadline) {
	master_reap();
	if (master_procs)
	    usleep(20000);
    }
    if (master_procs) {
	msg_warn("%d process(es) still running after %lds: sending SIGKILL", master_children(),
		 timeout_s);
	master_signal_all(SIGKILL);
	while (master_procs) {
	    master_reap();
	    if (master_procs)
		usleep(20000);
	}
    }
}
