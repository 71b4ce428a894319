/*
 * cleanup_env.c - the envelope: sender, recipients, attributes.
 *
 * Recipients are collected in memory until the client sends MESG; then
 * each one is qualified (@$myorigin when it has no domain), rewritten by
 * recipient_canonical_maps and canonical_maps, expanded through
 * virtual_alias_maps (recursively, bounded by
 * virtual_alias_recursion_limit in depth and virtual_alias_expansion_limit
 * in new recipients per original one), and duplicates (ASCII case
 * insensitive; the first spelling stays) are dropped through a hash set
 * before the RCPT records are written. A table that fails is a temporary error for the whole
 * message: guessing "not found" could deliver mail to the wrong place.
 *
 * Weak spot: only the envelope is rewritten, not header addresses.
 */
#include <stdarg.h>
#include <string.h>

#include "cleanup.h"
#include "global/config.h"
#include "queue/cleanup_client.h"
#include "queue/record.h"
#include "table/table.h"
#include "util/htable.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define CLEANUP_MAX_RCPT 100000 /* recipients one client may send */

static table_list_t *cleanup_virtual;
static table_list_t *cleanup_canonical;
static table_list_t *cleanup_rcpt_canonical;
static table_list_t *cleanup_sender_canonical;
static table_list_t *cleanup_sender_bcc;
static table_list_t *cleanup_rcpt_bcc;
static char *cleanup_table_error;

/* cleanup_table_open - one table list; a failure is kept for later */
static table_list_t *cleanup_table_open(const char *param)
{
    const char *why;
    table_list_t *l = table_list_open(config_str(param), &why);

    if (l == NULL) {
	msg_warn("%s: %s", param, why);
	if (cleanup_table_error == NULL)
	    cleanup_table_error = mr_format("%s: %s", param, why);
    }
    return l;
}

/* cleanup_env_init - open all rewriting tables */
void cleanup_env_init(void)
{
    cleanup_virtual = cleanup_table_open("virtual_alias_maps");
    cleanup_canonical = cleanup_table_open("canonical_maps");
    cleanup_rcpt_canonical = cleanup_table_open("recipient_canonical_maps");
    cleanup_sender_canonical = cleanup_table_open("sender_canonical_maps");
    cleanup_sender_bcc = cleanup_table_open("sender_bcc_maps");
    cleanup_rcpt_bcc = cleanup_table_open("recipient_bcc_maps");
}

/* cleanup_qualify - append @$myorigin to a bare local part */
static char *cleanup_qualify(const char *addr)
{
    if (*addr == 0 || strchr(addr, '@') != NULL)
	return mr_strdup(addr);
    return mr_format("%s@%s", addr, config_str("myorigin"));
}

/* cleanup_local_domain - is the domain of addr in mydestination? */
static int cleanup_local_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');

    return at == NULL || config_list_has("mydestination", at + 1);
}

/* cleanup_lookup - address lookup in one list: 1 found, 0 not, -1 error */
static int cleanup_lookup(cleanup_state_t *cs, table_list_t *l, const char *addr, str_t *value)
{
    const char *why;
    int ret;

    if (l == NULL || table_list_empty(l))
	return 0;
    ret = table_list_lookup_addr(l, addr, config_str("recipient_delimiter"),
				 cleanup_local_domain(addr), value, &why);
    if (ret < 0) {
	msg_warn("%s: table lookup of %s: %s", cs->id, addr, why);
	cleanup_fail(cs, CLEANUP_STAT_TEMP, "table lookup failed");
    }
    return ret;
}

/* cleanup_canon - canonical rewriting: first list, then canonical_maps */
static char *cleanup_canon(cleanup_state_t *cs, table_list_t *first, const char *addr)
{
    str_t *value = str_new(64);
    char *cur = cleanup_qualify(addr);
    table_list_t *lists[2] = {first, cleanup_canonical};

    for (int i = 0; i < 2 && *cur; i++) {
	if (cleanup_lookup(cs, lists[i], cur, value) == 1) {
	    mr_free(cur);
	    cur = cleanup_qualify(trim_space(str_data(value)));
	}
    }
    str_free(&value);
    return cur;
}

/* cleanup_seen - has this final recipient (ASCII case folded) been
 * added already? Remembers it if not. A hash set: with 100,000
 * recipients, comparing each with all before it took seconds of CPU. */
static int cleanup_seen(cleanup_state_t *cs, const char *addr)
{
    str_t *key = str_new(64);
    int seen;

    str_set(key, addr);
    lowercase(str_data(key));
    seen = htable_put(cs->seen, str_data(key), str_len(key), "", 0) == 1;
    str_free(&key);
    return seen;
}

/* cleanup_add_final - append a final recipient unless it is a duplicate */
static void cleanup_add_final(cleanup_state_t *cs, cleanup_rcpt_t **out, size_t *count,
			      const char *addr, const cleanup_rcpt_t *orig)
{
    if (cleanup_seen(cs, addr))
	return;
    if (*count - cs->expand_base >= (size_t)cs->expand_limit) {
	msg_warn("%s: virtual alias expansion of <%s> exceeds the limit", cs->id, orig->address);
	cleanup_fail(cs, CLEANUP_STAT_TEMP, "virtual alias expansion limit exceeded");
	return;
    }
    *out = mr_reallocarray(*out, *count + 1, sizeof(**out));
    (*out)[*count].address = mr_strdup(addr);
    if (orig->orcpt)
	(*out)[*count].orcpt = mr_strdup(orig->orcpt);
    else if (strcmp(addr, orig->address) != 0)
	(*out)[*count].orcpt = mr_format("rfc822;%s", orig->address);
    else
	(*out)[*count].orcpt = NULL;
    (*out)[*count].notify = orig->notify ? mr_strdup(orig->notify) : NULL;
    (*count)++;
}

/* cleanup_expand - virtual alias expansion of one address */
static void cleanup_expand(cleanup_state_t *cs, const char *addr, int depth,
			   const cleanup_rcpt_t *orig, cleanup_rcpt_t **out, size_t *count)
{
    str_t *value;
    char *cp, *tok;

    if (cs->status)
	return;
    /* Depth bounds loops; the step count bounds wide trees of loops. */
    if (depth > config_int("virtual_alias_recursion_limit", 1, 100000) ||
	++cs->expand_steps > 10 * cs->expand_limit) {
	msg_warn("%s: virtual alias recursion limit exceeded for <%s>", cs->id, orig->address);
	cleanup_fail(cs, CLEANUP_STAT_TEMP, "virtual alias recursion limit exceeded");
	return;
    }
    value = str_new(64);
    if ((cs->flags & CLEANUP_FLAG_NO_ALIAS) ||
	cleanup_lookup(cs, cleanup_virtual, addr, value) != 1) {
	if (!cs->status)
	    cleanup_add_final(cs, out, count, addr, orig);
	str_free(&value);
	return;
    }
    cp = str_data(value);
    while ((tok = next_token(&cp, ", \t")) != NULL) {
	char *q = cleanup_qualify(tok);

	/* An address that expands to itself is final (a copy plus forwards). */
	if (mr_strcaseeq(q, addr))
	    cleanup_add_final(cs, out, count, q, orig);
	else
	    cleanup_expand(cs, q, depth + 1, orig, out, count);
	mr_free(q);
    }
    str_free(&value);
}

/* cleanup_rcpts_free - release a recipient array */
static void cleanup_rcpts_free(cleanup_rcpt_t *r, size_t count)
{
    for (size_t i = 0; i < count; i++) {
	mr_free(r[i].address);
	mr_free(r[i].orcpt);
	mr_free(r[i].notify);
    }
    mr_free(r);
}

/* cleanup_resolve - the final recipient list, without duplicates */
static void cleanup_resolve(cleanup_state_t *cs, cleanup_rcpt_t **out, size_t *count)
{
    for (size_t i = 0; i < cs->rcpt_count && !cs->status; i++) {
	char *canon = cleanup_canon(cs, cleanup_rcpt_canonical, cs->rcpts[i].address);

	cs->expand_base = *count;
	cs->expand_steps = 0;
	cleanup_expand(cs, canon, 0, &cs->rcpts[i], out, count);
	mr_free(canon);
    }
}

/* cleanup_add_bcc - one blind copy: expanded like any recipient, with
 * NOTIFY=NEVER so that the sender hears nothing about it */
static void cleanup_add_bcc(cleanup_state_t *cs, const char *addr, cleanup_rcpt_t **out,
			    size_t *count)
{
    char *copy = mr_strdup(addr);
    char *q = cleanup_qualify(trim_space(copy));
    cleanup_rcpt_t orig = {q, NULL, "NEVER"};

    if (*q) {
	cs->expand_base = *count;
	cs->expand_steps = 0;
	cleanup_expand(cs, q, 0, &orig, out, count);
    }
    mr_free(q);
    mr_free(copy);
}

/*
 * cleanup_bcc - always_bcc, sender_bcc_maps (by the sender) and
 * recipient_bcc_maps (by each recipient as resolved). Not for mail that
 * comes back from a content filter (NO_ALIAS): it had its copies already.
 */
static void cleanup_bcc(cleanup_state_t *cs, cleanup_rcpt_t **out, size_t *count)
{
    str_t *value = str_new(64);
    size_t n = *count;

    if (cs->flags & CLEANUP_FLAG_NO_ALIAS) {
	str_free(&value);
	return;
    }
    cleanup_add_bcc(cs, config_str("always_bcc"), out, count);
    if (*cs->sender && cleanup_lookup(cs, cleanup_sender_bcc, cs->sender, value) == 1)
	cleanup_add_bcc(cs, str_data(value), out, count);
    for (size_t i = 0; i < n && !cs->status; i++)
	if (cleanup_lookup(cs, cleanup_rcpt_bcc, (*out)[i].address, value) == 1)
	    cleanup_add_bcc(cs, str_data(value), out, count);
    str_free(&value);
}

/* cleanup_write_env - SENDER, RCPT/ORCPT/NOTIFY..., MESG */
static void cleanup_write_env(cleanup_state_t *cs, const char *sender, const cleanup_rcpt_t *r,
			      size_t count)
{
    cleanup_write(cs, REC_TYPE_SENDER, sender, strlen(sender));
    for (size_t i = 0; i < count; i++) {
	cleanup_write(cs, REC_TYPE_RCPT, r[i].address, strlen(r[i].address));
	if (r[i].orcpt)
	    cleanup_write(cs, REC_TYPE_ORCPT, r[i].orcpt, strlen(r[i].orcpt));
	if (r[i].notify)
	    cleanup_write(cs, REC_TYPE_NOTIFY, r[i].notify, strlen(r[i].notify));
    }
    cleanup_write(cs, REC_TYPE_MESG, "", 0);
}

/* cleanup_env_finish - resolve recipients and write the envelope */
void cleanup_env_finish(cleanup_state_t *cs)
{
    cleanup_rcpt_t *final = NULL;
    size_t count = 0;
    char *sender;

    cs->part = CLEANUP_PART_HEADER;
    if (cleanup_table_error)
	cleanup_fail(cs, CLEANUP_STAT_TEMP, "address table unavailable");
    if (cs->sender == NULL)
	cleanup_fail(cs, CLEANUP_STAT_BAD, "no sender in envelope");
    if (cs->status)
	return;
    sender = cleanup_canon(cs, cleanup_sender_canonical, cs->sender);
    mr_free(cs->sender);
    cs->sender = sender;
    /* one set of final recipients for the resolved ones and the copies */
    cs->seen = htable_new();
    cs->expand_limit = config_int("virtual_alias_expansion_limit", 1, 1000000);
    cleanup_resolve(cs, &final, &count);
    if (!cs->status && count > 0)
	cleanup_bcc(cs, &final, &count);
    htable_free(&cs->seen);
    if (!cs->status && count == 0)
	cleanup_fail(cs, CLEANUP_STAT_NORCPT, "no recipients");
    if (!cs->status)
	cleanup_write_env(cs, cs->sender, final, count);
    cleanup_rcpts_free(final, count);
}

/* cleanup_check_init - the validator for this client's records */
void cleanup_check_init(cleanup_state_t *cs)
{
    qenv_limits_t limits = {0, CLEANUP_MAX_RCPT};

    if (cs->flags & CLEANUP_FLAG_LOCAL)
	qenv_local_limits(&limits);
    limits.size = 0; /* content size: cleanup_write counts it */
    qenv_init(&cs->check, cs->flags & CLEANUP_FLAG_LOCAL ? QENV_LOCAL : QENV_DAEMON, &limits);
}

/* cleanup_add_rcpt - remember a recipient as sent (qenv counted it) */
static void cleanup_add_rcpt(cleanup_state_t *cs, const char *addr)
{
    cs->rcpts = mr_reallocarray(cs->rcpts, cs->rcpt_count + 1, sizeof(*cs->rcpts));
    memset(cs->rcpts + cs->rcpt_count, 0, sizeof(*cs->rcpts));
    cs->rcpts[cs->rcpt_count++].address = mr_strdup(addr);
}

/* cleanup_rcpt_extra - ORCPT or NOTIFY for the last recipient (qenv
 * checked that it follows one and comes once) */
static void cleanup_rcpt_extra(cleanup_state_t *cs, int type, const char *v)
{
    char **slot = type == REC_TYPE_ORCPT ? &cs->rcpts[cs->rcpt_count - 1].orcpt
					 : &cs->rcpts[cs->rcpt_count - 1].notify;

    mr_free(*slot);
    *slot = mr_strdup(v);
}

/* cleanup_envelope - one envelope record the validator (cleanup.c)
 * accepted: no NUL, at most one sender, ORCPT/NOTIFY after a recipient,
 * well-formed attributes this client may set */
void cleanup_envelope(cleanup_state_t *cs, int type, const str_t *value)
{
    const char *v = str_data(value);

    switch (type) {
    case REC_TYPE_SENDER:
	cs->sender = mr_strdup(v);
	break;
    case REC_TYPE_RCPT:
	cleanup_add_rcpt(cs, v);
	break;
    case REC_TYPE_ORCPT:
    case REC_TYPE_NOTIFY:
	cleanup_rcpt_extra(cs, type, v);
	break;
    case REC_TYPE_ATTR:
	cleanup_write(cs, REC_TYPE_ATTR, v, str_len(value));
	break;
    default:
	cleanup_fail(cs, CLEANUP_STAT_BAD, "unexpected %s record in envelope", rec_type_name(type));
    }
}

/* cleanup_env_free - release sender and recipients */
void cleanup_env_free(cleanup_state_t *cs)
{
    cleanup_rcpts_free(cs->rcpts, cs->rcpt_count);
    cs->rcpts = NULL;
    cs->rcpt_count = 0;
    mr_free(cs->sender);
    cs->sender = NULL;
}
