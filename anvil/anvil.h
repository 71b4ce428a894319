/*
 * anvil.h - anvil's in-memory counters (anvil_count.c), apart from the
 * daemon (anvil.c) so that the counting and expiry rules have a unit
 * test of their own.
 *
 * An entry per ident (SERVICE:ADDRESS): the sessions open now, and the
 * connections, messages and failed authentications in the current rate
 * window. A window starts
 * with the first event after the previous one ended and lasts unit_ms
 * (anvil_rate_time_unit): a rate is "events since the window started",
 * as in Postfix. An entry with no open session whose window has ended
 * carries no information and is forgotten by anvil_expire.
 */
#ifndef MR_ANVIL_H
#define MR_ANVIL_H

#include <stddef.h>

typedef struct anvil_table anvil_table_t;

typedef struct anvil_counts {
    long count;     /* sessions open now */
    long conn_rate; /* connections in this window */
    long mail_rate; /* messages in this window */
    long auth_rate; /* failed authentications in this window */
} anvil_counts_t;

/* anvil_table_new - an empty table; rate windows of unit_ms */
anvil_table_t *anvil_table_new(long long unit_ms);
/* anvil_table_free - destroy and clear the caller's pointer */
void anvil_table_free(anvil_table_t **tp);
/* anvil_connect - a session of ident opens at now; counts after it */
void anvil_connect(anvil_table_t *t, const char *ident, long long now, anvil_counts_t *counts_r);
/* anvil_disconnect - a session of ident closes (ignored if none is open) */
void anvil_disconnect(anvil_table_t *t, const char *ident, long long now);
/* anvil_message - a message from ident at now; counts after it */
void anvil_message(anvil_table_t *t, const char *ident, long long now, anvil_counts_t *counts_r);
/* anvil_auth_failure - a failed authentication from ident at now; counts
 * after it */
void anvil_auth_failure(anvil_table_t *t, const char *ident, long long now,
			anvil_counts_t *counts_r);
/* anvil_lookup - counts for ident at now without counting anything;
 * 1 known, 0 unknown (counts all 0) */
int anvil_lookup(anvil_table_t *t, const char *ident, long long now, anvil_counts_t *counts_r);
/* anvil_expire - forget idle entries (no session, window over); returns
 * how many were removed */
size_t anvil_expire(anvil_table_t *t, long long now);
/* anvil_table_size - entries held */
size_t anvil_table_size(const anvil_table_t *t);

#endif
