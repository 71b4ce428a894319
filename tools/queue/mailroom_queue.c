/*
 * mailroom_queue.c - mailroom-queue: look at and manage the mail queue.
 *
 * What it does:
 *   -p            list the queue in mailq's layout (sendmail -bp, mailq)
 *   -j            list the queue as one JSON object per message
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
 * Privileges: an ordinary program, not setuid or setgid. Listing needs
 * read access to the queue directories, which are private to mail_owner,
 * so in practice -p and -j are for root and mail_owner (others get a
 * clear "cannot read queue" warning); -f needs access to public/qmgr. The
 * changing operations check the real uid first. Started by root, the
 * program becomes mail_owner (when mail_owner owns incoming/) before it
 * touches the queue, so that hash directories it creates belong to
 * mail_owner, as qmgr expects.
 *
 * Input it trusts: its command line, from root or mail_owner for the
 * changing operations; IDs must pass qid_valid, so no argument can name
 * a path. Queue files are read with the queue library's checking reader.
 *
 * Parameters: queue_directory, mail_owner, maillog_file (admin actions are
 * logged there and on standard error), hash_queue_names, hash_queue_depth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "queue/mail_trigger.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"
#include "util/str.h"
#include "mq.h"

#define MQ_MAX_IDS	1024

typedef struct mq_args {
    int     action;			/* p j f s i, or an admin op */
    const char *config_dir;
    char   *ids[MQ_MAX_IDS + 1];
    int     id_count;
} mq_args_t;

/* mq_usage - print usage and exit */
static void mq_usage(void)
{
    fprintf(stderr,
	    "usage: mailroom-queue [-c config_dir] [-v] -p | -j | -f | -s site | -i queue_id\n"
	    "       mailroom-queue [-c config_dir] [-v] -d|-h|-H|-r queue_id|ALL|- ...\n");
    exit(EX_USAGE);
}

/* mq_set_action - one action per run */
static void mq_set_action(mq_args_t *a, int action)
{
    if (a->action && a->action != action) {
	fprintf(stderr, "mailroom-queue: only one of -p -j -f -s -i -d -h -H -r at a time\n");
	mq_usage();
    }
    a->action = action;
}

/* mq_parse - the command line */
static void mq_parse(int argc, char **argv, mq_args_t *a)
{
    int     c;

    memset(a, 0, sizeof(*a));
    while ((c = getopt(argc, argv, "c:pjfs:i:d:h:H:r:v")) > 0) {
	switch (c) {
	case 'c': a->config_dir = optarg; break;
	case 'v': msg_verbose++; break;
	case 'p': case 'j': case 'f': mq_set_action(a, c); break;
	case 's': case 'i': mq_set_action(a, 'f'); break;
	case 'd': case 'h': case 'H': case 'r':
	    mq_set_action(a, c);
	    if (a->id_count >= MQ_MAX_IDS)
		mq_usage();
	    a->ids[a->id_count++] = optarg;
	    break;
	default: mq_usage();
	}
    }
    /* more IDs after the option: "-d ID1 ID2" */
    for (; optind < argc && a->id_count > 0 && a->id_count < MQ_MAX_IDS; optind++)
	a->ids[a->id_count++] = argv[optind];
    if (optind < argc || a->action == 0)
	mq_usage();
}

/* mq_admin_allowed - root or mail_owner, by real uid */
static int mq_admin_allowed(void)
{
    uid_t   uid;
    gid_t   gid;

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
    uid_t   uid;
    gid_t   gid;

    if (geteuid() != 0)
	return;
    if (privs_lookup(config_str("mail_owner"), &uid, &gid) < 0
	|| stat(server_queue_path(MAIL_QUEUE_INCOMING), &st) < 0 || st.st_uid != uid) {
	if (msg_verbose)
	    msg_info("queue not owned by mail_owner: working as root");
	return;
    }
    privs_become(uid, gid);
}

/* mq_flush - -f, -s, -i: wake qmgr */
static int mq_flush(void)
{
    char    byte = TRIGGER_FLUSH;
    const char *error;

    if (mail_trigger(MAIL_SOCK_QMGR, &byte, 1, &error) < 0) {
	fprintf(stderr, "mailroom-queue: cannot flush the mail queue - "
		"the mail system is down (%s)\n", error);
	return EX_UNAVAILABLE;
    }
    return 0;
}

/* mq_open_log - admin actions go to the mail log and standard error */
static void mq_open_log(void)
{
    char   *spec = mr_format("%s,stderr", config_str("maillog_file"));

    msg_target(spec);
    mr_free(spec);
}

/* main - parse, load, check who may do what, act */
int     main(int argc, char **argv)
{
    mq_args_t a;
    const char *error;

    msg_init("mailroom-queue");
    msg_target("stderr");
    mq_parse(argc, argv, &a);
    if (config_load(a.config_dir, &error) < 0) {
	fprintf(stderr, "mailroom-queue: %s\n", error);
	return EX_CONFIG;
    }
    if (strchr("dhHr", a.action)) {
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
    mq_become_owner();
    if (a.action == 'f')
	return mq_flush();
    return mq_show(a.action == 'j');
}
