/*
 * params_store.c - parameters of the mailbox store (lib/store); docs/store.md
 * explains each.
 */
#include <limits.h>

#include "config.h"
#include "mail_params.h"

long long var_mailbox_quota;
int var_mailbox_quota_messages;

const param_def_t params_store[] = {
    /* Maildir++ quota of a user's Maildir in bytes, reported to clients (0: none) */
    PARAM_SIZE("mailbox_quota", "0", 0, LLONG_MAX, &var_mailbox_quota),
    /* Maildir++ quota of a user's Maildir in messages (0: none) */
    PARAM_INT("mailbox_quota_messages", "0", 0, INT_MAX, &var_mailbox_quota_messages),
    PARAM_END,
};
