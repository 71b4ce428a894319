/*
 * mail_trigger.h - wake a trigger server (qmgr, pickup) with a few bytes.
 *
 * A trigger is a hint, never the truth: the woken daemon also scans its
 * queue periodically, so a lost wake-up only delays mail. The call
 * therefore never blocks for long and failure (daemon not running, socket
 * full) is not an error for the caller to act on.
 */
#ifndef MR_MAIL_TRIGGER_H
#define MR_MAIL_TRIGGER_H

#include <stddef.h>

/* mail_trigger - send buf to the Unix socket or FIFO at the queue-relative
 * path (e.g. MAIL_SOCK_QMGR): 0 sent, -1 not sent (*error_r says why) */
int mail_trigger(const char *relative, const char *buf, size_t len, const char **error_r);

#endif
