/*
 * smtpd_cmd.c - the SMTP verb table and the envelope commands.
 *
 * Each verb has a handler and flags; smtpd_command() looks the verb up,
 * enforces "HELO/EHLO first" and the RFC 2920 pipelining rules, and
 * calls the handler. DATA and BDAT live in smtpd_data.c. STARTTLS and
 * AUTH will be two more rows in the table (and two more EHLO keywords,
 * offered from smtpd_ehlo_keywords); nothing else needs to change.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "global/config.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "smtpd.h"
#include "global/smtpd_addr.h"

typedef struct smtpd_verb {
    const char *name;
    void (*handler)(smtpd_state_t *st, char *args, int crlf);
    int flags;
} smtpd_verb_t;

#define VERB_NEED_HELO (1 << 0) /* 503 before HELO/EHLO */
#define VERB_LAST (1 << 1)      /* must end a pipelined group */
#define VERB_OWN_SYNC (1 << 2)  /* checks pipelining itself, or need not */
#define VERB_NEED_TLS (1 << 3)  /* 530 without TLS at level encrypt */
#define VERB_JUNK (1 << 4)      /* does nothing for the mail (junk limit) */

/* smtpd_reject - an error reply that counts towards the error limits */
static void smtpd_reject(smtpd_state_t *st, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void smtpd_reject(smtpd_state_t *st, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    str_t *text = str_new(128);

    va_start(ap, fmt);
    str_vappendf(text, fmt, ap);
    va_end(ap);
    smtpd_count(st, cmd, 0);
    smtpd_reply(st, "%s", str_data(text));
    str_free(&text);
    smtpd_error(st);
}

/* smtpd_helo_common - remember the client's name and reset */
static int smtpd_helo_common(smtpd_state_t *st, char *args, const char *cmd)
{
    char *name = trim_space(args);

    if (*name == 0 || strcspn(name, " \t") != strlen(name)) {
	smtpd_reject(st, cmd, "501 5.5.4 Syntax: %s hostname", cmd[0] == 'e' ? "EHLO" : "HELO");
	return -1;
    }
    if (smtpd_guard_helo(name) < 0) {
	msg_warn("%s argument with control characters or broken UTF-8 from %s: %s",
		 cmd[0] == 'e' ? "EHLO" : "HELO", st->namaddr, name);
	smtpd_reject(st, cmd,
		     "501 5.5.2 Error: control characters or invalid UTF-8 in %s "
		     "hostname",
		     cmd[0] == 'e' ? "EHLO" : "HELO");
	return -1;
    }
    smtpd_reset(st);
    mr_free(st->helo);
    st->helo = mr_strdup(name);
    return 0;
}

/* smtpd_helo - HELO: plain SMTP, no extensions */
static void smtpd_helo(smtpd_state_t *st, char *args, int crlf)
{
    if (smtpd_helo_common(st, args, "helo") < 0)
	return;
    st->esmtp = 0;
    smtpd_set_protocol(st);
    smtpd_count(st, "helo", 1);
    smtpd_reply(st, "250 %s", var_myhostname);
}

/* smtpd_ehlo - EHLO: list the extensions */
static void smtpd_ehlo(smtpd_state_t *st, char *args, int crlf)
{
    const char *auth;

    if (smtpd_helo_common(st, args, "ehlo") < 0)
	return;
    st->esmtp = 1;
    smtpd_set_protocol(st);
    smtpd_count(st, "ehlo", 1);
    smtpd_reply_more(st, "250-%s", var_myhostname);
    smtpd_reply_more(st, "250-PIPELINING");
    if (var_message_size_limit > 0)
	smtpd_reply_more(st, "250-SIZE %lld", var_message_size_limit);
    else
	smtpd_reply_more(st, "250-SIZE");
    if (!config_bool("disable_vrfy_command"))
	smtpd_reply_more(st, "250-VRFY");
    if (smtpd_tls_offer(st))
	smtpd_reply_more(st, "250-STARTTLS");
    if ((auth = smtpd_auth_ehlo(st)) != NULL)
	smtpd_reply_more(st, "250-%s", auth);
    smtpd_reply_more(st, "250-ENHANCEDSTATUSCODES");
    smtpd_reply_more(st, "250-8BITMIME");
    smtpd_reply_more(st, "250-DSN");
    smtpd_reply_more(st, "250-SMTPUTF8");
    smtpd_reply(st, "250 CHUNKING");
}

/* smtpd_mail_param - one MAIL parameter; 0 ok, -1 after replying */
static int smtpd_mail_param(smtpd_state_t *st, char *name, char *value, str_t *tmp)
{
    if (strcasecmp(name, "SIZE") == 0 && value) {
	if (smtpd_size_parse(value, &st->size_hint) < 0) {
	    smtpd_reject(st, "mail", "501 5.5.4 Bad SIZE parameter value");
	    return -1;
	}
    } else if (strcasecmp(name, "BODY") == 0 && value &&
	       (strcasecmp(value, "7BIT") == 0 || strcasecmp(value, "8BITMIME") == 0)) {
	st->body = mr_strdup(value);
	lowercase(st->body);
    } else if (strcasecmp(name, "SMTPUTF8") == 0 && value == NULL) {
	st->smtputf8 = 1;
    } else if (strcasecmp(name, "RET") == 0 && value &&
	       (strcasecmp(value, "FULL") == 0 || strcasecmp(value, "HDRS") == 0)) {
	st->ret = mr_strdup(value);
	lowercase(st->ret);
    } else if (strcasecmp(name, "AUTH") == 0 && value) {
	/* RFC 4954 5: accepted and not passed on (we trust no other MTA's
	 * claim about who submitted the message) */
    } else if (strcasecmp(name, "ENVID") == 0 && value) {
	if (smtpd_xtext_decode(value, tmp) < 0 || str_len(tmp) > 100) {
	    smtpd_reject(st, "mail", "501 5.5.4 Bad ENVID parameter syntax");
	    return -1;
	}
	st->envid = mr_strdup(str_data(tmp));
    } else {
	smtpd_reject(st, "mail", "555 5.5.4 Unsupported option: %s", name);
	return -1;
    }
    return 0;
}

/* smtpd_mail_params - all MAIL parameters; 0 ok, -1 after replying */
static int smtpd_mail_params(smtpd_state_t *st, char *params)
{
    str_t *tmp = str_new(64);
    char *name, *value;
    int r, ret = 0;

    while (ret == 0 && (r = smtpd_param_next(&params, &name, &value)) != 0) {
	if (r < 0 || !st->esmtp) {
	    smtpd_reject(st, "mail", "555 5.5.4 Unsupported option: %s", name);
	    ret = -1;
	} else {
	    ret = smtpd_mail_param(st, name, value, tmp);
	}
    }
    str_free(&tmp);
    return ret;
}

/* smtpd_mail - MAIL FROM */
static void smtpd_mail(smtpd_state_t *st, char *args, int crlf)
{
    char *addr, *params;
    int r;

    if (st->sender) {
	smtpd_reject(st, "mail", "503 5.5.1 Error: nested MAIL command");
	return;
    }
    if (smtpd_addr_split(args, "FROM", &addr, &params) < 0) {
	smtpd_reject(st, "mail", "501 5.5.4 Syntax: MAIL FROM:<address>");
	return;
    }
    if (smtpd_mail_params(st, params) < 0) {
	smtpd_reset(st);
	return;
    }
    if (*addr && (r = smtpd_addr_check(addr, st->smtputf8)) != SMTPD_ADDR_OK) {
	if (r == SMTPD_ADDR_UTF8)
	    smtpd_reject(st, "mail",
			 "553 5.6.7 <%s>: Must declare SMTPUTF8 to send unicode address", addr);
	else if (r == SMTPD_ADDR_BAD_UTF8)
	    smtpd_reject(st, "mail", "553 5.6.7 Error: malformed UTF-8 in sender address");
	else
	    smtpd_reject(st, "mail", "501 5.1.7 Bad sender address syntax");
	smtpd_reset(st);
	return;
    }
    if (var_message_size_limit > 0 && st->size_hint > var_message_size_limit) {
	smtpd_reject(st, "mail", "552 5.3.4 Message size exceeds fixed limit");
	smtpd_reset(st);
	return;
    }
    if (smtpd_auth_sender(st, addr) < 0) {
	smtpd_reset(st);
	return;
    }
    if (!smtpd_guard_space(st)) {
	smtpd_reject(st, "mail", "452 4.3.1 Insufficient system storage");
	smtpd_reset(st);
	return;
    }
    if (!smtpd_anvil_message(st)) {
	smtpd_reject(st, "mail", "450 4.7.1 Error: too much mail from %s", st->addr);
	smtpd_reset(st);
	return;
    }
    st->sender = mr_strdup(addr);
    smtpd_count(st, "mail", 1);
    smtpd_reply(st, "250 2.1.0 Ok");
}

/* smtpd_rcpt_params - parse RCPT parameters into r; 0 ok, -1 replied */
static int smtpd_rcpt_params(smtpd_state_t *st, smtpd_rcpt_t *r, char *params)
{
    str_t *tmp = str_new(64);
    char *name, *value;
    int n, ret = 0;

    while (ret == 0 && (n = smtpd_param_next(&params, &name, &value)) != 0) {
	if (n < 0 || !st->esmtp ||
	    smtpd_rcpt_dsn_param(name, value, &r->notify, &r->orcpt, tmp) < 0) {
	    if (n > 0 && st->esmtp &&
		(strcasecmp(name, "NOTIFY") == 0 || strcasecmp(name, "ORCPT") == 0))
		smtpd_reject(st, "rcpt", "501 5.5.4 Bad %s parameter syntax", name);
	    else
		smtpd_reject(st, "rcpt", "555 5.5.4 Unsupported option: %s", name);
	    ret = -1;
	}
    }
    str_free(&tmp);
    return ret;
}

/* smtpd_rcpt_free - release a parsed recipient */
static void smtpd_rcpt_free(smtpd_rcpt_t *r)
{
    mr_free(r->addr);
    mr_free(r->orcpt);
    mr_free(r->notify);
}

/* smtpd_rcpt_reject_log - the Postfix-shaped NOQUEUE reject line */
static void smtpd_rcpt_reject_log(smtpd_state_t *st, const char *rcpt, const char *reply)
{
    msg_info("NOQUEUE: reject: RCPT from %s: %s; from=<%s> to=<%s> proto=%s helo=<%s>", st->namaddr,
	     reply, st->sender, rcpt, st->protocol, st->helo);
}

/* smtpd_rcpt_add - remember an accepted recipient */
static void smtpd_rcpt_add(smtpd_state_t *st, smtpd_rcpt_t *r)
{
    if (st->rcpt_count == st->rcpt_alloc) {
	st->rcpt_alloc = st->rcpt_alloc ? st->rcpt_alloc * 2 : 8;
	st->rcpts = mr_reallocarray(st->rcpts, (size_t)st->rcpt_alloc, sizeof(*st->rcpts));
    }
    st->rcpts[st->rcpt_count++] = *r;
}

/* smtpd_rcpt_check_addr - syntax of the recipient; 0 ok, -1 replied */
static int smtpd_rcpt_check_addr(smtpd_state_t *st, const char *addr)
{
    int r;

    if (*addr == 0) {
	smtpd_reject(st, "rcpt", "501 5.1.3 Bad recipient address syntax");
	return -1;
    }
    if ((r = smtpd_addr_check(addr, st->smtputf8)) == SMTPD_ADDR_OK)
	return 0;
    if (r == SMTPD_ADDR_UTF8)
	smtpd_reject(st, "rcpt", "553 5.6.7 <%s>: Must declare SMTPUTF8 to send unicode address",
		     addr);
    else if (r == SMTPD_ADDR_BAD_UTF8)
	smtpd_reject(st, "rcpt", "553 5.6.7 Error: malformed UTF-8 in recipient address");
    else
	smtpd_reject(st, "rcpt", "501 5.1.3 Bad recipient address syntax");
    return -1;
}

/* smtpd_rcpt - RCPT TO */
static void smtpd_rcpt(smtpd_state_t *st, char *args, int crlf)
{
    smtpd_rcpt_t r = {0};
    char *addr, *params;
    str_t *reply;

    if (st->sender == NULL) {
	smtpd_reject(st, "rcpt", "503 5.5.1 Error: need MAIL command");
	return;
    }
    if (st->bdat_active) {
	smtpd_reject(st, "rcpt", "503 5.5.1 Error: RCPT after BDAT");
	return;
    }
    st->rcpt_tried++;
    if (smtpd_addr_split(args, "TO", &addr, &params) < 0) {
	smtpd_reject(st, "rcpt", "501 5.5.4 Syntax: RCPT TO:<address>");
	return;
    }
    if (smtpd_rcpt_check_addr(st, addr) < 0 || smtpd_rcpt_params(st, &r, params) < 0) {
	smtpd_rcpt_free(&r);
	return;
    }
    if (st->rcpt_count >= var_smtpd_recipient_limit) {
	smtpd_rcpt_free(&r);
	smtpd_reject(st, "rcpt", "452 4.5.3 Error: too many recipients");
	return;
    }
    reply = str_new(128);
    if (smtpd_restrict_client(st, reply) != SMTPD_CHECK_OK ||
	smtpd_check_rcpt(st, addr, reply) != SMTPD_CHECK_OK) {
	smtpd_rcpt_reject_log(st, addr, str_data(reply));
	smtpd_reject(st, "rcpt", "%s", str_data(reply));
	smtpd_rcpt_free(&r);
    } else {
	r.addr = mr_strdup(addr);
	smtpd_rcpt_add(st, &r);
	smtpd_count(st, "rcpt", 1);
	smtpd_reply(st, "250 2.1.5 Ok");
	if (st->rcpt_count == 1)
	    smtpd_data_preopen(st);
    }
    str_free(&reply);
}

/* smtpd_rset - RSET */
static void smtpd_rset(smtpd_state_t *st, char *args, int crlf)
{
    if (*trim_space(args)) {
	smtpd_reject(st, "rset", "501 5.5.4 Syntax: RSET");
	return;
    }
    smtpd_reset(st);
    smtpd_count(st, "rset", 1);
    smtpd_reply(st, "250 2.0.0 Ok");
}

/* smtpd_noop - NOOP (an argument is allowed and ignored) */
static void smtpd_noop(smtpd_state_t *st, char *args, int crlf)
{
    smtpd_count(st, "noop", 1);
    smtpd_reply(st, "250 2.0.0 Ok");
}

/* smtpd_vrfy - VRFY: never confirms or denies (RFC 5321 3.5.3) */
static void smtpd_vrfy(smtpd_state_t *st, char *args, int crlf)
{
    if (config_bool("disable_vrfy_command")) {
	smtpd_reject(st, "vrfy", "502 5.5.1 VRFY command is disabled");
	return;
    }
    if (*trim_space(args) == 0) {
	smtpd_reject(st, "vrfy", "501 5.5.4 Syntax: VRFY address");
	return;
    }
    smtpd_count(st, "vrfy", 1);
    smtpd_reply(st, "252 2.5.2 Send some mail, I'll try my best");
}

/* smtpd_help - HELP */
static void smtpd_help(smtpd_state_t *st, char *args, int crlf)
{
    smtpd_count(st, "help", 1);
    smtpd_reply_more(st, "214-2.0.0 Commands: HELO EHLO STARTTLS AUTH MAIL RCPT DATA BDAT");
    smtpd_reply_more(st, "214-2.0.0 RSET NOOP VRFY HELP QUIT");
    smtpd_reply(st, "214 2.0.0 See RFC 5321");
}

/* smtpd_quit - QUIT */
static void smtpd_quit(smtpd_state_t *st, char *args, int crlf)
{
    smtpd_count(st, "quit", 1);
    smtpd_reply(st, "221 2.0.0 Bye");
    st->done = 1;
}

/* smtpd_data_cmd - DATA, counted and sequenced here, run in smtpd_data.c */
static void smtpd_data_cmd(smtpd_state_t *st, char *args, int crlf)
{
    smtpd_data(st, args, crlf);
}

/* smtpd_bdat_cmd - BDAT */
static void smtpd_bdat_cmd(smtpd_state_t *st, char *args, int crlf)
{
    smtpd_bdat(st, args);
}

static const smtpd_verb_t smtpd_verbs[] = {
    {"HELO", smtpd_helo, VERB_LAST},
    {"EHLO", smtpd_ehlo, VERB_LAST},
    {"STARTTLS", smtpd_starttls, VERB_NEED_HELO | VERB_OWN_SYNC},
    {"AUTH", smtpd_auth, VERB_NEED_HELO | VERB_NEED_TLS},
    {"MAIL", smtpd_mail, VERB_NEED_HELO | VERB_NEED_TLS},
    {"RCPT", smtpd_rcpt, VERB_NEED_HELO | VERB_NEED_TLS},
    {"DATA", smtpd_data_cmd, VERB_NEED_HELO | VERB_OWN_SYNC | VERB_NEED_TLS},
    {"BDAT", smtpd_bdat_cmd, VERB_NEED_HELO | VERB_OWN_SYNC | VERB_NEED_TLS},
    {"RSET", smtpd_rset, VERB_JUNK},
    {"NOOP", smtpd_noop, VERB_JUNK},
    {"VRFY", smtpd_vrfy, VERB_NEED_TLS | VERB_JUNK},
    {"HELP", smtpd_help, VERB_JUNK},
    {"QUIT", smtpd_quit, VERB_OWN_SYNC},
    {0, 0, 0},
};

/* smtpd_verb_find - look up a verb (case-insensitive) */
static const smtpd_verb_t *smtpd_verb_find(const char *verb)
{
    for (const smtpd_verb_t *v = smtpd_verbs; v->name; v++)
	if (strcasecmp(v->name, verb) == 0)
	    return v;
    return NULL;
}

/* smtpd_command - dispatch one command line */
void smtpd_command(smtpd_state_t *st, char *line, int crlf)
{
    const smtpd_verb_t *v;
    char *args = line;
    char *verb = next_token(&args, " \t");
    char lower[12];

    if (verb == NULL || (v = smtpd_verb_find(verb)) == NULL) {
	st->where = "UNKNOWN";
	if (smtpd_guard_junk(st)) {
	    smtpd_count(st, "unknown", 0);
	    return;
	}
	smtpd_reject(st, "unknown", "500 5.5.2 Error: command not recognized");
	return;
    }
    st->where = v->name;
    if (args == NULL)
	args = line + strlen(line);
    else
	while (*args == ' ' || *args == '\t')
	    args++;
    mr_strlcpy(lower, v->name, sizeof(lower));
    lowercase(lower);
    if ((v->flags & VERB_JUNK) && smtpd_guard_junk(st)) {
	smtpd_count(st, lower, 0);
	return;
    }
    if ((v->flags & VERB_NEED_HELO) && st->helo == NULL) {
	smtpd_reject(st, lower, "503 5.5.1 Error: send HELO/EHLO first");
	return;
    }
    if ((v->flags & VERB_NEED_TLS) && smtpd_tls_required(st, lower))
	return;
    /* RFC 2920: EHLO/HELO end a group; without PIPELINING nothing may
     * follow any command. DATA checks before its 354; BDAT carries its
     * data; after QUIT nothing matters. */
    if (((v->flags & VERB_LAST) || !st->esmtp) && !(v->flags & VERB_OWN_SYNC) &&
	smtpd_improper_pipelining(st, v->name)) {
	smtpd_count(st, lower, 0);
	return;
    }
    v->handler(st, args, crlf);
}
