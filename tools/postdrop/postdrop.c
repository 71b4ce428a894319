/*
 * postdrop.c - mailroom-postdrop: put a locally submitted message into
 * maildrop/.
 *
 * What it does: creates a temporary file in maildrop/ and names its queue
 * ID on standard output as an attribute list ({queue_id=ID}, then an
 * empty line), reads one maildrop file from standard input as queue-file
 * records (lib/queue/record.h), checks it, writes it, fsyncs it, renames
 * it to its queue ID, answers {status=N, reason=TEXT} the way cleanup
 * does (N a CLEANUP_STAT_* code, 0 committed; lib/queue/cleanup_client.h
 * cleanup_open_postdrop is the client), and wakes the pickup service with
 * one byte on public/pickup. If pickup is not running the file waits in
 * maildrop/ until it is: a lost wake-up costs time, never mail.
 *
 * Privileges: installed setgid setgid_group (mailroom-drop), mode 2755,
 * so that it can create files in maildrop/ (mode 1730, group
 * setgid_group: writable and searchable for the group, not listable;
 * sticky, so nobody removes another user's file). It never gets root and
 * needs none. The file it creates is owned by the submitting user (the
 * real and effective uid) and records that uid once more as an attribute
 * (uid=N) - pickup believes only these, never anything the caller says
 * about who it is.
 *
 * Input it trusts: nothing. The caller is any local user, so every
 * record goes through the envelope validator (lib/queue/qenv.h, source
 * QENV_USER) that pickup and cleanup use too:
 *  - the records must be well-formed (rec_get rejects unknown types,
 *    truncated records, over-long values) and in order: envelope
 *    (SENDER once, RCPT with optional ORCPT/NOTIFY, ATTR), MESG, content
 *    lines, END, and then end of input;
 *  - a TIME record is ignored (postdrop writes its own), SIZE and DONE
 *    are refused, and an ATTR passes only if its name is one sendmail may
 *    set (fullname envid ret body); any other is dropped with a warning,
 *    so nobody can pretend to be a network client or an authenticated user;
 *  - envelope values may not contain control characters;
 *  - all records together, type bytes and lengths included, are bounded
 *    by message_size_limit (so a flood of empty records is refused as
 *    soon as it exceeds what the message may take on disk), and the
 *    recipients by smtpd_recipient_limit; reading stops at the first
 *    record over a limit;
 *  - input must arrive within postdrop_input_timeout.
 * Descriptors 0-2 are checked first thing: a closed one is reopened on
 * /dev/null, so nothing printed can land in the file being written.
 * It never takes a file name or queue path from the caller. The only
 * thing it takes is the configuration directory (-c DIR or
 * $MAILROOM_CONFIG_DIR), and when it runs setgid for a user other than
 * root it accepts only the default directory or one listed in the
 * default configuration's alternate_config_directories: otherwise any
 * user could point it at a queue_directory of their choosing.
 *
 * Signals HUP INT QUIT TERM are blocked: if sendmail is interrupted,
 * postdrop sees end of input without END and removes its temporary file.
 *
 * Exit status (sysexits.h): 0 committed; EX_USAGE bad arguments;
 * EX_NOPERM config directory refused; EX_CONFIG bad configuration;
 * EX_DATAERR input refused; EX_TEMPFAIL could not write the file.
 *
 * Parameters: queue_directory, message_size_limit, smtpd_recipient_limit,
 * postdrop_input_timeout, alternate_config_directories.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "global/config.h"
#include "global/config_setgid.h"
#include "global/mail_proto.h"
#include "queue/cleanup_client.h"
#include "queue/mail_trigger.h"
#include "queue/qenv.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"
#include "util/stream.h"
#include "postdrop.h"

/* pd_usage - complain about the command line */
static void pd_usage(void)
{
    fprintf(stderr, "usage: mailroom-postdrop [-c config_dir] [-v]\n");
    exit(EX_USAGE);
}

/* pd_config - load the configuration, applying the setgid rule */
static void pd_config(const char *dir)
{
    const char *error;

    if (!config_setgid_allowed(dir, &error)) {
	msg_error("%s", error);
	exit(EX_NOPERM);
    }
    if (config_load(dir, &error) < 0) {
	msg_error("%s", error);
	exit(EX_CONFIG);
    }
}

/* pd_verdict - {status=N, reason=TEXT} on standard output, N as
 * cleanup's CLEANUP_STAT_* (0: committed), so that a client of
 * cleanup_open_postdrop reads what it would read from cleanup */
static void pd_verdict(stream_t *out, int ret, const qenv_t *q, const str_t *why)
{
    int status = ret == 0                     ? CLEANUP_STAT_OK
		 : ret != EX_DATAERR          ? CLEANUP_STAT_TEMP
		 : q->refused == QENV_TOO_BIG ? CLEANUP_STAT_SIZE
					      : CLEANUP_STAT_BAD;
    char buf[16];

    snprintf(buf, sizeof(buf), "%d", status);
    (void)attr_send(out, MAIL_ATTR_STATUS, buf, MAIL_ATTR_REASON, ret ? str_data(why) : "",
		    (char *)0);
}

/* pd_wake_pickup - one byte on public/pickup; failure is harmless */
static void pd_wake_pickup(const char *id)
{
    const char *error;

    if (mail_trigger(MAIL_SOCK_PICKUP, "W", 1, &error) < 0 && msg_verbose)
	msg_info("%s: pickup not woken (%s); it will find the file later", id, error);
}

/* pd_header - postdrop's own envelope records: arrival time, uid */
static int pd_header(qfile_out_t *qo)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (rec_putf(qo->stream, REC_TYPE_TIME, "%ld.%06ld", (long)ts.tv_sec,
		 (long)(ts.tv_nsec / 1000)) < 0)
	return -1;
    return rec_putf(qo->stream, REC_TYPE_ATTR, "uid=%ld", (long)getuid());
}

/* pd_signals - block the ones that would leave a half-written file */
static void pd_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* main - configuration, then read, check, write, commit, wake pickup */
int main(int argc, char **argv)
{
    const char *dir = NULL, *error;
    qenv_limits_t limits;
    qenv_t q;
    str_t *why;
    qfile_out_t *qo;
    stream_t *in, *out;
    int c, ret;

    safe_stdio(); /* before anything opens a file */
    msg_init("postdrop");
    msg_target("stderr");
    pd_signals();
    umask(022);
    while ((c = getopt(argc, argv, "c:v")) > 0) {
	if (c == 'c')
	    dir = optarg;
	else if (c == 'v')
	    msg_verbose++;
	else
	    pd_usage();
    }
    if (optind != argc)
	pd_usage();
    pd_config(dir);
    qenv_local_limits(&limits);
    qenv_init(&q, QENV_USER, &limits);
    why = str_new(100);
    if ((qo = qfile_create(MAIL_QUEUE_MAILDROP, 0444, &error)) == NULL) {
	msg_error("cannot create a file in maildrop: %s", error);
	return EX_TEMPFAIL;
    }
    /* the ID first, so a client can log it while it sends the message */
    out = stream_open(1);
    (void)attr_send(out, MAIL_ATTR_QUEUE_ID, qo->id, (char *)0);
    in = stream_open(0);
    stream_set_timeout(in, (int)config_time("postdrop_input_timeout"));
    if (pd_header(qo) < 0) {
	str_printf(why, "write: %s", strerror(errno));
	ret = EX_TEMPFAIL;
    } else {
	ret = pd_copy(in, qo, &q, why);
    }
    if (ret == 0 && qfile_commit(qo, &error) < 0) {
	/*
	 * With the file committed (renamed, then fsync'd) only the directory
	 * fsync can have failed, and for a member of setgid_group it always
	 * does: maildrop/ (mode 1730) is not readable, so it cannot be opened.
	 * The file's fsync came after the rename, so a journaling file system
	 * (ext4, XFS) has committed the transaction holding the rename too
	 * (lib/queue/qfile.c). Reporting failure now would make the caller
	 * send the message again while pickup delivers this one.
	 */
	if (qo->committed) {
	    if (msg_verbose)
		msg_info("%s: %s (the file is committed)", qo->id, error);
	} else {
	    str_set(why, error);
	    ret = EX_TEMPFAIL;
	}
    }
    pd_verdict(out, ret, &q, why);
    if (ret != 0) {
	msg_error("uid=%ld: message not queued: %s", (long)getuid(), str_data(why));
	qfile_discard(&qo);
	return ret;
    }
    pd_wake_pickup(qo->id);
    qfile_discard(&qo);
    stream_release(&in);
    stream_release(&out);
    str_free(&why);
    return 0;
}
