/*
 * local_resolve.c - from one recipient to mailboxes, files, commands and
 * forwarded copies.
 *
 * A recipient in virtual_mailbox_domains is a virtual mailbox: its path
 * comes from virtual_mailbox_maps (address, then user@domain without the
 * extension, then @domain), relative to virtual_mailbox_base; a path
 * ending in "/" is a Maildir, anything else an mbox file. The owner is
 * virtual_uid_maps/virtual_gid_maps (tables of numbers, looked up like
 * virtual_mailbox_maps) or else virtual_uid/virtual_gid (a number or a
 * name); as root, a uid below virtual_minimum_uid is a configuration
 * error (deferred), so a table typo can never make root write mail.
 *
 * Any other recipient is a local user, by the local part:
 *   1. alias_maps (user+ext, then user): the value is a destination list
 *      (local_expand.c). Commands and files listed there run as the owner
 *      of the first alias table, or default_privs when root owns it.
 *   2. the system user (getpwnam of the lower-cased local part without
 *      the extension); none: bounced, 5.1.1.
 *   3. HOME/.forward+ext or HOME/.forward, read as the user and checked
 *      (local_forward.c): a destination list whose commands and files
 *      run as the user (root's: as default_privs, as for aliases).
 *   4. the mailbox: HOME/home_mailbox (Maildir when it ends in "/"), or
 *      mail_spool_directory/USER (mbox) when home_mailbox is empty.
 * An address in a list that names the address being expanded (alice in
 * alice's .forward) or is written \user goes to the mailbox directly.
 * Another address that is the only destination of its list is expanded
 * here, recursively (at most LOCAL_MAX_DEPTH levels, LOCAL_MAX_DESTS
 * destinations, each destination once). The addresses of a list with
 * more than one destination (an :include: inside such a list counts as
 * part of it), and addresses elsewhere, are re-submitted instead: one
 * new message through cleanup with all of them as recipients, the same
 * sender and DSN data, and a Delivered-To line for the recipient being
 * expanded. The new queue file gives each of them its own done mark, so
 * when one of them must be retried the others are not delivered again;
 * the recipient here is done once that file is committed.
 *
 * Commands and files are allowed only from the sources named in
 * allow_mail_to_commands and allow_mail_to_files (alias, forward,
 * include); a :include: file is read as the owner of the list that names
 * it, and its commands and files run as the include file's owner. An
 * :include: file writable by group or others may list addresses only:
 * whoever can write it could otherwise run commands as its owner.
 *
 * Every delivery step runs in a child as its owner (local_user.c). The
 * results of all steps are combined: one deferral defers the recipient
 * (qmgr retries it), else one bounce bounces it, else it was delivered.
 * The re-submission comes last. Within a list of several destinations
 * each one's outcome is its own: when the recipient ends deferred, what
 * this attempt delivered (steps and re-submitted addresses) is noted in
 * the defer log, and the retry skips it (local_member.c).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_params.h"
#include "global/mbox_lock.h"
#include "local.h"
#include "queue/cleanup_client.h"
#include "table/table.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"

#define LOCAL_MAX_DEPTH 20
#define LOCAL_MAX_DESTS 1000
#define LOCAL_LIST_MAX (1024 * 1024) /* bytes of an :include: file */

/* The state of one recipient's delivery. */
typedef struct local_state {
    const local_msg_t *msg;
    const char *rcpt;           /* as given: Delivered-To */
    const char *orcpt, *notify; /* DSN, for forwarded copies */
    local_result_t result;      /* combined so far */
    int steps;                  /* results combined */
    int dests;                  /* destinations expanded */
    char **seen;                /* "kind:what" done already */
    size_t nseen;
    char **forwards; /* addresses to re-submit */
    size_t nforwards;
    int multi;               /* in a list of several destinations */
    local_members_t members; /* of such a list, delivered before and now */
} local_state_t;

/* An address taken apart (lower-cased, except address). */
typedef struct local_addr {
    char *address, *local, *user, *ext, *domain;
} local_addr_t;

/* Where a destination list came from, and as whom its steps run. */
typedef struct local_source {
    const char *kind; /* alias, forward, include */
    local_user_t owner;
    int unsafe; /* an :include: file others may write: no commands, no files */
} local_source_t;

static table_list_t *local_aliases, *local_vmaps, *local_vuids, *local_vgids;
static char *local_table_error;
static local_user_t local_alias_owner;

/* local_open_tables - one parameter's tables (error remembered) */
static table_list_t *local_open_tables(const char *param)
{
    const char *err;
    table_list_t *l = table_list_open(config_str(param), &err);

    if (l == NULL && local_table_error == NULL)
	local_table_error = mr_format("%s: %s", param, err);
    return l;
}

/* local_owner_of - user for the commands of a file owned by uid */
static void local_owner_of(uid_t uid, gid_t gid, local_user_t *u)
{
    struct passwd *pw;

    if (uid == 0 && privs_running_as_root()) {
	pw = getpwnam(config_str("default_privs"));
	if (pw == NULL)
	    msg_fatal("default_privs: unknown user \"%s\"", config_str("default_privs"));
    } else if ((pw = getpwuid(uid)) == NULL) {
	u->uid = uid, u->gid = gid, u->name = mr_strdup(""), u->home = mr_strdup("/");
	return;
    }
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    u->name = mr_strdup(pw->pw_name);
    u->home = mr_strdup(pw->pw_dir);
}

/* local_owner_free - release what local_owner_of allocated */
static void local_owner_free(local_user_t *u)
{
    mr_free((char *)u->name);
    mr_free((char *)u->home);
}

/* local_alias_file - the file behind the first alias table, for its owner */
static void local_alias_file(void)
{
    const char *specs = config_str("alias_maps");
    const char *spec = table_split_specs(&specs);
    struct stat st = {.st_uid = 0, .st_gid = 0};
    char *path = NULL;

    if (spec && strchr(spec, ':')) {
	const char *name = strchr(spec, ':') + 1;

	if (strncmp(spec, "cdb:", 4) == 0)
	    path = mr_format("%s.cdb", name);
	else if (strncmp(spec, "hash:", 5) == 0 || strncmp(spec, "btree:", 6) == 0)
	    path = mr_format("%s.db", name);
	else if (*name == '/')
	    path = mr_strdup(name);
    }
    if (path && stat(path, &st) < 0)
	st.st_uid = 0, st.st_gid = 0;
    mr_free(path);
    local_owner_of(st.st_uid, st.st_gid, &local_alias_owner);
}

/* local_resolve_init - tables and the alias owner, before any delivery */
void local_resolve_init(void)
{
    table_list_close(&local_aliases);
    table_list_close(&local_vmaps);
    table_list_close(&local_vuids);
    table_list_close(&local_vgids);
    mr_free(local_table_error);
    local_table_error = NULL;
    local_owner_free(&local_alias_owner);
    local_aliases = local_open_tables("alias_maps");
    local_vmaps = local_open_tables("virtual_mailbox_maps");
    local_vuids = local_open_tables("virtual_uid_maps");
    local_vgids = local_open_tables("virtual_gid_maps");
    if (local_table_error)
	msg_warn("%s", local_table_error);
    local_alias_file();
}

/* local_resolve_refresh - reopen the tables when one was rebuilt (or
 * could not be opened last time) */
void local_resolve_refresh(void)
{
    if (local_table_error || table_list_changed(local_aliases) || table_list_changed(local_vmaps) ||
	table_list_changed(local_vuids) || table_list_changed(local_vgids)) {
	if (msg_verbose)
	    msg_info("a table has changed: reopening the tables");
	local_resolve_init();
    }
}

/* local_seen - 1 if key was handled already for this recipient, else
 * remember it */
static int local_seen(local_state_t *st, const char *kind, const char *what)
{
    char *key = mr_format("%s:%s", kind, what);

    for (size_t i = 0; i < st->nseen; i++)
	if (strcasecmp(st->seen[i], key) == 0) {
	    mr_free(key);
	    return 1;
	}
    st->seen = mr_reallocarray(st->seen, st->nseen + 1, sizeof(*st->seen));
    st->seen[st->nseen++] = key;
    return 0;
}

/* local_seen_as - local_seen of what, for the user named by owner */
static int local_seen_as(local_state_t *st, const char *kind, const char *owner, const char *what)
{
    char *both = mr_format("%s%s", owner, what);
    int seen = local_seen(st, kind, both);

    mr_free(both);
    return seen;
}

/* local_add - merge the result of one step */
static void local_add(local_state_t *st, const local_result_t *r)
{
    if (st->steps++ == 0 || r->status > st->result.status)
	st->result = *r;
}

/* local_fail - merge a failure made here */
static void local_fail(local_state_t *st, int status, const char *dsn, const char *fmt,
		       const char *arg)
{
    local_result_t r;

    local_result_set(&r, status, dsn, fmt, arg);
    local_add(st, &r);
}

/* local_table_failed - merge a table error as a deferral */
static void local_table_failed(local_state_t *st, const char *what, const char *err)
{
    local_result_t r;

    local_result_set(&r, LOCAL_DEFER, "4.3.0", "%s lookup failed: %s", what, err);
    local_add(st, &r);
}

/* Delivery steps, run in a child as their owner (local_user_run). */

typedef struct local_step {
    local_state_t *st;
    const char *path; /* maildir, file, include file, command */
    int fd;           /* spool mbox */
    local_pipe_env_t env;
    uid_t uid;   /* forward: the user */
    int mailbox; /* a mailbox, not a "/file" destination */
} local_step_t;

/* local_is_maildir - a mailbox path ending in "/" */
static int local_is_maildir(const char *path)
{
    size_t len = strlen(path);

    return len > 0 && path[len - 1] == '/';
}

/* local_step_mailbox - Maildir or mbox file by path */
static void local_step_mailbox(void *ctx, local_result_t *r, str_t *data)
{
    local_step_t *s = ctx;

    if (local_is_maildir(s->path))
	maildir_deliver(s->path, s->st->msg, s->st->rcpt, r);
    else
	mbox_deliver_file(s->path, s->st->msg, s->st->rcpt, r);
    if (s->mailbox && r->status == LOCAL_SENT && !local_is_maildir(s->path))
	local_result_set(r, LOCAL_SENT, "2.0.0", "delivered to mailbox");
}

/* local_step_spool - the spool mbox the parent opened */
static void local_step_spool(void *ctx, local_result_t *r, str_t *data)
{
    local_step_t *s = ctx;

    mbox_deliver_fd(s->fd, "mailbox", s->st->msg, s->st->rcpt, r);
}

/* local_step_pipe - a command */
static void local_step_pipe(void *ctx, local_result_t *r, str_t *data)
{
    local_step_t *s = ctx;

    pipe_deliver(s->path, &s->env, s->st->msg, s->st->rcpt, r);
}

/* local_step_forward - read .forward as the user */
static void local_step_forward(void *ctx, local_result_t *r, str_t *data)
{
    local_step_t *s = ctx;

    forward_read(s->path, s->uid, s->env.extension, data, r);
}

/* local_step_include - read an :include: file; its owner in r->text */
static void local_step_include(void *ctx, local_result_t *r, str_t *data)
{
    local_step_t *s = ctx;
    struct stat st;
    char buf[4096];
    ssize_t n;
    int fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "cannot read :include: file %s: %s", s->path,
			 fd < 0 ? strerror(errno) : "not a regular file");
	if (fd >= 0)
	    close(fd);
	return;
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0 && str_len(data) < LOCAL_LIST_MAX)
	str_append(data, buf, (size_t)n);
    close(fd);
    local_result_set(r, LOCAL_SENT, "2.0.0", "%ld %ld %d", (long)st.st_uid, (long)st.st_gid,
		     (st.st_mode & (S_IWGRP | S_IWOTH)) != 0);
}

/* Addresses */

/* local_split - local part, extension and domain of an address */
static void local_split(const char *addr, local_addr_t *a)
{
    const char *at = strrchr(addr, '@');
    const char *delim = config_str("recipient_delimiter");
    size_t len = at ? (size_t)(at - addr) : strlen(addr);
    size_t user_len = len;

    for (size_t i = 1; *delim && i < len; i++)
	if (strchr(delim, addr[i])) {
	    user_len = i;
	    break;
	}
    a->address = mr_strdup(addr);
    a->local = lowercase(mr_strndup(addr, len));
    a->user = mr_strndup(a->local, user_len);
    a->ext = mr_strdup(user_len < len ? a->local + user_len + 1 : "");
    a->domain = lowercase(mr_strdup(at ? at + 1 : ""));
}

/* local_addr_free - release the parts */
static void local_addr_free(local_addr_t *a)
{
    mr_free(a->address);
    mr_free(a->local);
    mr_free(a->user);
    mr_free(a->ext);
    mr_free(a->domain);
}

/* local_env - the environment of a command for address a */
static void local_env(local_state_t *st, const local_addr_t *a, const local_user_t *u,
		      const char *shell, local_pipe_env_t *env)
{
    env->sender = st->msg->sender;
    env->recipient = a->address;
    env->original = st->orcpt && *st->orcpt ? st->orcpt : st->rcpt;
    env->local = a->local;
    env->extension = a->ext;
    env->domain = a->domain;
    env->user = u->name;
    env->home = u->home;
    env->shell = shell;
}

/* local_step_key - the name of a delivery step in the defer log
 * (local_member.c) */
static char *local_step_key(local_user_fn fn, const local_step_t *s, const local_user_t *u)
{
    if (fn == local_step_pipe)
	return mr_format("command:%ld:%s", (long)u->uid, s->path);
    if (fn == local_step_spool)
	return mr_format("spool:%s", u->name);
    return mr_format("mailbox:%ld:%s", (long)u->uid, s->path);
}

/* local_done_before - an earlier attempt delivered this destination of
 * a list of several: merged as sent, and logged */
static int local_done_before(local_state_t *st, const char *key, local_result_t *r)
{
    if (!local_member_done(&st->members, key))
	return 0;
    msg_info("%s: <%s>: %s was delivered by an earlier attempt", st->msg->queue_id, st->rcpt, key);
    local_result_set(r, LOCAL_SENT, "2.0.0", "%s", "delivered by an earlier attempt");
    return 1;
}

/* local_run_kept - a Maildir delivery or the user's .forward read in the
 * child kept for u (local_keep.c): 0 done (*r set), -1 not taken there.
 * may_hold: the flush of new/ may wait for the end of the batch (not for
 * a destination of a list of several, whose note in the defer log says
 * it was delivered: that must be durable when the note is written) */
static int local_run_kept(local_state_t *st, const local_user_t *u, local_user_fn fn,
			  local_step_t *s, str_t *data, int may_hold, local_result_t *r)
{
    if (fn == local_step_mailbox && local_is_maildir(s->path))
	return local_keep_maildir(u, s->path, st->msg, st->rcpt, may_hold, r);
    if (fn == local_step_forward && s->uid == u->uid)
	return local_keep_forward(u, s->path, s->env.extension, data, LOCAL_LIST_MAX, r);
    return -1;
}

/* local_step_time_limit - how long local waits for a forked step: a
 * command has command_time_limit of its own */
static int local_step_time_limit(local_user_fn fn)
{
    long limit = var_local_child_time_limit;

    if (fn == local_step_pipe)
	limit += var_command_time_limit;
    return limit > INT_MAX ? INT_MAX : (int)limit;
}

/* local_run - one step as user u, merged; a step that reads a list
 * (data not NULL) is merged only when it failed. The result also goes
 * to *out when not NULL. A delivery in a list of several destinations is
 * skipped when an earlier attempt made it, and noted when it is made. */
static void local_run(local_state_t *st, const local_user_t *u, local_user_fn fn, local_step_t *s,
		      str_t *data, local_result_t *out)
{
    char *key = data == NULL && st->multi ? local_step_key(fn, s, u) : NULL;
    local_result_t r;

    s->st = st;
    if (key == NULL || !local_done_before(st, key, &r)) {
	if (local_run_kept(st, u, fn, s, data, key == NULL, &r) < 0)
	    local_user_run(u, fn, s, st->msg->qf, s->fd, local_step_time_limit(fn), &r, data,
			   LOCAL_LIST_MAX);
	if (key && r.status == LOCAL_SENT)
	    local_member_sent(&st->members, key);
    }
    if (data == NULL || r.status != LOCAL_SENT)
	local_add(st, &r);
    if (out)
	*out = r;
    mr_free(key);
}

static void local_address(local_state_t *st, const char *addr, int depth, int noalias);
static void local_virtual(local_state_t *st, const char *addr);
static void local_list(local_state_t *st, const char *list, const local_source_t *src,
		       const local_addr_t *a, int depth, int multi);

/* local_is_ours - a domain this agent delivers for */
static int local_is_ours(const char *domain)
{
    return *domain == 0 || config_list_has("mydestination", domain) ||
	   config_list_has("virtual_mailbox_domains", domain);
}

/* local_allowed - may a list from src have commands/files? */
static int local_allowed(const char *param, const local_source_t *src)
{
    return !src->unsafe && config_list_has(param, src->kind);
}

/* local_include - read an :include: file as src's owner and expand it
 * (multi: it is part of a list of several destinations) */
static void local_include(local_state_t *st, const char *path, const local_source_t *src,
			  const local_addr_t *a, int depth, int multi)
{
    local_step_t s = {.path = path};
    local_source_t inc = {.kind = "include"};
    str_t *data = str_new(1024);
    long uid, gid;
    local_result_t r;

    local_run(st, &src->owner, local_step_include, &s, data, &r);
    if (r.status == LOCAL_SENT && sscanf(r.text, "%ld %ld %d", &uid, &gid, &inc.unsafe) == 3) {
	if (inc.unsafe)
	    msg_warn(":include: file %s is writable by group or others: "
		     "mail to its commands and files is refused",
		     path);
	local_owner_of((uid_t)uid, (gid_t)gid, &inc.owner);
	local_list(st, str_data(data), &inc, a, depth + 1, multi);
	local_owner_free(&inc.owner);
    }
    str_free(&data);
}

/* local_resubmit - remember an address for the new message: addresses
 * without a domain get the domain of the address being expanded (or
 * myorigin) */
static void local_resubmit(local_state_t *st, const char *addr, const local_addr_t *a)
{
    char *full = strchr(addr, '@')
		     ? mr_strdup(addr)
		     : mr_format("%s@%s", addr, *a->domain ? a->domain : config_str("myorigin"));
    char *key = mr_format("forward:%s", full);
    local_result_t r;

    if (local_seen(st, "forward", full)) {
	mr_free(full);
    } else if (local_done_before(st, key, &r)) { /* in a file of an earlier attempt */
	local_add(st, &r);
	mr_free(full);
    } else {
	st->forwards = mr_reallocarray(st->forwards, st->nforwards + 1, sizeof(char *));
	st->forwards[st->nforwards++] = full;
    }
    mr_free(key);
}

/* local_dest - one destination of a list (multi: the list has more than
 * one) */
static void local_dest(local_state_t *st, int type, const char *dest, const local_source_t *src,
		       const local_addr_t *a, int depth, int multi)
{
    local_step_t s = {.path = dest};
    char owner[64];

    /* a command or file is one destination per user it runs as: another
     * user's list naming the same one must not take its place */
    snprintf(owner, sizeof(owner), "%ld:", (long)src->owner.uid);
    if (++st->dests > LOCAL_MAX_DESTS) {
	if (st->dests == LOCAL_MAX_DESTS + 1)
	    local_fail(st, LOCAL_BOUNCE, "5.3.0", "%s", "too many destinations in expansion");
	return;
    }
    switch (type) {
    case EXPAND_NOALIAS:
	local_address(st, dest, depth + 1, 1);
	return;
    case EXPAND_ADDRESS:
	if (strcasecmp(dest, a->local) == 0 || strcasecmp(dest, a->address) == 0)
	    local_address(st, dest, depth + 1, 1);
	else if (multi)
	    local_resubmit(st, dest, a);
	else
	    local_address(st, dest, depth + 1, 0);
	return;
    case EXPAND_INCLUDE:
	local_include(st, dest, src, a, depth, multi);
	return;
    case EXPAND_COMMAND:
	if (!local_allowed("allow_mail_to_commands", src))
	    local_fail(st, LOCAL_BOUNCE, "5.7.1", "mail to command is restricted: %s", dest);
	else if (!local_seen_as(st, "command", owner, dest)) {
	    local_env(st, a, &src->owner, NULL, &s.env);
	    local_run(st, &src->owner, local_step_pipe, &s, NULL, NULL);
	}
	return;
    case EXPAND_FILE:
	if (!local_allowed("allow_mail_to_files", src))
	    local_fail(st, LOCAL_BOUNCE, "5.7.1", "mail to file is restricted: %s", dest);
	else if (!local_seen_as(st, "file", owner, dest))
	    local_run(st, &src->owner, local_step_mailbox, &s, NULL, NULL);
	return;
    }
}

/* local_list - every destination of a list; multi is set (or given by
 * the list that includes this one) when there is more than one */
static void local_list(local_state_t *st, const char *list, const local_source_t *src,
		       const local_addr_t *a, int depth, int multi)
{
    str_t *dest = str_new(100);
    const char *cp = list;
    int type, count = 0;

    while (count < 2 && expand_next(&cp, dest) != 0)
	count++;
    multi = multi || count > 1;
    st->multi |= multi;
    while ((type = expand_next(&list, dest)) != 0)
	local_dest(st, type, str_data(dest), src, a, depth, multi);
    str_free(&dest);
}

/* local_spool_open - as root, the spool mbox of pw, through the spool
 * directory's descriptor: created (owned by the user) when missing, never
 * a link, one link, owned by the user */
static int local_spool_open(int dfd, const struct passwd *pw, local_result_t *r)
{
    struct stat st;
    int fd, flags = O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC;

    if ((fd = openat(dfd, pw->pw_name, flags | O_CREAT | O_EXCL, 0600)) >= 0) {
	if (privs_running_as_root() && fchown(fd, pw->pw_uid, pw->pw_gid) < 0) {
	    local_result_set(r, LOCAL_DEFER, "4.2.0", "cannot chown mailbox: %s", strerror(errno));
	    close(fd);
	    return -1;
	}
    } else if (errno != EEXIST || (fd = openat(dfd, pw->pw_name, flags)) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.2.0", "cannot open mailbox %s/%s: %s",
			 config_str("mail_spool_directory"), pw->pw_name, strerror(errno));
	return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	(privs_running_as_root() && st.st_uid != pw->pw_uid)) {
	local_result_set(r, LOCAL_DEFER, "4.2.0",
			 "mailbox %s/%s: not a regular file with one "
			 "link owned by the user",
			 config_str("mail_spool_directory"), pw->pw_name);
	close(fd);
	return -1;
    }
    return fd;
}

/* local_spool - mbox in mail_spool_directory, locked by the parent */
static void local_spool(local_state_t *st, const struct passwd *pw, const local_user_t *u)
{
    const char *dir = config_str("mail_spool_directory");
    local_step_t s = {.fd = -1};
    local_result_t r;
    int dfd;

    if (!mbox_spool_name_ok(pw->pw_name)) {
	msg_warn("%s: user %s: a name ending in .lock or .rewrite has no mailbox in %s: "
		 "it is the lock or journal name of another user's mailbox",
		 st->msg->queue_id, pw->pw_name, dir);
	local_fail(st, LOCAL_BOUNCE, "5.3.5",
		   "user name %s ends in .lock or .rewrite: no mailbox in mail_spool_directory",
		   pw->pw_name);
	return;
    }
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
	local_fail(st, LOCAL_DEFER, "4.3.0", "cannot open mail_spool_directory %s", dir);
	return;
    }
    if (mbox_dotlock_acquire(dfd, pw->pw_name) < 0) {
	local_result_set(&r, LOCAL_DEFER, "4.2.0", "cannot lock mailbox %s/%s: %s", dir,
			 pw->pw_name, errno == EEXIST ? "locked" : strerror(errno));
	local_add(st, &r);
    } else {
	if ((s.fd = local_spool_open(dfd, pw, &r)) < 0 ||
	    mbox_finish_rewrite(dfd, pw->pw_name, s.fd, "mailbox", &r) < 0)
	    local_add(st, &r);
	else
	    local_run(st, u, local_step_spool, &s, NULL, NULL);
	mbox_dotlock_release(dfd, pw->pw_name);
    }
    if (s.fd >= 0)
	close(s.fd);
    close(dfd);
}

/* local_mailbox - the mailbox of a system user */
static void local_mailbox(local_state_t *st, const struct passwd *pw)
{
    local_user_t u = {pw->pw_uid, pw->pw_gid, pw->pw_name, pw->pw_dir};
    const char *hm = config_str("home_mailbox");
    char uid[32];
    local_step_t s;

    snprintf(uid, sizeof(uid), "%ld", (long)pw->pw_uid);
    if (local_seen(st, "mailbox", uid))
	return;
    if (*hm == 0) {
	local_spool(st, pw, &u);
	return;
    }
    memset(&s, 0, sizeof(s));
    s.mailbox = 1;
    s.path = mr_format("%s/%s", pw->pw_dir, hm);
    local_run(st, &u, local_step_mailbox, &s, NULL, NULL);
    mr_free((char *)s.path);
}

/* local_user_forward - .forward of the user: 1 expanded, 0 none */
static int local_user_forward(local_state_t *st, const struct passwd *pw, const local_addr_t *a,
			      int depth)
{
    local_user_t reader = {pw->pw_uid, pw->pw_gid, pw->pw_name, pw->pw_dir};
    local_source_t src = {.kind = "forward"};
    local_step_t s = {.path = pw->pw_dir, .uid = pw->pw_uid};
    str_t *data = str_new(1024);
    int used = 0;

    s.env.extension = a->ext;
    local_run(st, &reader, local_step_forward, &s, data, NULL);
    if (str_len(data) > 0) {
	local_owner_of(pw->pw_uid, pw->pw_gid, &src.owner); /* root: default_privs */
	local_list(st, str_data(data), &src, a, depth, 0);
	local_owner_free(&src.owner);
	used = 1;
    }
    str_free(&data);
    return used;
}

/* local_system_user - steps 2-4 for a local address */
static void local_system_user(local_state_t *st, const local_addr_t *a, int depth, int noalias)
{
    struct passwd *pw = getpwnam(a->user);

    if (pw == NULL) {
	local_fail(st, LOCAL_BOUNCE, "5.1.1", "unknown user: \"%s\"", a->user);
	return;
    }
    pw = &(struct passwd){.pw_name = mr_strdup(pw->pw_name),
			  .pw_dir = mr_strdup(pw->pw_dir),
			  .pw_uid = pw->pw_uid,
			  .pw_gid = pw->pw_gid};
    if (noalias || !local_user_forward(st, pw, a, depth))
	local_mailbox(st, pw);
    mr_free(pw->pw_name);
    mr_free(pw->pw_dir);
}

/* local_address - one address of a recipient's expansion */
static void local_address(local_state_t *st, const char *addr, int depth, int noalias)
{
    local_source_t src = {.kind = "alias", .owner = local_alias_owner};
    local_addr_t a;
    str_t *value;
    const char *err;
    int found = 0;

    local_split(addr, &a);
    if (depth > LOCAL_MAX_DEPTH)
	local_fail(st, LOCAL_BOUNCE, "5.4.6", "mail forwarding loop for %s", st->rcpt);
    else if (!local_is_ours(a.domain))
	local_resubmit(st, addr, &a);
    else if (config_list_has("virtual_mailbox_domains", a.domain)) {
	local_virtual(st, addr);
    } else if (local_aliases == NULL && !noalias) {
	local_table_failed(st, "alias", local_table_error);
    } else {
	value = str_new(100);
	if (!noalias &&
	    (found = table_list_lookup_addr(local_aliases, a.local,
					    config_str("recipient_delimiter"), 1, value, &err)) < 0)
	    local_table_failed(st, "alias", err);
	else if (found > 0 && !local_seen(st, "alias", a.user))
	    local_list(st, str_data(value), &src, &a, depth, 0);
	else if (found == 0)
	    local_system_user(st, &a, depth, noalias);
	str_free(&value);
    }
    local_addr_free(&a);
}

/* Virtual mailboxes */

/* local_vname_id - the uid or gid of a user or group name; the answer
 * for the fixed parameter's name is kept for the life of the process (a
 * lookup reads the passwd and group files: three per delivery) */
static long local_vname_id(const char *name, int is_gid, int fixed)
{
    static char *cached_name[2];
    static long cached_id[2];
    struct passwd *pw;
    struct group *gr;
    long id;

    if (fixed && cached_name[is_gid] && strcmp(cached_name[is_gid], name) == 0)
	return cached_id[is_gid];
    pw = getpwnam(name);
    gr = is_gid ? getgrnam(name) : NULL;
    id = gr ? (long)gr->gr_gid : pw ? (long)(is_gid ? pw->pw_gid : pw->pw_uid) : -1;
    if (fixed && id >= 0) {
	mr_free(cached_name[is_gid]);
	cached_name[is_gid] = mr_strdup(name);
	cached_id[is_gid] = id;
    }
    return id;
}

/* local_vid - a uid or gid: from the maps (a number), else the fixed
 * parameter (number or name); -1 if unusable */
static long local_vid(table_list_t *maps, const char *param, int is_gid, const char *addr,
		      const char **err)
{
    const char *fixed = config_str(param);
    str_t *v = str_new(32);
    char *end;
    long id = -1;
    int found =
	maps ? table_list_lookup_addr(maps, addr, config_str("recipient_delimiter"), 0, v, err) : 0;

    if (found < 0) {
	str_free(&v);
	return -1;
    }
    if (found == 0)
	str_set(v, fixed);
    id = strtol(str_data(v), &end, 10);
    if (end == str_data(v) || *end)
	id = local_vname_id(str_data(v), is_gid, found == 0);
    if (id < 0)
	*err = is_gid ? "no such virtual group" : "no such virtual user";
    str_free(&v);
    return id;
}

/* local_vpath - base + relative path from the map; NULL if unsafe */
static char *local_vpath(const char *rel)
{
    if (*rel == 0 || *rel == '/' || strstr(rel, "..") != NULL)
	return NULL;
    return mr_format("%s/%s", config_str("virtual_mailbox_base"), rel);
}

/* local_virtual - a recipient in virtual_mailbox_domains */
static void local_virtual(local_state_t *st, const char *addr)
{
    local_user_t u = {.name = "", .home = "/"};
    local_step_t s = {.fd = -1, .mailbox = 1};
    str_t *value = str_new(100);
    const char *err = "";
    long uid, gid;
    int found = local_vmaps == NULL
		    ? -1
		    : table_list_lookup_addr(local_vmaps, addr, config_str("recipient_delimiter"),
					     0, value, &err);

    if (found < 0)
	local_table_failed(st, "virtual_mailbox_maps", local_vmaps ? err : local_table_error);
    else if (found == 0)
	local_fail(st, LOCAL_BOUNCE, "5.1.1", "unknown virtual mailbox: %s", addr);
    else if ((s.path = local_vpath(trim_space(str_data(value)))) == NULL)
	local_fail(st, LOCAL_DEFER, "4.3.5", "bad virtual mailbox path: %s", str_data(value));
    else if ((uid = local_vid(local_vuids, "virtual_uid", 0, addr, &err)) < 0 ||
	     (gid = local_vid(local_vgids, "virtual_gid", 1, addr, &err)) < 0)
	local_fail(st, LOCAL_DEFER, "4.3.5", "virtual mailbox owner: %s", err);
    else if (privs_running_as_root() && uid < var_virtual_minimum_uid)
	local_fail(st, LOCAL_DEFER, "4.3.5",
		   "virtual mailbox uid below virtual_minimum_uid "
		   "for %s",
		   addr);
    else if (!local_seen(st, "mailbox", s.path)) {
	u.uid = (uid_t)uid, u.gid = (gid_t)gid;
	local_run(st, &u, local_step_mailbox, &s, NULL, NULL);
    }
    mr_free((char *)s.path);
    str_free(&value);
}

/* Forwarding */

/* local_cleanup_open - connect to cleanup. private/ belongs to the mail
 * owner: connect with its rights, so that a link planted there cannot
 * make root talk to another socket. */
static cleanup_client_t *local_cleanup_open(const char **err)
{
    cleanup_client_t *cc;
    uid_t uid;
    gid_t gid;

    if (!privs_running_as_root() || privs_lookup(config_str("mail_owner"), &uid, &gid) < 0)
	return cleanup_open(CLEANUP_FLAG_NONE, err);
    privs_as_user(uid, gid);
    cc = cleanup_open(CLEANUP_FLAG_NONE, err);
    privs_as_root();
    return cc;
}

/* local_forward_attrs - the original's DSN envelope ID and RET, and its
 * body type, for the new message */
static void local_forward_attrs(cleanup_client_t *cc, const local_msg_t *msg)
{
    if (msg->envid && *msg->envid)
	cleanup_attr(cc, "envid", msg->envid);
    if (msg->ret && *msg->ret)
	cleanup_attr(cc, "ret", msg->ret);
    if (msg->body && *msg->body)
	cleanup_attr(cc, "body", msg->body);
}

/* local_forward_notify - NOTIFY for the recipients of the new message:
 * with several, SUCCESS is left out (SUCCESS alone becomes NEVER), so
 * the sender hears of the expansion once, from this delivery, not once
 * more per address (RFC 3461 section 5.2.7.3); with one, as it was */
static char *local_forward_notify(const char *notify, size_t count)
{
    str_t *out;
    const char *p = notify, *comma;
    char *ret;

    if (notify == NULL || count < 2 || strcasestr(notify, "SUCCESS") == NULL)
	return notify ? mr_strdup(notify) : NULL;
    out = str_new(32);
    for (; *p; p = *comma ? comma + 1 : comma) {
	comma = p + strcspn(p, ",");
	if ((size_t)(comma - p) == 7 && strncasecmp(p, "SUCCESS", 7) == 0)
	    continue;
	if (str_len(out))
	    str_appendc(out, ',');
	str_append(out, p, (size_t)(comma - p));
    }
    ret = mr_strdup(str_len(out) ? str_data(out) : "NEVER");
    str_free(&out);
    return ret;
}

/* local_forward_done - the addresses are in a committed file: a retry
 * of this recipient must not re-submit them */
static void local_forward_done(local_state_t *st)
{
    for (size_t i = 0; i < st->nforwards; i++) {
	char *key = mr_format("forward:%s", st->forwards[i]);

	local_member_sent(&st->members, key);
	mr_free(key);
    }
}

/* local_forward_send - one new message to the re-submitted addresses */
static void local_forward_send(local_state_t *st)
{
    const char *err;
    char *orcpt = st->orcpt && *st->orcpt ? NULL : mr_format("rfc822;%s", st->rcpt);
    char *notify = local_forward_notify(st->notify, st->nforwards);
    char *hdr = mr_format("Delivered-To: %s", st->rcpt);
    cleanup_client_t *cc = local_cleanup_open(&err);
    str_t *line = str_new(1024), *reason = str_new(100);
    local_result_t r;
    char qid[64];
    int complete, ret, status;

    if (cc == NULL) {
	local_fail(st, LOCAL_DEFER, "4.3.0", "cannot forward: %s", err);
	goto done;
    }
    local_forward_attrs(cc, st->msg);
    cleanup_sender(cc, st->msg->sender);
    for (size_t i = 0; i < st->nforwards; i++)
	cleanup_rcpt(cc, st->forwards[i], orcpt ? orcpt : st->orcpt, notify);
    cleanup_line(cc, hdr, strlen(hdr), 1);
    st->msg->rewind(st->msg->ctx);
    while ((ret = st->msg->line(st->msg->ctx, line, &complete, &err)) > 0)
	cleanup_line(cc, str_data(line), str_len(line), complete);
    if (ret < 0) {
	cleanup_abort(&cc);
	local_fail(st, LOCAL_DEFER, "4.3.0", "cannot forward: %s", err);
	goto done;
    }
    mr_strlcpy(qid, cleanup_queue_id(cc), sizeof(qid));
    status = cleanup_finish(&cc, reason);
    if (status == CLEANUP_STAT_OK) {
	local_result_set(&r, LOCAL_SENT, "2.0.0", "forwarded as %s", qid);
	msg_info("%s: forwarded as %s", st->msg->queue_id, qid);
	local_forward_done(st);
    } else
	local_result_set(&r, status == CLEANUP_STAT_TEMP ? LOCAL_DEFER : LOCAL_BOUNCE,
			 status == CLEANUP_STAT_TEMP ? "4.3.0" : "5.3.0", "cannot forward: %s",
			 str_data(reason));
    local_add(st, &r);
done:
    mr_free(orcpt);
    mr_free(notify);
    mr_free(hdr);
    str_free(&line);
    str_free(&reason);
}

/* local_verify - the first step of the resolution only */
void local_verify(const char *rcpt, local_result_t *r)
{
    local_addr_t a;
    str_t *value = str_new(100);
    const char *err = local_table_error;
    const char *delim = config_str("recipient_delimiter");
    int virt, found = -1;

    local_split(rcpt, &a);
    virt = config_list_has("virtual_mailbox_domains", a.domain);
    if (virt && local_vmaps)
	found = table_list_lookup_addr(local_vmaps, rcpt, delim, 0, value, &err);
    else if (!virt && local_aliases)
	found = table_list_lookup_addr(local_aliases, a.local, delim, 1, value, &err);
    if (found == 0 && !virt)
	found = getpwnam(a.user) != NULL;
    if (found < 0)
	local_result_set(r, LOCAL_DEFER, "4.3.0", "table lookup failed: %s", err);
    else if (found == 0)
	local_result_set(r, LOCAL_BOUNCE, "5.1.1", "unknown user: \"%s\"", virt ? rcpt : a.user);
    else
	local_result_set(r, LOCAL_SENT, "2.0.0", "delivers to %s",
			 virt ? "virtual mailbox" : "local user");
    str_free(&value);
    local_addr_free(&a);
}

/* local_deliver - one recipient, start to end */
void local_deliver(const local_msg_t *msg, const char *rcpt, long long offset, const char *orcpt,
		   const char *notify, local_result_t *r)
{
    local_state_t st = {.msg = msg,
			.rcpt = rcpt,
			.orcpt = orcpt,
			.notify = notify,
			.members = {.queue_id = msg->queue_id, .offset = offset}};
    const char *err;
    int loop = local_msg_loop(msg, rcpt, &err);

    if (loop != 0)
	local_result_set(&st.result, loop < 0 ? LOCAL_DEFER : LOCAL_BOUNCE,
			 loop < 0 ? "4.3.0" : "5.4.6", "%s%s",
			 loop < 0 ? "cannot read queue file: " : "mail forwarding loop for ",
			 loop < 0 ? err : rcpt);
    else
	local_address(&st, rcpt, 0, 0);
    if (loop == 0 && st.nforwards > 0)
	local_forward_send(&st);
    if (loop == 0 && st.steps == 0)
	local_result_set(&st.result, LOCAL_BOUNCE, "5.1.1", "no destination for %s", rcpt);
    if (st.result.status == LOCAL_DEFER && st.members.nnow > 0)
	local_member_save(&st.members);
    local_member_free(&st.members);
    *r = st.result;
    for (size_t i = 0; i < st.nseen; i++)
	mr_free(st.seen[i]);
    for (size_t i = 0; i < st.nforwards; i++)
	mr_free(st.forwards[i]);
    mr_free(st.seen);
    mr_free(st.forwards);
}
