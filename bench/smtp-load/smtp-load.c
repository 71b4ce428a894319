/*
 * smtp-load - SMTP load generator for benchmarks.
 *
 * Usage: smtp-load [options] host:port
 *
 *   -c N     concurrent sessions (threads), default 1
 *   -m N     messages in all, default 100
 *   -s N     message size in bytes, headers included (approximate: the
 *            body ends on a whole line), default 4096
 *   -r N     recipients per message, default 1
 *   -t ADDR  recipient; repeat or separate with commas for several, used
 *            round robin; default bob@mailroom.test
 *   -f ADDR  envelope sender, default smtp-load@mailroom.test
 *   -n N     messages per connection before QUIT, default 1 (a new
 *            connection per message, as Postfix's smtp-source does by
 *            default); 0 keeps one connection per session for all of
 *            its messages
 *   -P       pipeline MAIL/RCPT/DATA (RFC 2920) when the server offers it
 *   -V       vary the body: each message's body starts with a line of its
 *            own (its number and the run's), the rest is the same text (a
 *            scanner's cache of clean contents then does not see the same
 *            body again and again); the size stays the same
 *   -H NAME  EHLO name, default smtp-load.invalid
 *   -w SECS  timeout for each read or write, default 60
 *   -l TEXT  what to call the server in the RESULT line (default host:port)
 *   -d SECS  start no new message after SECS seconds (a time-bounded
 *            run: with a large -m, every run lasts about as long)
 *   -q       print only the RESULT line
 *   -S       STARTTLS after EHLO (then EHLO again)
 *   -T       TLS from the first byte (port 465)
 *   -R       resume the thread's last TLS session at each new connection
 *   -A USER:PASS  AUTH PLAIN after EHLO (over TLS with -S or -T)
 *   -o FILE  write a line "RUN.TICKET SECONDS" for every accepted
 *            message: the Message-ID's local part and the wall-clock
 *            time (seconds since the epoch, microseconds) its 250 came
 *            back (bench/delivery.py matches them with Maildir files)
 *
 * What it does: starts -c threads that share one message counter; each
 * runs SMTP sessions (load_session.c) until -m messages have been tried.
 * The body is generated once: lines of 40 to 76 characters of words, with
 * a blank line between paragraphs, so the server's line handling sees
 * ordinary text. Each message gets its own Message-ID.
 *
 * Output: a short summary for people and one line
 *   RESULT server=... sessions=... size=... msgs=... accepted=...
 *          secs=... rate=... p50_ms=... p90_ms=... p99_ms=... max_ms=...
 * (load_stats.c says what each key means; bench/README.md too).
 * Exit status: 0 when every message was accepted, 1 when some were not,
 * 2 for a usage error.
 *
 * Trust: it is a test client. It talks only to the address it is given
 * and trusts nothing the server says beyond the three-digit reply codes.
 * It runs as whoever starts it and needs no privileges.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "load.h"

#define LOAD_MAX_SESSIONS 1000

static long load_next_ticket;   /* shared message counter */
static long load_total;         /* -m */
static double load_deadline_ms; /* -d as a clock value, 0: none */

/* load_take_ticket - the next message number, or -1 when all are taken */
static long load_take_ticket(void)
{
    long t;

    if (load_deadline_ms > 0 && load_now_ms() >= load_deadline_ms)
	return -1;
    t = __atomic_fetch_add(&load_next_ticket, 1, __ATOMIC_RELAXED);
    return t < load_total ? t : -1;
}

/* load_usage - complain and exit 2 */
static void load_usage(void)
{
    fprintf(stderr, "usage: smtp-load [-c sessions] [-m messages] [-s size] [-r rcpts]\n"
		    "       [-t rcpt[,rcpt...]] [-f sender] [-n msgs-per-connection] [-P] [-V]\n"
		    "       [-H ehlo-name] [-w timeout] [-d seconds] [-l label] [-o file] [-q]\n"
		    "       host:port\n");
    exit(2);
}

/* load_number - parse a non-negative option value within bounds */
static long load_number(const char *text, char opt, long min, long max)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (*text == 0 || *end != 0 || v < min || v > max) {
	fprintf(stderr, "smtp-load: bad value for -%c: %s (%ld..%ld)\n", opt, text, min, max);
	exit(2);
    }
    return v;
}

/* load_add_rcpts - add comma-separated recipients to the list */
static void load_add_rcpts(load_conf_t *conf, const char *arg)
{
    char *copy = mr_strdup(arg), *cp = copy, *addr;

    while ((addr = next_token(&cp, ",")) != NULL) {
	conf->to = mr_reallocarray(conf->to, conf->to_count + 1, sizeof(char *));
	conf->to[conf->to_count++] = mr_strdup(addr);
    }
    mr_free(copy);
}

/* load_rand - small deterministic generator for the body text */
static unsigned load_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

/* load_make_body - about len bytes of CRLF text lines; never a leading dot */
static str_t *load_make_body(size_t len)
{
    static const char *words[] = {
	"the",      "queue",   "message",   "delivery", "server",   "mail",   "of",     "and",
	"a",        "to",      "recipient", "envelope", "header",   "body",   "report", "is",
	"for",      "with",    "quarterly", "figures",  "attached", "please", "find",   "meeting",
	"tomorrow", "regards", "thanks",    "schedule", "update",   "in",
    };
    str_t *body = str_new(len + 128);
    unsigned seed = 4711;
    size_t line_start = 0, want = 60, lines = 0;

    while (str_len(body) + 2 < len || lines < 2) {
	const char *w = words[load_rand(&seed) % (sizeof(words) / sizeof(words[0]))];

	if (str_len(body) > line_start)
	    str_appendc(body, ' ');
	str_appends(body, w);
	if (str_len(body) - line_start >= want || str_len(body) + 2 >= len) {
	    str_appends(body, "\r\n");
	    if (++lines % 12 == 0)
		str_appends(body, "\r\n");
	    line_start = str_len(body);
	    want = 40 + load_rand(&seed) % 37;
	}
    }
    return body;
}

/* load_header_size - bytes of the per-message headers of message 0 (and
 * of its own body line with -V) */
static size_t load_header_size(const load_conf_t *conf)
{
    str_t *h = str_new(512);
    size_t n;

    str_printf(h,
	       "From: <%s>\r\nTo: <%s>\r\nSubject: smtp-load test message %ld\r\n"
	       "Date: %s\r\nMessage-ID: <%ld.%ld@smtp-load.invalid>\r\n\r\n",
	       conf->from, conf->to[0], 0L, conf->date, conf->run_id, 0L);
    if (conf->vary)
	str_appendf(h, LOAD_VARY_LINE, 0L, conf->run_id);
    n = str_len(h);
    str_free(&h);
    return n;
}

/* load_auth_plain - "user:password" as an AUTH PLAIN command line */
static char *load_auth_plain(const char *arg)
{
    const char *colon = strchr(arg, ':');
    unsigned char raw[512], b64[700];
    size_t ulen, plen;

    if (colon == NULL || (ulen = (size_t)(colon - arg)) + strlen(colon) + 2 > sizeof(raw))
	load_usage();
    plen = strlen(colon + 1);
    raw[0] = 0;
    memcpy(raw + 1, arg, ulen);
    raw[1 + ulen] = 0;
    memcpy(raw + 2 + ulen, colon + 1, plen);
    EVP_EncodeBlock(b64, raw, (int)(2 + ulen + plen));
    return mr_format("AUTH PLAIN %s", (char *)b64);
}

/* load_options - parse the command line into conf */
static void load_options(int argc, char **argv, load_conf_t *conf, int *quiet)
{
    int ch;

    while ((ch = getopt(argc, argv, "c:m:s:r:t:f:n:PVH:w:d:l:o:qSTRA:")) != -1) {
	switch (ch) {
	case 'c':
	    conf->sessions = (int)load_number(optarg, ch, 1, LOAD_MAX_SESSIONS);
	    break;
	case 'm':
	    conf->msgs = load_number(optarg, ch, 1, 100000000L);
	    break;
	case 's':
	    conf->size = (size_t)load_number(optarg, ch, 1, 1L << 30);
	    break;
	case 'r':
	    conf->rcpts = (int)load_number(optarg, ch, 1, 10000);
	    break;
	case 't':
	    load_add_rcpts(conf, optarg);
	    break;
	case 'f':
	    conf->from = optarg;
	    break;
	case 'n':
	    conf->per_conn = load_number(optarg, ch, 0, 100000000L);
	    break;
	case 'P':
	    conf->pipelining = 1;
	    break;
	case 'V':
	    conf->vary = 1;
	    break;
	case 'H':
	    conf->helo = optarg;
	    break;
	case 'w':
	    conf->timeout = (int)load_number(optarg, ch, 1, 3600);
	    break;
	case 'd':
	    conf->duration = (int)load_number(optarg, ch, 1, 86400);
	    break;
	case 'l':
	    conf->label = optarg;
	    break;
	case 'o':
	    if ((conf->accept_log = fopen(optarg, "w")) == NULL)
		msg_fatal("cannot create %s: %s", optarg, strerror(errno));
	    break;
	case 'q':
	    *quiet = 1;
	    break;
	case 'S':
	    conf->tls = LOAD_TLS_STARTTLS;
	    break;
	case 'T':
	    conf->tls = LOAD_TLS_WRAPPER;
	    break;
	case 'R':
	    conf->tls_resume = 1;
	    break;
	case 'A':
	    conf->auth_plain = load_auth_plain(optarg);
	    break;
	default:
	    load_usage();
	}
    }
    if (optind != argc - 1)
	load_usage();
    conf->server = argv[optind];
    if (strchr(conf->server, ':') == NULL)
	conf->server = mr_format("%s:25", conf->server);
    if (conf->label == NULL)
	conf->label = conf->server;
    if (conf->to_count == 0)
	load_add_rcpts(conf, "bob@mailroom.test");
}

/* load_prepare - date, run id and the body, once for all messages */
static void load_prepare(load_conf_t *conf)
{
    time_t now = time(NULL);
    size_t head;

    strftime(conf->date, sizeof(conf->date), "%a, %d %b %Y %H:%M:%S %z", localtime(&now));
    conf->run_id = (long)now * 100000L + getpid() % 100000L;
    head = load_header_size(conf);
    conf->body = load_make_body(conf->size > head ? conf->size - head : 1);
}

typedef struct load_thread {
    pthread_t tid;
    const load_conf_t *conf;
    load_stats_t stats;
} load_thread_t;

/* load_thread_main - body of one session thread */
static void *load_thread_main(void *arg)
{
    load_thread_t *t = arg;

    load_session_run(t->conf, &t->stats, load_take_ticket);
    return NULL;
}

/* load_run - start the sessions, wait for them, merge their figures */
static double load_run(const load_conf_t *conf, load_stats_t *total)
{
    load_thread_t *threads = mr_calloc(conf->sessions, sizeof(*threads));
    double t0 = load_now_ms(), secs;
    int i, err;

    for (i = 0; i < conf->sessions; i++) {
	threads[i].conf = conf;
	load_stats_init(&threads[i].stats);
	if ((err = pthread_create(&threads[i].tid, NULL, load_thread_main, &threads[i])) != 0)
	    msg_fatal("pthread_create: %s", strerror(err));
    }
    for (i = 0; i < conf->sessions; i++)
	pthread_join(threads[i].tid, NULL);
    secs = (load_now_ms() - t0) / 1000.0;
    for (i = 0; i < conf->sessions; i++) {
	load_stats_merge(total, &threads[i].stats);
	load_stats_free(&threads[i].stats);
    }
    mr_free(threads);
    return secs;
}

/* main - options, run, report */
int main(int argc, char **argv)
{
    load_conf_t conf = {
	.helo = "smtp-load.invalid",
	.from = "smtp-load@mailroom.test",
	.sessions = 1,
	.msgs = 100,
	.per_conn = 1,
	.rcpts = 1,
	.size = 4096,
	.timeout = 60,
    };
    load_stats_t total;
    int quiet = 0;
    double secs;

    msg_init("smtp-load");
    signal(SIGPIPE, SIG_IGN);
    load_options(argc, argv, &conf, &quiet);
    load_prepare(&conf);
    load_total = conf.msgs;
    if (conf.duration)
	load_deadline_ms = load_now_ms() + conf.duration * 1000.0;
    load_stats_init(&total);
    secs = load_run(&conf, &total);
    load_stats_report(&conf, &total, secs, quiet);
    if (conf.accept_log && fclose(conf.accept_log) != 0)
	msg_fatal("cannot write the -o file: %s", strerror(errno));
    load_stats_free(&total);
    return total.failed == 0 ? 0 : 1;
}
