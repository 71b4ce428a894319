/*
 * local_member.c - which destinations of a recipient's list an earlier
 * attempt delivered, so that a retry does not deliver them again.
 *
 * A list of several destinations (an alias, a .forward, an :include:
 * file) is one recipient in the queue file, with one done mark. When one
 * of its commands, files or mailboxes is deferred, qmgr retries the
 * recipient, and without a memory every destination that had already got
 * its copy would get a second one. The memory is the message's defer log
 * (lib/queue/qlog.h): when the recipient ends deferred, one record per
 * destination delivered in this attempt,
 *
 *     rcpt=  (empty)  offset=RECIPIENT'S OFFSET  action=member  reason=KEY
 *
 * where KEY names the destination ("command:UID:CMD", "mailbox:UID:PATH",
 * with the uid it runs as, "spool:USER", "forward:ADDRESS" for an address
 * re-submitted through cleanup). The empty rcpt keeps the record out of every notice (their
 * readers skip such records, as they skip the "warned" mark); the offset
 * is unique to the recipient within its queue file. The next attempt reads
 * the records of its recipient (only when it meets a list of several
 * destinations, so a plain delivery never opens the log) and skips those
 * destinations. The log goes when the message is removed.
 *
 * Weak spots: a crash between a delivery and the end of the attempt
 * leaves no record, so that destination gets the message again (as
 * before); the records are written by root with the mail owner's ids
 * (qlog_append) and read the same way, so a process running as the mail
 * owner could make local skip a destination, which it could as well by
 * marking the recipient done in the queue file.
 */
#include <string.h>
#include <time.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "local.h"
#include "queue/qlog.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"

#define LOCAL_MEMBER_ACTION "member"

/* local_member_keep - add a copy of key to a list */
static void local_member_keep(char ***list, size_t *count, const char *key)
{
    *list = mr_reallocarray(*list, *count + 1, sizeof(**list));
    (*list)[(*count)++] = mr_strdup(key);
}

/* local_member_find - is key in the list? */
static int local_member_find(char **list, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++)
	if (strcmp(list[i], key) == 0)
	    return 1;
    return 0;
}

/* local_member_record - one record of the defer log: ours? */
static int local_member_record(const qlog_entry_t *e, void *context)
{
    local_members_t *m = context;

    if (*e->rcpt == 0 && e->offset == m->offset && strcmp(e->action, LOCAL_MEMBER_ACTION) == 0 &&
	*e->reason && !local_member_find(m->done, m->ndone, e->reason))
	local_member_keep(&m->done, &m->ndone, e->reason);
    return 0;
}

/* local_member_load - read the defer log once, as the mail owner (the
 * directory is the mail owner's: a link there leads nowhere root could
 * go and the mail owner could not) */
static void local_member_load(local_members_t *m)
{
    const char *err = NULL;
    uid_t uid;
    gid_t gid;
    int as_owner =
	privs_running_as_root() && privs_lookup(config_str("mail_owner"), &uid, &gid) == 0;

    m->loaded = 1;
    if (as_owner)
	privs_as_user(uid, gid);
    if (qlog_walk(MAIL_QUEUE_DEFER, m->queue_id, local_member_record, m, &err) < 0)
	msg_warn("%s: cannot read what earlier attempts delivered: %s", m->queue_id, err);
    if (as_owner)
	privs_as_root();
}

int local_member_done(local_members_t *m, const char *key)
{
    if (!m->loaded)
	local_member_load(m);
    return local_member_find(m->done, m->ndone, key);
}

void local_member_sent(local_members_t *m, const char *key)
{
    if (!local_member_find(m->now, m->nnow, key))
	local_member_keep(&m->now, &m->nnow, key);
}

void local_member_save(local_members_t *m)
{
    qlog_entry_t e = {.rcpt = "",
		      .offset = m->offset,
		      .dsn = "2.0.0",
		      .action = LOCAL_MEMBER_ACTION,
		      .relay = "local",
		      .time = (long)time(NULL)};
    const char *err;

    for (size_t i = 0; i < m->nnow; i++) {
	e.reason = m->now[i];
	if (qlog_append(MAIL_QUEUE_DEFER, m->queue_id, &e, i + 1 == m->nnow, &err) < 0) {
	    msg_warn("%s: cannot note that %s was delivered (a retry delivers it again): %s",
		     m->queue_id, m->now[i], err);
	    return;
	}
    }
}

void local_member_free(local_members_t *m)
{
    for (size_t i = 0; i < m->ndone; i++)
	mr_free(m->done[i]);
    for (size_t i = 0; i < m->nnow; i++)
	mr_free(m->now[i]);
    mr_free(m->done);
    mr_free(m->now);
    m->done = m->now = NULL;
    m->ndone = m->nnow = 0;
}
