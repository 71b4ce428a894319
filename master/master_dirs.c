/*
 * master_dirs.c - the queue directories, and the user and group that own
 * them, created at start when missing.
 *
 *   maildrop    mail_owner:setgid_group 1730  (sendmail's setgid helper
 *               drops files in; nobody else can list it)
 *   public      mail_owner:setgid_group 0710  (local commands' sockets)
 *   pid         root:root 0755 (master.pid, master.status: master's own)
 *   the others  mail_owner 0700
 *   data_directory  mail_owner 0700 (the daemons' own data)
 *
 * Root never follows a link that mail_owner could have planted: every
 * directory is created with mkdirat under a descriptor of its parent,
 * opened with O_NOFOLLOW, and its owner and mode are set through that
 * descriptor (fchown, fchmod). The queue directory itself should be
 * root's and writable by nobody else (a warning says so otherwise).
 *
 * Not running as root, directories are created with those modes and the
 * current user's ownership; nothing is chowned. Existing directories are
 * not changed: a wrong owner or mode is logged here and reported by
 * "mailroom check", for the administrator to decide. The one exception
 * is pid/, where master writes as root: it is made root's again
 * (through its descriptor) if an older version left it to mail_owner.
 *
 * Missing user/group (root only): created with Debian's tools, run
 * without a shell: "groupadd --system setgid_group" and "useradd --system
 * --user-group --no-create-home --home-dir queue_directory --shell
 * /usr/sbin/nologin mail_owner".
 */
#include <errno.h>
#include <fcntl.h>
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
#include "master_dirtab.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"

/* master_run_tool - run an admin tool without a shell; fatal on failure */
static void master_run_tool(char **argv, const char *what)
{
    int status;
    pid_t pid;

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
    char *group = (char *)config_str("setgid_group");
    char *user = (char *)config_str("mail_owner");
    char *home = (char *)config_str("queue_directory");
    char *what;

    if (getgrnam(group) == NULL) {
	char *argv[] = {"/usr/sbin/groupadd", "--system", group, NULL};

	what = mr_format("group \"%s\"", group);
	master_run_tool(argv, what);
	mr_free(what);
    }
    if (getpwnam(user) == NULL) {
	char *argv[] = {"/usr/sbin/useradd",
			"--system",
			"--user-group",
			"--no-create-home",
			"--home-dir",
			home,
			"--shell",
			"/usr/sbin/nologin",
			user,
			NULL};

	what = mr_format("user \"%s\"", user);
	master_run_tool(argv, what);
	mr_free(what);
    }
}

#define DIR_ROOT (1 << 0) /* running as root: set owners */
#define DIR_WARN (1 << 1) /* say when an existing one is odd */
#define DIR_FIX (1 << 2)  /* root's own: fix an existing one */

/* master_dir_at - open parent/name as a directory, never through a link */
static int master_dir_at(int parent, const char *name)
{
    return openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* master_dir_odd - does an existing directory differ from what we want? */
static int master_dir_odd(const struct stat *st, int mode, uid_t uid, gid_t gid)
{
    return st->st_uid != uid || st->st_gid != gid || (int)(st->st_mode & 07777) != mode;
}

/*
 * master_make_dir - parent/name, created when missing; returns an open
 * descriptor of it. Owner and mode are set through that descriptor
 * (fchown, fchmod), never by path: a link swapped in after the mkdir
 * cannot redirect them. A link where the directory should be is not
 * followed: that is fatal.
 */
static int master_make_dir(int parent, const char *path, const char *name, int mode, uid_t uid,
			   gid_t gid, int flags)
{
    int created = mkdirat(parent, name, (mode_t)(mode & 0777)) == 0;
    struct stat st;
    int fd;

    if (!created && errno != EEXIST)
	msg_fatal("mkdir %s: %m", path);
    if ((fd = master_dir_at(parent, name)) < 0) {
	if (errno == ELOOP || errno == ENOTDIR)
	    msg_fatal("%s exists and is not a directory (links are not followed)", path);
	msg_fatal("open %s: %m", path);
    }
    if (fstat(fd, &st) < 0)
	msg_fatal("fstat %s: %m", path);
    if (!created && (flags & DIR_ROOT) && master_dir_odd(&st, mode, uid, gid)) {
	if (flags & (DIR_WARN | DIR_FIX))
	    msg_warn("%s: owner %ld:%ld mode %04o, expected %ld:%ld mode %04o %s", path,
		     (long)st.st_uid, (long)st.st_gid, (unsigned)(st.st_mode & 07777), (long)uid,
		     (long)gid, (unsigned)mode,
		     (flags & DIR_FIX) ? "(fixed)" : "(left as it is; see \"mailroom check\")");
    }
    if (created || ((flags & DIR_FIX) && master_dir_odd(&st, mode, uid, gid))) {
	if ((flags & DIR_ROOT) && fchown(fd, uid, gid) < 0)
	    msg_fatal("chown %s: %m", path);
	if (fchmod(fd, (mode_t)mode) < 0)
	    msg_fatal("chmod %s: %m", path);
    }
    return fd;
}

/* master_make_top - create a top directory and its parents (root's, 0755) */
static void master_make_top(const char *path)
{
    char *copy = mr_strdup(path);

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

/* master_open_top - the queue directory itself; warn if others may write it */
static int master_open_top(const char *path, int root)
{
    struct stat st;
    int fd;

    master_make_top(path);
    if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
	msg_fatal("open %s: %m", path);
    if (root && (st.st_uid != 0 || (st.st_mode & 022)))
	msg_warn("%s: owner %ld mode %04o: it should belong to root and be writable by "
		 "nobody else",
		 path, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
    return fd;
}

/* master_data_dir - data_directory: mail_owner's, created under its parent */
static void master_data_dir(uid_t uid, gid_t gid, int flags)
{
    char *parent = mr_strdup(config_str("data_directory"));
    char *slash = strrchr(parent, '/');
    const char *name = slash ? slash + 1 : parent;
    int pfd;

    if (slash == parent)
	pfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    else if (slash) {
	*slash = 0;
	master_make_top(parent);
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else
	pfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0 || *name == 0)
	msg_fatal("data_directory %s: cannot open its parent: %m", config_str("data_directory"));
    close(
	master_make_dir(pfd, config_str("data_directory"), name, 0700, uid, gid, flags & DIR_ROOT));
    close(pfd);
    mr_free(parent);
}

int master_dirs_init(void)
{
    const char *queue = config_str("queue_directory");
    int root = privs_running_as_root();
    uid_t uid = getuid();
    gid_t gid = getgid(), drop_gid = getgid();
    struct group *gr;
    int top, fd, pid_fd = -1;

    if (root) {
	master_ensure_accounts();
	if (privs_lookup(config_str("mail_owner"), &uid, &gid) < 0)
	    msg_fatal("unknown mail_owner \"%s\"", config_str("mail_owner"));
	if ((gr = getgrnam(config_str("setgid_group"))) == NULL)
	    msg_fatal("unknown setgid_group \"%s\"", config_str("setgid_group"));
	drop_gid = gr->gr_gid;
    }
    top = master_open_top(queue, root);
    for (const master_dir_t *d = master_queue_dirs; d->name; d++) {
	char *path = mr_format("%s/%s", queue, d->name);
	int flags = (root ? DIR_ROOT : 0) | (d->root_owned ? DIR_FIX : DIR_WARN);

	if (d->root_owned)
	    fd =
		master_make_dir(top, path, d->name, d->mode, root ? 0 : uid, root ? 0 : gid, flags);
	else
	    fd = master_make_dir(top, path, d->name, d->mode, uid, d->drop_group ? drop_gid : gid,
				 flags);
	if (strcmp(d->name, MASTER_PID_DIR) == 0)
	    pid_fd = fd;
	else
	    close(fd);
	mr_free(path);
    }
    close(top);
    master_data_dir(uid, gid, root ? DIR_ROOT : 0);
    if (pid_fd < 0)
	msg_panic("no %s directory in the queue directory table", MASTER_PID_DIR);
    return pid_fd;
}
