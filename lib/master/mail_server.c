/*
 * mail_server.c - the start-up sequence every skeleton shares.
 *
 * Command line (see mail_server.h): -c DIR -n SERVICE -t TYPE [-u] [-r]
 * [-w SECONDS] [-v] [-o name=value ...] [-S]. Anything else is fatal: a
 * daemon that does not understand its command line must not guess.
 *
 * Trust: the command line and mailroom.conf come from master and root;
 * they are trusted. Nothing from a client is read before post_init.
 *
 * Losing master: the kernel sends SERVER_ORPHAN_SIGNAL when master dies
 * (PR_SET_PDEATHSIG, set after the privilege drop, which would clear
 * it). The handler replaces the listening socket with a quiet pipe at once,
 * so that a master started right after a crash can bind the same
 * address while this process finishes the client it has; the skeleton
 * then exits instead of taking another client.
 *
 * Status: master learns whether a process is idle or busy from its
 * byte in the service's status slots (a page master shares with the
 * service's processes, mapped here at start-up from MASTER_SLOTS_FD; -i
 * names the byte), and from mail_status_t messages on the status pipe,
 * which wake master. A one-client-at-a-time process writes only its byte
 * around each client, and sends a message only when master must act: its
 * first client (master then stops counting its deaths as start-up
 * failures), or a client taken while no other process of the service is
 * idle (master may have to start one). Without slots (no -i, a page that
 * cannot be mapped) every change is a message, as the other skeletons
 * send them. The page is only a hint to master: a process that writes
 * nonsense there can make master start processes up to the service's
 * limit, or not start any, as false messages could.
 *
 * Stress: master starts a process with -s while its service is at its
 * process limit, and sends SERVER_STRESS_SIGNAL to the processes that
 * already run when the service reaches it. Either way the process is
 * "under stress" (server_stress) and every stream deadline is cut to the
 * length the daemon chose (stream_set_stress_deadline), waits in
 * progress included: clients that hold a slot while doing little lose
 * it quickly when others wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_flow.h"
#include "global/mail_params.h"
#include "global/mail_proto.h"
#include "server_int.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"
#include "util/sock.h"
#include "util/stream.h"

static char server_addr_buf[128] = "local";
static int server_is_stand_alone;
static int server_quiet_fd = -1; /* replaces the listening socket */
static volatile sig_atomic_t server_orphaned;
static int server_taken; /* took a client: it works */
static volatile sig_atomic_t server_stressed;
static unsigned char *server_slots;    /* the service's status slots, or NULL */
static int server_slot = -1;           /* our byte in them */
static int server_reported_taken = -1; /* taken in the last message, -1 none yet */
static int server_single;              /* one client at a time */

/* server_usage - complain about the command line and give up */
static void server_usage(const char *prog)
{
    msg_fatal("usage: %s -c config_dir -n service -t type [-u] [-r] [-w seconds] "
	      "[-i slot] [-v] [-o name=value] [-S]",
	      prog);
}

/* server_parse_args - the command line master built from master.conf */
static void server_parse_args(int argc, char **argv, server_args_t *args, const char ***overrides_r,
			      int *noverrides_r)
{
    static const char *overrides[256];
    int ch, n = 0;

    memset(args, 0, sizeof(*args));
    args->service = msg_progname();
    args->type = "unix";
    args->slot = -1;
    opterr = 0;
    while ((ch = getopt(argc, argv, "c:n:t:urw:i:vo:Ss")) != -1) {
	switch (ch) {
	case 'c':
	    args->config_dir = optarg;
	    break;
	case 'n':
	    args->service = optarg;
	    break;
	case 't':
	    args->type = optarg;
	    break;
	case 'u':
	    args->unpriv = 1;
	    break;
	case 'r':
	    args->chroot = 1;
	    break;
	case 'w':
	    args->wakeup = atoi(optarg);
	    break;
	case 'i':
	    args->slot = atoi(optarg);
	    break;
	case 'v':
	    msg_verbose++;
	    break;
	case 'S':
	    args->stand_alone = 1;
	    break;
	case 's':
	    args->stress = 1;
	    break;
	case 'o':
	    if (n >= (int)(sizeof(overrides) / sizeof(overrides[0])))
		msg_fatal("too many -o options");
	    overrides[n++] = optarg;
	    break;
	default:
	    server_usage(argv[0]);
	}
    }
    if (optind < argc)
	server_usage(argv[0]);
    *overrides_r = overrides;
    *noverrides_r = n;
}

/* server_load_config - mailroom.conf, then the -o overrides on top */
static void server_load_config(const server_args_t *args, const char **overrides, int n)
{
    const char *error;

    if (config_load(args->config_dir, &error) < 0)
	msg_fatal("%s", error);
    for (int i = 0; i < n; i++)
	if (config_parse_override(overrides[i]) < 0)
	    msg_fatal("bad -o option \"%s\": expected name=value with a known parameter name",
		      overrides[i]);
}

/*
 * server_drop_privileges - the one place where a daemon gives up root.
 *
 * Order: pre_init has already run with full privileges (it may open
 * keys, tables and log files that the unprivileged user cannot), then
 * chroot into queue_directory (-r), then setgroups/setgid/setuid to
 * mail_owner (-u), then privs_drop proves root cannot be regained and
 * sets PR_SET_NO_NEW_PRIVS. Only after that does post_init run and the
 * first byte of client input get read. A daemon with keep_root (local
 * delivery) may chroot but keeps its uid, to become each recipient; it
 * gets PR_SET_NO_NEW_PRIVS on the chroot path too.
 *
 * Chrooted, a daemon sees only the queue directory. What it reads at run
 * time from outside must be open before this point: the configuration
 * (read by then), the log (syslog's socket is connected at msg_target,
 * maillog_file opened), tables (pre_init, or proxy: through tabled), keys
 * (pre_init), and the time zone, loaded here by tzset() so that local
 * times in headers and logs stay right without /etc/localtime. TZ is set
 * (to the same file) when the environment has none: glibc reloads the
 * zone file at every strftime() while TZ is unset, an open and a read per
 * log line, and inside the jail that reload fails and falls back to UTC.
 */
static void server_drop_privileges(const server_args_t *args, const server_params_t *params)
{
    const char *jail = args->chroot ? config_str("queue_directory") : NULL;
    int root = privs_running_as_root();

    if (getenv("TZ") == NULL)
	setenv("TZ", ":/etc/localtime", 1);
    tzset();
    if (args->unpriv && !params->keep_root)
	privs_drop(config_str("mail_owner"), jail);
    else if (jail && root)
	privs_chroot(jail);
    mail_queue_set_chrooted(jail != NULL && root);
}

/*
 * server_orphan_handler - master died (the kernel's parent-death signal):
 * let go of the listening socket at once, so that a new master can bind
 * its address while this process finishes its client. dup2 over the
 * descriptor (rather than close) keeps the number from being reused by
 * the session. Only async-signal-safe calls here.
 */
static void server_orphan_handler(int sig)
{
    int saved = errno;

    (void)dup2(server_quiet_fd, MASTER_LISTEN_FD);
    server_orphaned = 1;
    errno = saved;
}

/* server_stress_handler - master says the service is at its process
 * limit: shorter deadlines from now on (async-signal-safe) */
static void server_stress_handler(int sig)
{
    server_stressed = 1;
    stream_stress();
}

int server_stress(void)
{
    return server_stressed != 0;
}

/* server_quiet_open - what replaces the listening socket when master
 * dies: the read end of a pipe whose write end stays open and unused, so
 * it never reports input and an event loop watching it stays quiet (a
 * /dev/null would look readable forever) */
static void server_quiet_open(void)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) < 0)
	msg_fatal("pipe: %m");
    server_quiet_fd = fds[0]; /* fds[1] is kept open on purpose */
}

/* server_watch_master - arrange to hear at once when master dies or
 * declares stress */
static void server_watch_master(const server_args_t *args)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = server_orphan_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SERVER_ORPHAN_SIGNAL, &sa, NULL) < 0)
	msg_fatal("sigaction: %m");
    sa.sa_handler = server_stress_handler;
    sa.sa_flags = 0; /* cut waits short */
    if (sigaction(SERVER_STRESS_SIGNAL, &sa, NULL) < 0)
	msg_fatal("sigaction: %m");
    if (args->stress)
	server_stress_handler(0);
    /* after the privilege drop: a change of ids clears the setting */
    if (prctl(PR_SET_PDEATHSIG, SERVER_ORPHAN_SIGNAL, 0, 0, 0) < 0)
	msg_fatal("prctl(PR_SET_PDEATHSIG): %m");
    if (server_master_gone()) /* it died before we asked */
	raise(SERVER_ORPHAN_SIGNAL);
}

int server_orphan(void)
{
    return server_orphaned != 0;
}

/* server_map_slots - map the status slots master passed, and let go of
 * the descriptor (a daemon that runs other programs must not pass it on);
 * without them every report is a message */
static void server_map_slots(const server_args_t *args)
{
    void *page;

    if (args->stand_alone || args->slot < 0 || args->slot >= MASTER_SLOTS_SIZE)
	return;
    page = mmap(NULL, MASTER_SLOTS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, MASTER_SLOTS_FD, 0);
    (void)close(MASTER_SLOTS_FD);
    if (page == MAP_FAILED) {
	msg_warn("cannot map the status slots: %m; reporting by message");
	return;
    }
    server_slots = page;
    server_slot = args->slot;
}

void server_startup(int argc, char **argv, const server_params_t *params, server_args_t *args)
{
    const char **overrides, *error;
    int noverrides;

    signal(SIGPIPE, SIG_IGN);
    (void)mail_flow_probe(); /* before anything else takes descriptors 6, 7 */
    msg_init(argv[0]);
    server_parse_args(argc, argv, args, &overrides, &noverrides);
    server_load_config(args, overrides, noverrides);
    server_set_stand_alone(args->stand_alone);
    msg_syslog_name(config_str("syslog_name"));
    if (msg_target_fallback(config_str("maillog_file"), config_str("maillog_fallback_file")) < 0) {
	/* stand-alone, a local user may not write the mail log */
	if (!args->stand_alone || msg_target("stderr") < 0)
	    msg_fatal("cannot open maillog_file %s", config_str("maillog_file"));
	msg_warn("cannot open maillog_file %s: logging to standard error",
		 config_str("maillog_file"));
    }
    if (config_fill(&error) < 0) /* every declared variable, before any client */
	msg_fatal("%s", error);
    if (var_debug_level > msg_verbose)
	msg_verbose = var_debug_level;
    server_map_slots(args);
    if (!args->stand_alone)
	server_quiet_open();
    if (params->pre_init)
	params->pre_init(args->service);
    server_drop_privileges(args, params);
    if (!args->stand_alone)
	server_watch_master(args);
    if (params->post_init)
	params->post_init(args->service);
    if (msg_verbose)
	msg_info("service %s (%s) started%s", args->service, args->type,
		 mail_queue_chrooted() ? ", chrooted" : "");
}

void server_one_at_a_time(void)
{
    server_single = 1;
}

void server_took_client(void)
{
    server_taken = 1;
}

/* server_slot_set - our byte in the status slots, if we have one */
static void server_slot_set(int avail)
{
    if (server_slots != NULL)
	__atomic_store_n(&server_slots[server_slot], avail ? MASTER_SLOT_IDLE : MASTER_SLOT_BUSY,
			 __ATOMIC_SEQ_CST);
}

/*
 * server_others_idle - is another process of the service idle? Our own
 * byte went busy just before (a sequentially consistent store), and the
 * fence orders it before these loads: of two processes taking clients at
 * once, at least one sees the other busy, so the last idle process never
 * goes busy unnoticed by both. Bytes other than IDLE count as busy.
 */
static int server_others_idle(void)
{
    const uint64_t *words = (const uint64_t *)server_slots;
    const uint64_t ones = 0x0101010101010101ULL;

    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (size_t i = 0; i < MASTER_SLOTS_SIZE / sizeof(uint64_t); i++) {
	uint64_t w = __atomic_load_n(&words[i], __ATOMIC_RELAXED) ^ ones;

	/* a byte that was IDLE is zero now */
	if (((w - ones) & ~w & (ones << 7)) != 0)
	    return 1;
    }
    return 0;
}

int server_report(int avail)
{
    static pid_t pid; /* servers never fork: ask once */
    mail_status_t st;
    ssize_t n;

    if (pid == 0)
	pid = getpid();
    server_slot_set(avail);
    memset(&st, 0, sizeof(st));
    st.pid = pid;
    st.avail = avail;
    st.taken = server_taken;
    st.single = server_single;
    do {
	n = write(MASTER_STATUS_FD, &st, sizeof(st));
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(st))
	return -1;
    server_reported_taken = server_taken;
    return 0;
}

int server_report_client(int avail)
{
    if (server_slots == NULL || server_reported_taken != server_taken)
	return server_report(avail);
    server_slot_set(avail);
    if (avail || server_others_idle())
	return 0;
    return server_report(avail);
}

int server_master_gone(void)
{
    struct pollfd pfd = {.fd = MASTER_STATUS_FD, .events = 0};

    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL));
}

void server_exit(const server_params_t *params)
{
    server_slot_set(0); /* not idle any more: master learns the rest from SIGCHLD */
    if (params->pre_exit)
	params->pre_exit();
    exit(0);
}

void server_client_nodelay(int fd, const server_args_t *args)
{
    int on = 1;

    if (strcmp(args->type, "inet") == 0)
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

void server_set_client_addr(int fd, const server_args_t *args)
{
    if (args->stand_alone || strcmp(args->type, "inet") == 0)
	sock_peer_addr(fd, server_addr_buf, sizeof(server_addr_buf), NULL);
    else
	mr_strlcpy(server_addr_buf, "local", sizeof(server_addr_buf));
}

const char *server_client_addr(void)
{
    return server_addr_buf;
}

void server_set_stand_alone(int yes)
{
    server_is_stand_alone = yes;
}

int server_stand_alone(void)
{
    return server_is_stand_alone;
}
