/*
 * scan.c - mailroom-scan: scan files (or standard input) with clamd the
 * way the content filter does, to test a clamd setup.
 *
 *   mailroom-scan [-c config_dir] [-S socket] [-m max_size] [-t timeout] [-i] [FILE...]
 *   mailroom-scan -s [-c config_dir] [-A spamd_address] [-u user] [FILE...]
 *
 * Prints one line per file: "FILE: OK", "FILE: NAME FOUND", or
 * "FILE: ERROR reason" (also for a file larger than clamd_max_size).
 * Exit status: 0 all clean, 1 something infected (and no error), 2 an
 * error. A file is handed to clamd as the content filter hands it a
 * message: its descriptor over a Unix socket (clamd_pass_descriptor),
 * streamed over TCP, with -i, or for a pipe. Parameters: clamd_socket,
 * clamd_timeout, clamd_max_size, clamd_pass_descriptor from
 * mailroom.conf (if there is one), overridden by the options.
 *
 * With -s, each file goes to the spam scanner of the content filter
 * instead (spam_filter.h: spamd, or the built-in rules and Bayes), for
 * the recipient user: "FILE: SPAM 12.3/5.0 scanner RULES", "FILE: HAM
 * ...", "FILE: UNSCANNED reason" or "FILE: ERROR reason"; exit status 0
 * all ham, 1 some spam, 2 an error or a file not scanned.
 *
 * Runs as whoever calls it; trusts nothing it reads (the files go to
 * clamd or the scorer, the replies are judged by the clients).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/msg.h"
#include "global/config.h"
#include "global/clamd_client.h"
#include "global/spam_filter.h"

#define SCAN_EXIT_CLEAN 0
#define SCAN_EXIT_INFECTED 1
#define SCAN_EXIT_ERROR 2

/* scan_usage - explain and exit */
static void scan_usage(void)
{
    fprintf(stderr, "usage: mailroom-scan [-c config_dir] [-S socket] [-m max_size]"
		    " [-t timeout] [-i] [FILE...]\n"
		    "       mailroom-scan -s [-c config_dir] [-A spamd_address] [-u user]"
		    " [FILE...]\n");
    exit(SCAN_EXIT_ERROR);
}

/* scan_die - a configuration problem: exit with the error status (not
 * msg_fatal's 1, which means "infected" here) */
static void scan_die(const char *error)
{
    msg_error("%s", error);
    exit(SCAN_EXIT_ERROR);
}

/* scan_one - scan a file ("-": standard input); returns an exit status */
static int scan_one(const char *name, const char *sock, int timeout, long long max)
{
    clamd_result_t res;
    int fd = strcmp(name, "-") == 0 ? 0 : open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
	printf("%s: ERROR cannot open: %s\n", name, strerror(errno));
	return SCAN_EXIT_ERROR;
    }
    clamd_scan_fd(sock, timeout, max, fd, config_bool("clamd_pass_descriptor"), &res);
    if (fd != 0)
	close(fd);
    switch (res.status) {
    case CLAMD_CLEAN:
	printf("%s: OK\n", name);
	return SCAN_EXIT_CLEAN;
    case CLAMD_INFECTED:
	printf("%s: %s FOUND\n", name, res.text);
	return SCAN_EXIT_INFECTED;
    default:
	printf("%s: ERROR %s\n", name, res.text);
	return SCAN_EXIT_ERROR;
    }
}

/* scan_spam_one - score a file with the spam scanner; an exit status */
static int scan_spam_one(const char *name, const char *user)
{
    spam_policy_t policy = {.user = user, .threshold = SPAM_POLICY_THRESHOLD_DEFAULT};
    spam_verdict_t v;
    char score[32], threshold[32];
    int fd = strcmp(name, "-") == 0 ? 0 : open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
	printf("%s: ERROR cannot open: %s\n", name, strerror(errno));
	return SCAN_EXIT_ERROR;
    }
    spam_filter_fd(fd, &policy, &v);
    if (fd != 0)
	close(fd);
    spam_format_points(v.score, score, sizeof(score));
    spam_format_points(v.threshold, threshold, sizeof(threshold));
    switch (v.status) {
    case SPAM_VERDICT_HAM:
    case SPAM_VERDICT_SPAM:
	printf("%s: %s %s/%s %s %s\n", name, v.status == SPAM_VERDICT_SPAM ? "SPAM" : "HAM", score,
	       threshold, v.scanner, v.rules[0] ? v.rules : "-");
	return v.status == SPAM_VERDICT_SPAM ? SCAN_EXIT_INFECTED : SCAN_EXIT_CLEAN;
    case SPAM_VERDICT_UNSCANNED:
	printf("%s: UNSCANNED %s\n", name, v.reason);
	return SCAN_EXIT_ERROR;
    default:
	printf("%s: ERROR %s\n", name, v.reason);
	return SCAN_EXIT_ERROR;
    }
}

/* scan_setting - an option overrides the parameter, once it fits the
 * parameter's declaration */
static void scan_setting(const char *name, const char *option)
{
    const param_def_t *def;
    const char *problem;
    long long num;

    if (option == NULL)
	return;
    for (def = params_filter; def->name && strcmp(def->name, name) != 0; def++)
	/* void */;
    if (def->name == NULL)
	msg_panic("scan_setting: %s is not a filter parameter", name);
    if (config_value_check(def, option, &num, &problem) < 0) {
	msg_error("%s = %s: %s", name, option, problem);
	exit(SCAN_EXIT_ERROR);
    }
    config_override(name, option);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *sock = NULL, *max = NULL, *timeout = NULL, *error;
    const char *spamd = NULL, *user = NULL, *instream = NULL;
    int ch, status = SCAN_EXIT_CLEAN, r, spam = 0;

    msg_init("mailroom-scan");
    while ((ch = getopt(argc, argv, "c:S:m:t:isA:u:")) != -1) {
	switch (ch) {
	case 'c':
	    dir = optarg;
	    break;
	case 'S':
	    sock = optarg;
	    break;
	case 'm':
	    max = optarg;
	    break;
	case 't':
	    timeout = optarg;
	    break;
	case 'i':
	    instream = "no";
	    break;
	case 's':
	    spam = 1;
	    break;
	case 'A':
	    spamd = optarg;
	    break;
	case 'u':
	    user = optarg;
	    break;
	default:
	    scan_usage();
	}
    }
    if (config_load(dir, &error) < 0 && dir != NULL)
	scan_die(error);
    scan_setting("clamd_socket", sock);
    scan_setting("clamd_max_size", max);
    scan_setting("clamd_timeout", timeout);
    scan_setting("clamd_pass_descriptor", instream);
    scan_setting("filterd_spamd_address", spamd);
    if ((spamd || user) && !spam)
	scan_usage();
    if (config_fill(&error) < 0)
	scan_die(error);
    for (int i = optind; i < argc || i == optind; i++) {
	if (spam)
	    r = scan_spam_one(i < argc ? argv[i] : "-", user);
	else
	    r = scan_one(i < argc ? argv[i] : "-", config_str("clamd_socket"),
			 (int)config_time("clamd_timeout"), config_size("clamd_max_size"));
	if (r == SCAN_EXIT_ERROR || (r == SCAN_EXIT_INFECTED && status == SCAN_EXIT_CLEAN))
	    status = r;
	fflush(stdout);
    }
    return status;
}
