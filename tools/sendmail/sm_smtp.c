/*
 * sm_smtp.c - sendmail -bs: SMTP on standard input and output.
 *
 * Some programs submit mail by talking SMTP to "sendmail -bs" over a
 * pipe. smtpd cannot serve them: it runs under master as mail_owner and
 * reaches cleanup through private/, which an ordinary user may not open,
 * and its -S mode wants a socket. So this is a small SMTP server of its
 * own, with the user's privileges, that ends each transaction the way
 * sendmail -bm does: through mailroom-postdrop into maildrop/. 250 after
 * DATA means postdrop committed the file. No AUTH, no STARTTLS (the peer
 * is the local user's own process); commands and limits below.
 */
#include <stdio.h>
#include <string.h>

#include "global/config.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "sendmail.h"

#define SM_SMTP_LINE_MAX	2048
#define SM_SMTP_TIMEOUT		300
#define SM_SMTP_RCPT_MAX	1000

typedef struct sm_session {
    stream_t *in, *out;
    const sm_opts_t *opts;
    const char *origin;
    char   *sender;			/* NULL: no MAIL yet */
    const char *body;
    sm_rcpts_t rcpts;
    int     quit;
} sm_session_t;

/* sm_reply - one reply line */
static void sm_reply(sm_session_t *s, const char *text)
{
    stream_printf(s->out, "%s\r\n", text);
    stream_flush(s->out);
}

/* sm_reset - forget the transaction */
static void sm_reset(sm_session_t *s)
{
    mr_free(s->sender);
    s->sender = NULL;
    s->body = NULL;
    sm_rcpts_free(&s->rcpts);
}

/* sm_path - "<addr> params" after "FROM:"/"TO:": the address, or NULL */
static char *sm_path(char *arg, char **params_r)
{
    char   *end;

    while (*arg == ' ')
	arg++;
    if (*arg != '<' || (end = strchr(arg, '>')) == NULL)
	return NULL;
    *end = 0;
    *params_r = end + 1;
    arg++;
    if (*arg == '@' && strchr(arg, ':'))	/* source route */
	arg = strchr(arg, ':') + 1;
    for (char *cp = arg; *cp; cp++)
	if (*cp <= ' ' || *cp == 0x7f)
	    return NULL;
    return arg;
}

/* sm_cmd_helo - HELO and EHLO */
static void sm_cmd_helo(sm_session_t *s, char *arg, int ehlo)
{
    char    text[200];

    if (*arg == 0) {
	sm_reply(s, "501 5.5.4 Syntax: HELO hostname");
	return;
    }
    sm_reset(s);
    if (!ehlo) {
	snprintf(text, sizeof(text), "250 %s", config_str("myhostname"));
	sm_reply(s, text);
	return;
    }
    snprintf(text, sizeof(text), "250-%s", config_str("myhostname"));
    sm_reply(s, text);
    sm_reply(s, "250-PIPELINING");
    snprintf(text, sizeof(text), "250-SIZE %lld", sm_size_limit());
    sm_reply(s, text);
    sm_reply(s, "250-8BITMIME");
    sm_reply(s, "250 ENHANCEDSTATUSCODES");
}

/* sm_cmd_mail - MAIL FROM:<addr> [BODY=...] [SIZE=...] */
static void sm_cmd_mail(sm_session_t *s, char *arg)
{
    char   *addr, *params;

    if (s->sender) {
	sm_reply(s, "503 5.5.1 Error: nested MAIL command");
	return;
    }
    if (strncasecmp(arg, "FROM:", 5) != 0 || (addr = sm_path(arg + 5, &params)) == NULL) {
	sm_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
	return;
    }
    if (strcasestr(params, "BODY=8BITMIME"))
	s->body = "8BITMIME";
    s->sender = *addr == 0 || strchr(addr, '@') ? mr_strdup(addr)
	: mr_format("%s@%s", addr, s->origin);
    sm_reply(s, "250 2.1.0 Ok");
}

/* sm_cmd_rcpt - RCPT TO:<addr> */
static void sm_cmd_rcpt(sm_session_t *s, char *arg)
{
    char   *addr, *params;

    if (s->sender == NULL) {
	sm_reply(s, "503 5.5.1 Error: need MAIL command");
	return;
    }
    if (strncasecmp(arg, "TO:", 3) != 0 || (addr = sm_path(arg + 3, &params)) == NULL
	|| *addr == 0) {
	sm_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
	return;
    }
    if (s->rcpts.count >= SM_SMTP_RCPT_MAX) {
	sm_reply(s, "452 4.5.3 Error: too many recipients");
	return;
    }
    sm_rcpts_add(&s->rcpts, addr, s->origin);
    sm_reply(s, "250 2.1.5 Ok");
}

/* sm_cmd_data - DATA: the message goes through postdrop */
static void sm_cmd_data(sm_session_t *s)
{
    sm_stdin_reader_t rd = {.in = s->in, .smtp = 1};
    sm_envelope_t env = {s->sender, s->opts->fullname, NULL, NULL, NULL, s->body, {0}};
    str_t  *qid = str_new(20), *why = str_new(100), *reply = str_new(100);
    int     ret;

    if (s->sender == NULL || s->rcpts.count == 0) {
	sm_reply(s, s->sender ? "554 5.5.1 Error: no valid recipients"
		 : "503 5.5.1 Error: need RCPT command");
	goto out;
    }
    sm_reply(s, "354 End data with <CR><LF>.<CR><LF>");
    env.rcpts = s->rcpts;
    memset(&s->rcpts, 0, sizeof(s->rcpts));
    ret = sm_message_copy(sm_stdin_line, &rd, &env, 0, s->origin, qid, why);
    sm_rcpts_free(&env.rcpts);
    if (ret == 0)
	str_printf(reply, "250 2.0.0 Ok: queued as %s", str_data(qid));
    else if (ret == EX_DATAERR)
	str_printf(reply, "552 5.3.4 Error: %s", str_data(why));
    else
	str_printf(reply, "451 4.3.0 Error: %s", str_data(why));
    if (ret == EX_IOERR) {		/* input broken: nobody to answer */
	msg_warn("%s", str_data(why));
	s->quit = 1;
    } else
	sm_reply(s, str_data(reply));
    sm_reset(s);
out:
    str_free(&qid);
    str_free(&why);
    str_free(&reply);
}

/* sm_command - dispatch one command line */
static void sm_command(sm_session_t *s, char *line)
{
    char   *arg = line + strcspn(line, " ");

    if (*arg)
	*arg++ = 0;
    if (mr_strcaseeq(line, "HELO") || mr_strcaseeq(line, "EHLO"))
	sm_cmd_helo(s, arg, mr_strcaseeq(line, "EHLO"));
    else if (mr_strcaseeq(line, "MAIL"))
	sm_cmd_mail(s, arg);
    else if (mr_strcaseeq(line, "RCPT"))
	sm_cmd_rcpt(s, arg);
    else if (mr_strcaseeq(line, "DATA"))
	sm_cmd_data(s);
    else if (mr_strcaseeq(line, "RSET")) {
	sm_reset(s);
	sm_reply(s, "250 2.0.0 Ok");
    } else if (mr_strcaseeq(line, "NOOP"))
	sm_reply(s, "250 2.0.0 Ok");
    else if (mr_strcaseeq(line, "VRFY"))
	sm_reply(s, "252 2.0.0 Send some mail, we will try our best");
    else if (mr_strcaseeq(line, "QUIT")) {
	sm_reply(s, "221 2.0.0 Bye");
	s->quit = 1;
    } else
	sm_reply(s, "502 5.5.2 Error: command not recognized");
}

/* sm_smtp - greet, then one command per line until QUIT or EOF */
int     sm_smtp(stream_t *in, stream_t *out, const sm_opts_t *opts,
		const char *origin)
{
    sm_session_t s = {in, out, opts, origin, NULL, NULL, {0}, 0};
    str_t  *line = str_new(SM_SMTP_LINE_MAX);
    char    greeting[300];
    int     st;

    stream_set_timeout(in, SM_SMTP_TIMEOUT);
    snprintf(greeting, sizeof(greeting), "220 %s ESMTP Mailroom (sendmail -bs)",
	     config_str("myhostname"));
    sm_reply(&s, greeting);
    while (!s.quit) {
	str_reset(line);
	if ((st = stream_read_line(in, line, SM_SMTP_LINE_MAX)) == STREAM_PARTIAL) {
	    stream_skip_line(in);
	    sm_reply(&s, "500 5.5.0 Error: line too long");
	    continue;
	}
	if (st != STREAM_LINE)
	    break;
	str_truncate(line, strcspn(str_data(line), "\r\n"));
	sm_command(&s, str_data(line));
    }
    sm_reset(&s);
    str_free(&line);
    return 0;
}
