/*
 * master_dirs.c - the queue directories, and the user and group that own
 * them, created at start when missing.
 *
 *   maildrop    mail_owner:setgid_group 1730  (sendmail's setgid helper
 *               drops files in; nobody else can list it)
 *   public      mail_owner:setgid_group 0710  (local commands' sockets)
 *   the others  mail_owner 0700
 *   data_directory  mail_owner 0700 (master.pid, master.status)
 *
 * Not running as root, directories are created with those modes and the
 * current user's ownership; nothing is chowned. Existing directories are
 * not changed: a wrong owner or mode is logged here and reported by
 * "mailroom check", for the administrator to decide.
 *
 * Missing user/group (root only): created with Debian's tools, run
 * without a shell: "groupadd --system setgid_group" and "useradd --system
 * --user-group --no-create-home --home-dir queue_directory --shell
 * /usr/sbin/nologin mail_owner".
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master.h"
#include "master/master_dirs.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"

/* master_run_tool - run an admin tool without a shell; fatal on failure */
static void master_run_tool(char **argv, const char *what)
{
    int     status;
    pid_t   pid;

    if (access(argv[0], X_OK) < 0)
	msg_fatal("%s is missing: create %s yourself", argv[0], what);
    msg_info("creating %s with %s", what, argv[0]);
    if ((pid = fork()) < 0)
	msg_fatal("fork: %m");
    if (pid == 0) {
	msg_cleanup_hook(NULL);
	execv(argv[0], argv);
	msg_fatal("exec %s: %m", argv[0]);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
	msg_fatal("%s failed: create %s yourself", argv[0], what);
}

/* master_ensure_accounts - mail_owner and setgid_group must exist */
static void master_ensure_accounts(void)
{
    char   *group = (char *) config_str("setgid_group");
    char   *user = (char *) config_str("mail_owner");
    char   *home = (char *) config_str("queue_directory");
    char   *what;

    if (getgrnam(group) == NULL) {
	char   *argv[] = {"/usr/sbin/groupadd", "--system", group, NULL};

	what = mr_format("group \"%s\"", group);
	master_run_tool(argv, what);
	mr_free(what);
    }
    if (getpwnam(user) == NULL) {
	char   *argv[] = {"/usr/sbin/useradd", "--system", "--user-group",
	    "--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin", user, NULL};

	what = mr_format("user \"%s\"", user);
	master_run_tool(argv, what);
	mr_free(what);
    }
}

/* master_make_dir - create one directory when missing; warn if odd */
static void master_make_dir(const char *path, int mode, uid_t uid, gid_t gid, int root,
			    int warn)
{
    struct stat st;

    if (lstat(path, &st) == 0) {
	if (!S_ISDIR(st.st_mode))
	    msg_fatal("%s exists and is not a directory", path);
	if (warn && root && (st.st_uid != uid || st.st_gid != gid || (int) (st.st_mode & 07777) != mode))
	    msg_warn("%s: owner %ld:%ld mode %04o, expected %ld:%ld mode %04o "
		     "(left as it is; see \"mailroom check\")", path, (long) st.st_uid,
		     (long) st.st_gid, (unsigned) (st.st_mode & 07777), (long) uid,
		     (long) gid, (unsigned) mode);
	return;
    }
    if (mkdir(path, (mode_t) (mode & 0777)) < 0 && errno != EEXIST)
	msg_fatal("mkdir %s: %m", path);
    if (root && chown(path, uid, gid) < 0)
	msg_fatal("chown %s: %m", path);
    if (chmod(path, (mode_t) mode) < 0)
	msg_fatal("chmod %s: %m", path);
}

/* master_make_parent - create a top directory (root-owned 0755) */
static void master_make_top(const char *path)
{
    char   *copy = mr_strdup(path);

    for (char *cp = copy + 1; *cp; cp++) {
	if (*cp != '/')
	    continue;
	*cp = 0;
	if (mkdir(copy, 0755) < 0 && errno != EEXIST)
	    msg_fatal("mkdir %s: %m", copy);
	*cp = '/';
    }
    if (mkdir(copy, 0755) < 0 && errno != EEXIST)
	msg_fatal("mkdir %s: %m", copy);
    mr_free(copy);
}

void    master_dirs_init(void)
{
    const char *queue = config_str("queue_directory");
    int     root = privs_running_as_root();
    uid_t   uid = getuid();
    gid_t   gid = getgid(), drop_gid = getgid();
    struct group *gr;

    if (root) {
	master_ensure_accounts();
	if (privs_lookup(config_str("mail_owner"), &uid, &gid) < 0)
	    msg_fatal("unknown mail_owner \"%s\"", config_str("mail_owner"));
	if ((gr = getgrnam(config_str("setgid_group"))) == NULL)
	    msg_fatal("unknown setgid_group \"%s\"", config_str("setgid_group"));
	drop_gid = gr->gr_gid;
    }
    master_make_top(queue);
    for (const master_dir_t *d = master_queue_dirs; d->name; d++) {
	char   *path = mr_format("%s/%s", queue, d->name);

	master_make_dir(path, d->mode, uid, d->drop_group ? drop_gid : gid, root, 1);
	mr_free(path);
    }
    if (access(config_str("data_directory"), F_OK) < 0) {
	char   *parent = mr_strdup(config_str("data_directory"));
	char   *slash = strrchr(parent, '/');

	if (slash && slash != parent) {
	    *slash = 0;
	    master_make_top(parent);
	}
	mr_free(parent);
    }
    master_make_dir(config_str("data_directory"), 0700, uid, gid, root, 0);
}
