/*
 * master_dirtab.c - the queue directory table (see master_dirtab.h).
 *
 * maildrop is writable by the setgid helper's group but not listable
 * (1730); public lets that group reach local users' sockets (0710);
 * everything else is mail_owner's alone, except pid/, which holds
 * master's own state and belongs to root (master writes there as root,
 * so mail_owner must not be able to plant anything in it).
 */
#include <stddef.h>

#include "global/mail_proto.h"
#include "master_dirtab.h"

const master_dir_t master_queue_dirs[] = {
    {MAIL_QUEUE_MAILDROP, 01730, 1, 0},
    {"public", 0710, 1, 0},
    {"private", 0700, 0, 0},
    {MAIL_QUEUE_INCOMING, 0700, 0, 0},
    {MAIL_QUEUE_ACTIVE, 0700, 0, 0},
    {MAIL_QUEUE_DEFERRED, 0700, 0, 0},
    {MAIL_QUEUE_HOLD, 0700, 0, 0},
    {MAIL_QUEUE_CORRUPT, 0700, 0, 0},
    {MAIL_QUEUE_BOUNCE, 0700, 0, 0},
    {MAIL_QUEUE_DEFER, 0700, 0, 0},
    {MAIL_QUEUE_QUARANTINE, 0700, 0, 0},
    {MAIL_QUEUE_RECYCLE, 0700, 0, 0},
    {MASTER_PID_DIR, 0755, 0, 1},
    {NULL, 0, 0, 0},
};
