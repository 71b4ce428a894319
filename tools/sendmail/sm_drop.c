/*
 * sm_drop.c - handing a message to mailroom-postdrop.
 *
 * sendmail runs with the invoking user's privileges and cannot write to
 * maildrop/ itself. The queue library's postdrop client
 * (cleanup_open_postdrop, lib/queue/cleanup_client.h) starts
 * command_directory/mailroom-postdrop (setgid setgid_group when
 * installed) on two pipes and speaks to it the way smtpd speaks to
 * cleanup: the envelope (SENDER, RCPT [NOTIFY]..., ATTR...), content
 * lines, END; postdrop checks everything again, commits the file and
 * answers with a status. Only CLEANUP_STAT_OK (postdrop exited 0) means
 * the message is on disk, so any other outcome is reported to the caller
 * with a non-zero exit: mail is never dropped without the caller being
 * told.
 */
#include <string.h>

#include "queue/cleanup_client.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "sendmail.h"

struct sm_drop {
    cleanup_client_t *cc;
    long long size; /* content bytes so far */
};

/* sm_drop_attr - an attribute when it is set */
static void sm_drop_attr(sm_drop_t *d, const char *name, const char *value)
{
    if (value && *value)
	cleanup_attr(d->cc, name, value);
}

/* sm_drop_open - start postdrop and send the envelope */
sm_drop_t *sm_drop_open(const sm_envelope_t *env, str_t *why)
{
    sm_drop_t *d = mr_calloc(1, sizeof(*d));
    const char *error;

    if ((d->cc = cleanup_open_postdrop(&error)) == NULL) {
	str_set(why, error);
	mr_free(d);
	return NULL;
    }
    cleanup_sender(d->cc, env->sender);
    for (size_t i = 0; i < env->rcpts.count; i++)
	cleanup_rcpt(d->cc, env->rcpts.items[i], NULL, env->notify);
    sm_drop_attr(d, "fullname", env->fullname);
    sm_drop_attr(d, "envid", env->envid);
    sm_drop_attr(d, "ret", env->ret);
    sm_drop_attr(d, "body", env->body);
    sm_drop_attr(d, "trace_flags", env->trace_flags);
    return d;
}

/* sm_drop_line - one content line or piece */
void sm_drop_line(sm_drop_t *d, const char *line, size_t len, int complete)
{
    cleanup_line(d->cc, line, len, complete);
    d->size += (long long)len + (complete ? 1 : 0);
}

/* sm_drop_content_size - content bytes sent so far */
long long sm_drop_content_size(const sm_drop_t *d)
{
    return d->size;
}

/* sm_drop_close - END, then postdrop's verdict */
int sm_drop_close(sm_drop_t **dp, str_t *qid, str_t *why)
{
    sm_drop_t *d = *dp;
    int ret;

    str_set(qid, cleanup_queue_id(d->cc));
    switch (cleanup_finish(&d->cc, why)) {
    case CLEANUP_STAT_OK:
	ret = 0;
	break;
    case CLEANUP_STAT_TEMP:
	ret = EX_TEMPFAIL;
	break;
    default:
	ret = EX_DATAERR;
	break;
    }
    mr_free(d);
    *dp = NULL;
    return ret;
}

/* sm_drop_abort - end the transfer without END: postdrop keeps nothing */
void sm_drop_abort(sm_drop_t **dp)
{
    cleanup_abort(&(*dp)->cc);
    mr_free(*dp);
    *dp = NULL;
}
