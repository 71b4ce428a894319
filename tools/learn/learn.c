/*
 * learn.c - mailroom-learn: teach the spam scorer what is spam and what
 * is ham, report messages into the report spool, and learn the spool.
 *
 *   mailroom-learn [-c dir] --spam|--ham|--forget [--user U] [FILE...]
 *   mailroom-learn [-c dir] --report --spam|--ham [--user U | --user-from-extension]
 *                  [--unwrap] [FILE...]
 *   mailroom-learn [-c dir] --spool [--limit N]
 *
 * Learning goes where the scoring happens (spam_learn_fd): spamd's TELL
 * when filterd_spamd_address is set, else the Bayes database under
 * spam_bayes_directory (per user with spam_bayes_per_user). --report
 * only spools the message (spam_report_directory), for a later --spool
 * run or filterd. --user-from-extension takes the user from the
 * environment of a command delivery (EXTENSION@DOMAIN: mail to
 * spam-report+alice@example.org reports for alice@example.org);
 * --unwrap reports the message attached to the one read, when there is
 * one (a message forwarded as an attachment).
 *
 * Privileges: runs as whoever calls it. Started by root, it opens the
 * files named first, then becomes mail_owner (the owner of the Bayes
 * databases and the spool) before it touches anything else. Trusts
 * nothing it reads: messages are data for the tokenizer, report heads
 * are parsed bounded. Exit status: 0 ok, 1 some message could not be
 * learned or spooled, 2 usage or configuration error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"
#include "util/safe_open.h"
#include "util/str.h"
#include "global/config.h"
#include "global/spam_filter.h"
#include "global/spam_report.h"

#define LEARN_EXIT_OK 0
#define LEARN_EXIT_FAILED 1
#define LEARN_EXIT_USAGE 2

/* Most files named on one command line */
#define LEARN_FILES_MAX 10000

/* learn_opts_t - the command line */
typedef struct learn_opts {
    const char *config_dir;
    int verdict; /* 1 spam, 0 ham, -1 none */
    int forget;
    int report;
    int spool;
    int limit;
    int user_from_extension;
    int unwrap;
    const char *user;
} learn_opts_t;

/* learn_usage - explain and exit */
static void learn_usage(void)
{
    fprintf(stderr,
	    "usage: mailroom-learn [-c dir] --spam|--ham|--forget [--user U] [FILE...]\n"
	    "       mailroom-learn [-c dir] --report --spam|--ham [--user U|--user-from-extension]"
	    " [--unwrap] [FILE...]\n"
	    "       mailroom-learn [-c dir] --spool [--limit N]\n");
    exit(LEARN_EXIT_USAGE);
}

/* Set once the log goes to the mail log instead of standard error */
static int learn_logging;

/* learn_die - a usage or configuration problem: said on standard error,
 * and in the mail log once it is open */
static void learn_die(const char *text)
{
    if (learn_logging)
	fprintf(stderr, "mailroom-learn: error: %s\n", text);
    msg_error("%s", text);
    exit(LEARN_EXIT_USAGE);
}

/* learn_parse - the options */
static void learn_parse(int argc, char **argv, learn_opts_t *o)
{
    static const struct option longs[] = {
	{"spam", no_argument, NULL, 's'},
	{"ham", no_argument, NULL, 'h'},
	{"forget", no_argument, NULL, 'f'},
	{"report", no_argument, NULL, 'r'},
	{"unwrap", no_argument, NULL, 'w'},
	{"spool", no_argument, NULL, 'S'},
	{"limit", required_argument, NULL, 'l'},
	{"user", required_argument, NULL, 'u'},
	{"user-from-extension", no_argument, NULL, 'E'},
	{NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof(*o));
    o->verdict = -1;
    o->limit = 1000;
    while ((ch = getopt_long(argc, argv, "c:", longs, NULL)) != -1) {
	switch (ch) {
	case 'c':
	    o->config_dir = optarg;
	    break;
	case 's':
	case 'h':
	    o->verdict = ch == 's';
	    break;
	case 'f':
	    o->forget = 1;
	    break;
	case 'r':
	    o->report = 1;
	    break;
	case 'w':
	    o->unwrap = 1;
	    break;
	case 'S':
	    o->spool = 1;
	    break;
	case 'l':
	    if ((o->limit = atoi(optarg)) <= 0)
		learn_usage();
	    break;
	case 'u':
	    o->user = optarg;
	    break;
	case 'E':
	    o->user_from_extension = 1;
	    break;
	default:
	    learn_usage();
	}
    }
    if (o->spool ? (o->verdict >= 0 || o->forget || o->report || optind < argc)
		 : (o->forget ? o->verdict >= 0 || o->report : o->verdict < 0))
	learn_usage();
    if ((o->user && o->user_from_extension) || (o->unwrap && !o->report))
	learn_usage();
}

/* learn_extension_user - EXTENSION@DOMAIN from a command delivery */
static const char *learn_extension_user(void)
{
    const char *ext = getenv("EXTENSION"), *domain = getenv("DOMAIN");

    if (ext == NULL || *ext == 0 || domain == NULL || *domain == 0)
	learn_die("--user-from-extension: no EXTENSION and DOMAIN in the environment"
		  " (mail to the report address needs a +user extension)");
    return mr_format("%s@%s", ext, domain);
}

/* learn_open - open a message ("-": standard input); -1 with a message */
static int learn_open(const char *name)
{
    int fd = strcmp(name, "-") == 0 ? 0 : open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
	printf("%s: ERROR cannot open: %s\n", name, strerror(errno));
    return fd;
}

/* learn_regular - a descriptor spamd can be told the size of: a pipe is
 * copied into an unnamed temporary file first */
static int learn_regular(int fd, const char *name)
{
    char buf[65536];
    FILE *tmp;
    ssize_t n;
    int out;

    if (lseek(fd, 0, SEEK_CUR) >= 0)
	return fd;
    if ((tmp = tmpfile()) == NULL || (out = dup(fileno(tmp))) < 0) {
	printf("%s: ERROR cannot make a temporary file: %s\n", name, strerror(errno));
	return -1;
    }
    fclose(tmp);
    while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
	if (n > 0 && write_all(out, buf, (size_t)n) < 0)
	    n = -1;
    if (n < 0 || lseek(out, 0, SEEK_SET) < 0) {
	printf("%s: ERROR cannot copy the message: %s\n", name, strerror(errno));
	close(out);
	return -1;
    }
    return out;
}

/* learn_drop - started by root: become mail_owner */
static void learn_drop(void)
{
    if (privs_running_as_root())
	privs_drop(config_str("mail_owner"), NULL);
}

/* learn_slurp - the message into out, at most max bytes; 0 ok, -1 error
 * (said on standard output) */
static int learn_slurp(int fd, const char *name, long long max, str_t *out)
{
    char buf[65536];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) != 0) {
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0) {
	    printf("%s: ERROR cannot read: %s\n", name, strerror(errno));
	    return -1;
	}
	if ((long long)(str_len(out) + (size_t)n) > max) {
	    printf("%s: ERROR message larger than %lld bytes\n", name, max);
	    return -1;
	}
	str_append(out, buf, (size_t)n);
    }
    return 0;
}

/* learn_report - spool one message (or the one attached to it) */
static int learn_report(const learn_opts_t *o, const char *name, int fd)
{
    str_t *msg = str_new(65536);
    size_t off = 0, len;
    const char *text;
    int rc = -1;

    if (learn_slurp(fd, name, config_size("spam_report_max_size"), msg) == 0) {
	len = str_len(msg);
	if (o->unwrap && !spam_report_unwrap(str_data(msg), str_len(msg), &off, &len))
	    printf("%s: no attached message; reporting it as it is\n", name);
	rc = spam_report_write(config_str("spam_report_directory"), o->user, o->verdict,
			       str_data(msg) + off, len, &text);
	if (rc < 0)
	    printf("%s: ERROR %s\n", name, text);
	else
	    printf("%s: reported\n", name);
    }
    str_free(&msg);
    return rc < 0 ? LEARN_EXIT_FAILED : LEARN_EXIT_OK;
}

/* learn_one - learn or spool one open message; returns an exit status */
static int learn_one(const learn_opts_t *o, const char *name, int fd)
{
    const char *text;
    int rc, copy;

    if (o->report)
	return learn_report(o, name, fd);
    if ((copy = learn_regular(fd, name)) < 0)
	return LEARN_EXIT_FAILED;
    rc = spam_learn_fd(copy, o->user, o->verdict, o->forget, &text);
    if (copy != fd)
	close(copy);
    if (rc < 0)
	printf("%s: ERROR %s\n", name, text);
    else
	printf("%s: %s\n", name, text);
    return rc < 0 ? LEARN_EXIT_FAILED : LEARN_EXIT_OK;
}

/* learn_files - every file named (standard input when none) */
static int learn_files(const learn_opts_t *o, int argc, char **argv)
{
    int nfiles = argc > optind ? argc - optind : 1, status = LEARN_EXIT_OK, *fds;

    if (nfiles > LEARN_FILES_MAX)
	learn_die("too many files");
    fds = mr_alloc(sizeof(*fds) * (size_t)nfiles);
    for (int i = 0; i < nfiles; i++)
	fds[i] = learn_open(argc > optind ? argv[optind + i] : "-");
    learn_drop();
    for (int i = 0; i < nfiles; i++) {
	const char *name = argc > optind ? argv[optind + i] : "-";

	if (fds[i] < 0 || learn_one(o, name, fds[i]) != LEARN_EXIT_OK)
	    status = LEARN_EXIT_FAILED;
	if (fds[i] > 0)
	    close(fds[i]);
	fflush(stdout);
    }
    mr_free(fds);
    return status;
}

/* learn_spool - drain the report spool */
static int learn_spool(const learn_opts_t *o)
{
    spam_report_stats_t st;
    const char *error;

    learn_drop();
    if (spam_report_run(config_str("spam_report_directory"), o->limit, &st, &error) < 0) {
	printf("ERROR %s\n", error);
	return LEARN_EXIT_FAILED;
    }
    printf("learned %d, failed %d, bad %d\n", st.learned, st.failed, st.bad);
    return st.failed || st.bad ? LEARN_EXIT_FAILED : LEARN_EXIT_OK;
}

int main(int argc, char **argv)
{
    learn_opts_t o;
    const char *error;

    msg_init("mailroom-learn");
    msg_target("stderr");
    learn_parse(argc, argv, &o);
    if (config_load(o.config_dir, &error) < 0 && o.config_dir != NULL)
	learn_die(error);
    if (config_fill(&error) < 0)
	learn_die(error);
    /* what is learned goes to the mail log; results to standard output */
    msg_syslog_name(config_str("syslog_name"));
    if (msg_target(config_str("maillog_file")) < 0)
	msg_target("stderr");
    else
	learn_logging = 1;
    if (o.user_from_extension)
	o.user = learn_extension_user();
    return o.spool ? learn_spool(&o) : learn_files(&o, argc, argv);
}
