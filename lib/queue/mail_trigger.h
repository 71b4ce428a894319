/*
 * mail_trigger.h - wake a trigger server (qmgr, pickup) with a few bytes.
 *
 * A trigger is a hint, never the truth: the woken daemon also scans its
 * queue periodically, so a lost wake-up only delays mail. The call
 * therefore never blocks for long and failure (daemon not running, socket
 * full) is not an error for the caller to act on.
 *
 * The bytes are a sequence of one-letter requests (mail_proto.h:
 * TRIGGER_WAKEUP, TRIGGER_FLUSH). A wake-up may name the message it is
 * about: "W" + queue ID + "\n" (cleanup after a commit), so that qmgr can
 * take that one file instead of scanning incoming/. Anything that does not
 * parse as a named wake-up is read one byte at a time, as before, so a
 * garbled or foreign name is at worst a plain wake-up.
 */
#ifndef MR_MAIL_TRIGGER_H
#define MR_MAIL_TRIGGER_H

#include <stddef.h>

#include "queue/qfile.h"
#include "util/str.h"

/* mail_trigger - send buf to the Unix socket or FIFO at the queue-relative
 * path (e.g. MAIL_SOCK_QMGR): 0 sent, -1 not sent (*error_r says why) */
int mail_trigger(const char *relative, const char *buf, size_t len, const char **error_r);

/* mail_trigger_keep - as mail_trigger, but the socket connection is kept
 * for the next call of this process (one server at a time; a FIFO is
 * opened each time). For wake-ups that end with a newline (named ones),
 * which a trigger server acts on without waiting for the end of the
 * connection (lib/master/event_server.c). */
int mail_trigger_keep(const char *relative, const char *buf, size_t len, const char **error_r);

/* mail_trigger_named - the bytes of a wake-up naming queue ID id ("W" ID
 * "\n") into out; returns its data */
const char *mail_trigger_named(str_t *out, const char *id);

/* mail_trigger_next - the next request in buf[*pos, len): returns its
 * letter (any byte, NUL too; -1 when buf is used up) and moves *pos past it. For a
 * TRIGGER_WAKEUP that names a valid queue ID, id_r holds the ID, else
 * id_r is "". Never reads past len; every byte is consumed once. */
int mail_trigger_next(const char *buf, size_t len, size_t *pos, char id_r[QID_BUFSIZE]);

#endif
