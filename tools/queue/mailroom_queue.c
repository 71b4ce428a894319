/*
 * mailroom_queue.c - mailroom-queue: look at and manage the mail queue.
 *
 * What it does:
 *   -p            list the queue in mailq's layout (sendmail -bp, mailq)
 *   -j            list the queue as one JSON object per message
 *   -m ID|PATH    show one queue file: envelope records and content, or
 *                 with -e the envelope only, with -b the body only
 *                 (root, mail_owner, or whoever can read the queue)
 *   -f            ask qmgr to retry deferred mail now (sendmail -q)
 *   -s SITE       the same (one site cannot be picked out yet: all are tried)
 *   -i ID         the same, for one message (likewise: a flush of all)
 *   -d ID|ALL|-   delete messages                  (root or mail_owner)
 *   -h ID|ALL|-   put messages on hold             (root or mail_owner)
 *   -H ID|ALL|-   release messages from hold       (root or mail_owner)
 *   -r ID|ALL|-   requeue messages for a fresh try (root or mail_owner)
 * "-" reads the IDs from standard input, one a line. Options -d/-h/-H/-r
 * may be repeated and take several IDs: "mailroom-queue -d ID1 -d ID2".
 *
 * Privileges: installed setgid setgid_group (mailroom-drop, mode 2755),
 * like mailroom-postdrop, and for one reason: public/ (mode 0710, group
 * setgid_group) holds the sockets local users' commands talk to, and the
 * group is the way in. Who may do what is always decided by the real uid:
 *  - -p/-j: a caller who can read the queue directories (root, mail_owner,
 *    the owner of an instance run by an ordinary user) reads them
 *    directly, so listing works while the daemons are down; anyone else
 *    gets the listing from the showq service over public/showq, made by
 *    showq as mail_owner (mq_client.c). The group is given up as soon as
 *    the socket is connected, or at once when reading directly.
 *  - -m: only for a caller who can read the queue directories (the
 *    content of other people's mail is not for showq to hand out); the
 *    group is given up and root becomes mail_owner before the file is
 *    opened, a path as well as a queue ID.
 *  - -f/-s/-i: one byte on public/qmgr, for anyone (as Postfix's
 *    postqueue -f).
 *  - -d/-h/-H/-r: root or mail_owner by real uid, else exit 77; the group
 *    is given up first.
 * Running set-gid for a user other than root, it accepts only the default
 * configuration directory or one listed in the default configuration's
 * alternate_config_directories (-c or $MAILROOM_CONFIG_DIR), exactly as
 * mailroom-postdrop does (lib/global/config_setgid.h): otherwise any user
 * could aim the group at a queue_directory of their choosing. Started by
 * root on a queue owned by mail_owner, the program becomes mail_owner
 * before it touches the queue, so that hash directories it creates belong
 * to mail_owner, as qmgr expects. Not installed set-gid (a test instance,
 * a DESTDIR install before its post-install step), it works the same for
 * root and mail_owner, and an ordinary user's -p/-j fails with exit 77
 * and a message that says so.
 *
 * Input it trusts: its command line, from root or mail_owner for the
 * changing operations; IDs must pass qid_valid, so no argument can name
 * a path. Queue files are read with the queue library's checking reader.
 * From showq it takes bytes to copy to standard output, nothing else.
 *
 * Parameters: queue_directory, mail_owner, setgid_group, maillog_file
 * (admin actions are logged there and on standard error),
 * hash_queue_names, hash_queue_depth, ipc_timeout (waiting for showq),
 * alternate_config_directories (of the default configuration only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "global/config_setgid.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "queue/mail_trigger.h"
#include "queue/qshow.h"
#include "util/msg.h"
#include "util/safe_open.h"
#include "util/mymalloc.h"
#include "util/privs.h"
#include "util/str.h"
#include "util/stream.h"
#include "mq.h"

#define MQ_MAX_IDS 1024

typedef struct mq_args {
    int action; /* p j f s i m, or an admin op */
    const char *config_dir;
    const char *target; /* -m */
    int cat_flags;      /* -e, -b */
    char *ids[MQ_MAX_IDS + 1];
    int id_count;
} mq_args_t;

/* mq_usage - print usage and exit */
static void mq_usage(void)
{
    fprintf(stderr,
	    "usage: mailroom-queue [-c config_dir] [-v] -p | -j | -f | -s site | -i queue_id\n"
	    "       mailroom-queue [-c config_dir] [-v] [-e | -b] -m queue_id|path\n"
	    "       mailroom-queue [-c config_dir] [-v] -d|-h|-H|-r queue_id|ALL|- ...\n");
    exit(EX_USAGE);
}

/* mq_set_action - one action per run */
static void mq_set_action(mq_args_t *a, int action)
{
    if (a->action && a->action != action) {
	fprintf(stderr, "mailroom-queue: only one of -p -j -f -s -i -m -d -h -H -r at a time\n");
	mq_usage();
    }
    a->action = action;
}

/* mq_parse - the command line */
static void mq_parse(int argc, char **argv, mq_args_t *a)
{
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = getopt(argc, argv, "c:pjfs:i:m:ebd:h:H:r:v")) > 0) {
	switch (c) {
	case 'c':
	    a->config_dir = optarg;
	    break;
	case 'v':
	    msg_verbose++;
	    break;
	case 'p':
	case 'j':
	case 'f':
	    mq_set_action(a, c);
	    break;
	case 's':
	case 'i':
	    mq_set_action(a, 'f');
	    break;
	case 'm':
	    mq_set_action(a, c);
	    a->target = optarg;
	    break;
	case 'e':
	    a->cat_flags |= MQ_CAT_ENVELOPE;
	    break;
	case 'b':
	    a->cat_flags |= MQ_CAT_BODY;
	    break;
	case 'd':
	case 'h':
	case 'H':
	case 'r':
	    mq_set_action(a, c);
	    if (a->id_count >= MQ_MAX_IDS)
		mq_usage();
	    a->ids[a->id_count++] = optarg;
	    break;
	default:
	    mq_usage();
	}
    }
    /* more IDs after the option: "-d ID1 ID2" */
    for (; optind < argc && a->id_count > 0 && a->id_count < MQ_MAX_IDS; optind++)
	a->ids[a->id_count++] = argv[optind];
    if (optind < argc || a->action == 0)
	mq_usage();
    if (a->cat_flags && (a->action != 'm' || a->cat_flags == (MQ_CAT_ENVELOPE | MQ_CAT_BODY))) {
	fprintf(stderr, "mailroom-queue: -e or -b go with -m, one of them\n");
	mq_usage();
    }
}

/* mq_admin_allowed - root or mail_owner, by real uid */
static int mq_admin_allowed(void)
{
    uid_t uid;
    gid_t gid;

    if (getuid() == 0)
	return 1;
    return privs_lookup(config_str("mail_owner"), &uid, &gid) == 0 && getuid() == uid;
}

/* mq_become_owner - root works on the queue as mail_owner, the owner of
 * the queue directories (incoming/ is the one looked at), so that hash
 * directories it creates are usable by the daemons. Queue directories
 * owned by someone else (an instance run by an ordinary user) are left
 * as they are and root stays root. */
static void mq_become_owner(void)
{
    struct stat st;
    uid_t uid;
    gid_t gid;

    if (geteuid() != 0)
	return;
    if (privs_lookup(config_str("mail_owner"), &uid, &gid) < 0 ||
	stat(server_queue_path(MAIL_QUEUE_INCOMING), &st) < 0 || st.st_uid != uid) {
	if (msg_verbose)
	    msg_info("queue not owned by mail_owner: working as root");
	return;
    }
    privs_become(uid, gid);
}

/* mq_drop_setgid - give up the installed group for good */
void mq_drop_setgid(void)
{
    gid_t gid = getgid();

    if (getegid() != gid && setresgid(gid, gid, gid) < 0)
	msg_fatal("setresgid %ld: %m", (long)gid);
}

/* mq_reads_queue - can the real user read the queue directories? root
 * and mail_owner can (they may even be missing: nothing queued yet);
 * access() asks with the real ids, so the installed group counts for
 * nothing here */
static int mq_reads_queue(void)
{
    uid_t uid;
    gid_t gid;

    if (getuid() == 0)
	return 1;
    if (privs_lookup(config_str("mail_owner"), &uid, &gid) == 0 && getuid() == uid)
	return 1;
    return access(server_queue_path(MAIL_QUEUE_INCOMING), R_OK | X_OK) == 0;
}

/* mq_list - -p and -j: from the queue itself, or through showq */
static int mq_list(int json)
{
    stream_t *out;
    int ret;

    if (!mq_reads_queue())
	return mq_show_remote(json);
    mq_drop_setgid();
    mq_become_owner();
    out = stream_open(1);
    ret = qshow_list(out, json);
    stream_release(&out);
    return ret;
}

/* mq_show_file - -m: one queue file, for those who can read the queue */
static int mq_show_file(const mq_args_t *a)
{
    mq_drop_setgid();
    if (!mq_reads_queue()) {
	fprintf(stderr, "mailroom-queue: permission denied: only root and mail_owner "
			"may read queue files\n");
	return EX_NOPERM;
    }
    mq_become_owner();
    return mq_cat(a->target, a->cat_flags);
}

/* mq_flush - -f, -s, -i: wake qmgr */
static int mq_flush(void)
{
    char byte = TRIGGER_FLUSH;
    const char *error;

    if (mail_trigger(MAIL_SOCK_QMGR, &byte, 1, &error) < 0) {
	fprintf(stderr,
		"mailroom-queue: fatal: cannot flush the mail queue - "
		"the mail system is down (%s)\n",
		error);
	return EX_UNAVAILABLE;
    }
    return 0;
}

/* mq_open_log - admin actions go to the mail log and standard error */
static void mq_open_log(void)
{
    char *spec = mr_format("%s,stderr", config_str("maillog_file"));

    msg_syslog_name(config_str("syslog_name"));
    msg_target(spec);
    mr_free(spec);
}

/* mq_config - load the configuration under the set-gid rule */
static int mq_config(const char *dir)
{
    const char *error;

    if (!config_setgid_allowed(dir, &error)) {
	fprintf(stderr, "mailroom-queue: fatal: %s\n", error);
	return EX_NOPERM;
    }
    if (config_load(dir, &error) < 0) {
	fprintf(stderr, "mailroom-queue: %s\n", error);
	return EX_CONFIG;
    }
    return 0;
}

/* main - parse, load, check who may do what, act */
int main(int argc, char **argv)
{
    mq_args_t a;
    int ret;

    safe_stdio(); /* before anything opens a file */
    msg_init("mailroom-queue");
    msg_target("stderr");
    mq_parse(argc, argv, &a);
    if ((ret = mq_config(a.config_dir)) != 0)
	return ret;
    if (strchr("dhHr", a.action)) {
	mq_drop_setgid();
	if (!mq_admin_allowed()) {
	    fprintf(stderr, "mailroom-queue: permission denied: only root and mail_owner "
			    "may change the queue\n");
	    return EX_NOPERM;
	}
	mq_open_log();
	mq_become_owner();
	a.ids[a.id_count] = NULL;
	return mq_admin(a.action, a.ids);
    }
    if (a.action == 'f') {
	ret = mq_flush();
	mq_drop_setgid();
	return ret;
    }
    if (a.action == 'm')
	return mq_show_file(&a);
    return mq_list(a.action == 'j');
}
