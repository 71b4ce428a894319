/*
 * smtpd_restrict.c - restriction lists: smtpd_client_restrictions and
 * smtpd_relay_restrictions, evaluated at RCPT time (like Postfix with
 * smtpd_delay_reject = yes, so the client sees the reason at a command
 * that can carry it).
 *
 * A list is read left to right; the first word that decides wins:
 *   permit_mynetworks          permit if the client is in mynetworks
 *   permit_sasl_authenticated  permit if the client has authenticated
 *   reject_unauth_destination  (relay list) reject: the destination is
 *                              not ours, as smtpd_check_rcpt decided
 *   permit, reject             unconditionally
 * Reaching the end of the list permits for the client list and denies
 * relaying for the relay list. An unknown word is a configuration error:
 * it is logged and the session gets a 451 4.3.5, never a silent permit.
 */
#include <string.h>
#include <strings.h>

#include "global/config.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "smtpd.h"

#define RESTRICT_DUNNO 0
#define RESTRICT_PERMIT 1
#define RESTRICT_REJECT 2
#define RESTRICT_ERROR 3

/* restrict_word - what one word says about this client */
static int restrict_word(smtpd_state_t *st, const char *word, const char *param)
{
    if (strcasecmp(word, "permit_mynetworks") == 0)
	return st->in_mynetworks ? RESTRICT_PERMIT : RESTRICT_DUNNO;
    if (strcasecmp(word, "permit_sasl_authenticated") == 0)
	return st->sasl_username ? RESTRICT_PERMIT : RESTRICT_DUNNO;
    if (strcasecmp(word, "permit") == 0)
	return RESTRICT_PERMIT;
    if (strcasecmp(word, "reject") == 0 || strcasecmp(word, "reject_unauth_destination") == 0)
	return RESTRICT_REJECT;
    msg_warn("%s: unknown restriction \"%s\"", param, word);
    return RESTRICT_ERROR;
}

/* restrict_eval - the first deciding word of a list, or DUNNO */
static int restrict_eval(smtpd_state_t *st, const char *param)
{
    char *copy = mr_strdup(config_str(param)), *cp = copy, *word;
    int r = RESTRICT_DUNNO;

    while (r == RESTRICT_DUNNO && (word = next_token(&cp, ", \t\r\n")) != NULL)
	r = restrict_word(st, word, param);
    mr_free(copy);
    return r;
}

/* smtpd_restrict_client - smtpd_client_restrictions */
int smtpd_restrict_client(smtpd_state_t *st, str_t *reply)
{
    switch (restrict_eval(st, "smtpd_client_restrictions")) {
    case RESTRICT_REJECT:
	str_printf(reply, "554 5.7.1 <%s>: Client host rejected: Access denied", st->namaddr);
	return SMTPD_CHECK_REJECT;
    case RESTRICT_ERROR:
	str_printf(reply, "451 4.3.5 Server configuration error");
	return SMTPD_CHECK_REJECT;
    default:
	return SMTPD_CHECK_OK;
    }
}

/* smtpd_restrict_relay - may this client relay? 1 yes, 0 no, -1 error */
int smtpd_restrict_relay(smtpd_state_t *st)
{
    switch (restrict_eval(st, "smtpd_relay_restrictions")) {
    case RESTRICT_PERMIT:
	return 1;
    case RESTRICT_ERROR:
	return -1;
    default:
	return 0;
    }
}
