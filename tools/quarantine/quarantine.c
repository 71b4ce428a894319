/*
 * quarantine.c - mailroom-quarantine: list, show, release and delete the
 * messages filterd kept in filterd_quarantine_directory.
 *
 *   mailroom-quarantine [-c config_dir] list
 *   mailroom-quarantine [-c config_dir] show ID
 *   mailroom-quarantine [-c config_dir] release ID...
 *   mailroom-quarantine [-c config_dir] delete ID...
 *
 * release sends the message, with its envelope (sender, the original
 * recipients with ORCPT and NOTIFY, RET, ENVID, BODY), to
 * filterd_reinject_nexthop (the re-injection smtpd, which does not filter
 * again) and removes the file only once every recipient was accepted.
 *
 * Privileges: root or mail_owner (the quarantine is mail_owner's, mode
 * 0700); root always becomes mail_owner before it opens anything there
 * (the directory's apparent owner decides nothing: mail_owner may have
 * put a link to root's directory in its place). Input it
 * trusts: its command line; IDs must pass qid_valid, so no argument names
 * a path. Quarantine files are read with the queue library's checking
 * reader. Each release and delete is logged (maillog_file).
 *
 * Parameters: filterd_quarantine_directory, filterd_reinject_nexthop,
 * filterd_reinject_timeout, myhostname, mail_owner, maillog_file.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "global/config.h"
#include "global/smtp_client.h"
#include "queue/qfile.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"
#include "util/str.h"

#define QT_EXIT_OK 0
#define QT_EXIT_FAIL 1  /* some ID could not be handled */
#define QT_EXIT_USAGE 2 /* command line or configuration */
#define QT_EXIT_PERM 77 /* not root or mail_owner */
#define QT_LINE_MAX 4096

/* qt_usage - the synopsis, and out */
static void __attribute__((noreturn)) qt_usage(void)
{
    fprintf(stderr, "usage: mailroom-quarantine [-c config_dir] list | show ID | "
		    "release ID... | delete ID...\n");
    exit(QT_EXIT_USAGE);
}

/* qt_become_owner - root or mail_owner only; root becomes mail_owner */
static void qt_become_owner(void)
{
    uid_t uid;
    gid_t gid;

    if (privs_lookup(config_str("mail_owner"), &uid, &gid) < 0) {
	if (getuid() == 0)
	    return;
	fprintf(stderr, "mailroom-quarantine: mail_owner %s does not exist\n",
		config_str("mail_owner"));
	exit(QT_EXIT_PERM);
    }
    /* Root always works as mail_owner, whoever the directory seems to
     * belong to: the mail owner may be able to replace it (by a link to a
     * directory of root's, say, when it lives in data_directory), and root
     * must never list, read or unlink there by name. */
    if (getuid() == 0) {
	privs_become(uid, gid);
	return;
    }
    if (getuid() != uid) {
	fprintf(stderr, "mailroom-quarantine: permission denied: only root and mail_owner\n");
	exit(QT_EXIT_PERM);
    }
}

/* qt_path - the file of a valid ID, or NULL (message printed) */
static const char *qt_path(str_t *path, const char *id)
{
    if (!qid_valid(id)) {
	fprintf(stderr, "mailroom-quarantine: %s: not a queue ID\n", id);
	return NULL;
    }
    str_printf(path, "%s/%s", config_str("filterd_quarantine_directory"), id);
    return str_data(path);
}

/* qt_open - read a quarantine file; NULL with a message */
static qfile_t *qt_open(const char *id, int writable)
{
    str_t *path = str_new(128);
    const char *err;
    qfile_t *qf = NULL;
    int r;

    if (qt_path(path, id) != NULL &&
	(r = qfile_open(str_data(path), writable, &qf, &err)) != QFILE_OK) {
	fprintf(stderr, "mailroom-quarantine: %s: %s\n", id,
		r == QFILE_MISSING ? "no such message" : err);
	qf = NULL;
    }
    str_free(&path);
    return qf;
}

/* qt_reason - the verdict recorded by filterd */
static const char *qt_reason(const qfile_t *qf)
{
    const char *reason = attr_get(qf->attrs, "quarantine_reason");

    return reason ? reason : "(no reason recorded)";
}

/* qt_list_one - one message: "ID date size <sender> reason", then its
 * recipients indented */
static void qt_list_one(const char *id)
{
    qfile_t *qf = qt_open(id, 0);
    char date[32];
    time_t t;

    if (qf == NULL)
	return;
    t = (time_t)qf->arrival_sec;
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", localtime(&t));
    printf("%s  %s  %lld  <%s>  %s\n", qf->id, date, (long long)qf->file_size,
	   qf->sender ? qf->sender : "", qt_reason(qf));
    for (size_t i = 0; i < qf->rcpt_count; i++)
	printf("    <%s>\n", qf->rcpts[i].address);
    qfile_close(&qf);
}

/* qt_name_cmp - for qsort: IDs sort by time */
static int qt_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qt_list - every message, oldest first */
static int qt_list(void)
{
    const char *dir = config_str("filterd_quarantine_directory");
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;

    if (d == NULL) {
	fprintf(stderr, "mailroom-quarantine: open %s: %m\n", dir);
	return QT_EXIT_FAIL;
    }
    while ((de = readdir(d)) != NULL)
	if (qid_valid(de->d_name)) {
	    names = mr_reallocarray(names, n + 1, sizeof(*names));
	    names[n++] = mr_strdup(de->d_name);
	}
    closedir(d);
    qsort(names, n, sizeof(*names), qt_name_cmp);
    for (size_t i = 0; i < n; i++) {
	qt_list_one(names[i]);
	mr_free(names[i]);
    }
    mr_free(names);
    return QT_EXIT_OK;
}

/* qt_show - envelope, verdict, then the message as it was received */
static int qt_show(const char *id)
{
    qfile_t *qf = qt_open(id, 0);
    str_t *line;
    const char *err;
    int r, complete;

    if (qf == NULL)
	return QT_EXIT_FAIL;
    printf("id: %s\nreason: %s\nsender: <%s>\n", qf->id, qt_reason(qf),
	   qf->sender ? qf->sender : "");
    for (size_t i = 0; i < qf->rcpt_count; i++)
	printf("recipient: <%s>\n", qf->rcpts[i].address);
    printf("\n");
    line = str_new(256);
    while ((r = qfile_line(qf, line, QT_LINE_MAX, &complete, &err)) == 1)
	printf("%s%s", str_data(line), complete ? "\n" : "");
    str_free(&line);
    qfile_close(&qf);
    if (r < 0)
	fprintf(stderr, "mailroom-quarantine: %s: %s\n", id, err);
    return r < 0 ? QT_EXIT_FAIL : QT_EXIT_OK;
}

/* qt_line - the smtp_client content reader over the quarantine file */
static int qt_line(void *ctx, str_t *line, int *complete_r, const char **error_r)
{
    return qfile_line(ctx, line, QT_LINE_MAX, complete_r, error_r);
}

/* qt_send - the message to filterd_reinject_nexthop: number of
 * recipients accepted (all of them means released), -1 no session */
static int qt_send(qfile_t *qf, smtp_rcpt_t *rc)
{
    int timeout = (int)config_time("filterd_reinject_timeout"), ok = 0;
    const char *relay = config_str("filterd_reinject_nexthop"), *err, *body;
    smtp_msg_t sm = {
	.sender = qf->sender ? qf->sender : "", .size = qf->size, .line = qt_line, .ctx = qf};
    smtp_client_t *c;
    smtp_reply_t r;

    body = attr_get(qf->attrs, "body");
    sm.eightbit = body && strcmp(body, "8bitmime") == 0;
    sm.smtputf8 = attr_get(qf->attrs, "smtputf8") != NULL;
    sm.ret = attr_get(qf->attrs, "ret");
    sm.envid = attr_get(qf->attrs, "envid");
    smtp_reply_init(&r);
    if ((c = smtp_client_connect(relay, 0, timeout, timeout, &err)) == NULL) {
	fprintf(stderr, "mailroom-quarantine: %s: %s\n", qf->id, err);
	smtp_reply_free(&r);
	return -1;
    }
    if (smtp_client_greeting(c, &r) == 1 &&
	smtp_client_hello(c, config_str("myhostname"), &r) == 1) {
	if (smtp_client_send(c, &sm, rc, qf->rcpt_count) >= 0)
	    smtp_client_quit(c);
	for (size_t i = 0; i < qf->rcpt_count; i++)
	    ok += rc[i].reply.code / 100 == 2;
    } else {
	fprintf(stderr, "mailroom-quarantine: %s: %s: %s\n", qf->id, relay, str_data(r.text));
	ok = -1;
    }
    smtp_client_free(&c);
    smtp_reply_free(&r);
    return ok;
}

/* qt_release_one - send it on; remove the file once all accepted */
static int qt_release_one(const char *id)
{
    qfile_t *qf = qt_open(id, 0);
    smtp_rcpt_t *rc;
    str_t *path;
    int ok, ret = QT_EXIT_FAIL;

    if (qf == NULL)
	return QT_EXIT_FAIL;
    rc = mr_calloc(qf->rcpt_count, sizeof(*rc));
    for (size_t i = 0; i < qf->rcpt_count; i++) {
	rc[i].address = qf->rcpts[i].address;
	rc[i].orcpt = qf->rcpts[i].orcpt;
	rc[i].notify = qf->rcpts[i].notify;
	smtp_reply_init(&rc[i].reply);
    }
    ok = qt_send(qf, rc);
    for (size_t i = 0; ok >= 0 && i < qf->rcpt_count; i++)
	if (rc[i].reply.code / 100 != 2)
	    fprintf(stderr, "mailroom-quarantine: %s: <%s>: %s\n", id, rc[i].address,
		    str_data(rc[i].reply.text));
    if (ok == (int)qf->rcpt_count) {
	path = str_new(128);
	(void)unlink(qt_path(path, id));
	str_free(&path);
	printf("%s: released to %d recipient%s: %s\n", id, ok, ok == 1 ? "" : "s",
	       str_data(rc[0].reply.text));
	msg_info("%s: released from quarantine to %d recipients: %s", id, ok,
		 str_data(rc[0].reply.text));
	ret = QT_EXIT_OK;
    } else if (ok > 0) {
	fprintf(stderr,
		"mailroom-quarantine: %s: only %d of %zu recipients accepted; the "
		"message stays in quarantine\n",
		id, ok, qf->rcpt_count);
    }
    for (size_t i = 0; i < qf->rcpt_count; i++)
	smtp_reply_free(&rc[i].reply);
    mr_free(rc);
    qfile_close(&qf);
    return ret;
}

/* qt_delete_one - remove a message */
static int qt_delete_one(const char *id)
{
    str_t *path = str_new(128);
    int ret = QT_EXIT_FAIL;

    if (qt_path(path, id) == NULL)
	;
    else if (unlink(str_data(path)) < 0)
	fprintf(stderr, "mailroom-quarantine: %s: %m\n", id);
    else
	msg_info("%s: deleted from quarantine", id), ret = QT_EXIT_OK;
    str_free(&path);
    return ret;
}

/* qt_each - a command on every ID; the worst exit status */
static int qt_each(int (*fn)(const char *), char **ids, int n)
{
    int ret = QT_EXIT_OK;

    if (n == 0)
	qt_usage();
    for (int i = 0; i < n; i++)
	if (fn(ids[i]) != QT_EXIT_OK)
	    ret = QT_EXIT_FAIL;
    return ret;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *error;
    int ch;

    msg_init("mailroom-quarantine");
    while ((ch = getopt(argc, argv, "c:")) != -1) {
	if (ch != 'c')
	    qt_usage();
	dir = optarg;
    }
    if (optind >= argc)
	qt_usage();
    if (config_load(dir, &error) < 0) {
	fprintf(stderr, "mailroom-quarantine: %s\n", error);
	return QT_EXIT_USAGE;
    }
    (void)msg_target(config_str("maillog_file"));
    qt_become_owner();
    argv += optind;
    argc -= optind;
    if (strcmp(argv[0], "list") == 0 && argc == 1)
	return qt_list();
    if (strcmp(argv[0], "show") == 0 && argc == 2)
	return qt_show(argv[1]);
    if (strcmp(argv[0], "release") == 0)
	return qt_each(qt_release_one, argv + 1, argc - 1);
    if (strcmp(argv[0], "delete") == 0)
	return qt_each(qt_delete_one, argv + 1, argc - 1);
    qt_usage();
}
