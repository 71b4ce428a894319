/*
 * pop3d_cmd.c - the POP3 commands: a table from verb to handler.
 *
 * Message numbers are those of the listing taken at login (1..count);
 * mail that arrives meanwhile waits for the next session (RFC 1939). A
 * message marked by DELE is hidden from every command until RSET or the
 * end of the session.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "pop3d.h"
#include "pop3d_out.h"
#include "util/msg.h"
#include "util/mymalloc.h"

typedef struct {
    const char *name;
    int states; /* POP3D_ states where it is allowed */
    int args;   /* minimum arguments */
    int more;   /* optional arguments after those */
    void (*fn)(pop3d_session_t *s, char **argv, int argc);
} pop3d_cmd_t;

#define BOTH (POP3D_AUTHORIZATION | POP3D_TRANSACTION)

/* pop3d_bad_command - count an error, answer it, hang up after too many */
void pop3d_bad_command(pop3d_session_t *s, const char *text)
{
    pop3d_reply(s, "-ERR %s", text);
    if (++s->errors >= var_pop3d_error_limit) {
	pop3d_reply(s, "-ERR Too many errors, closing connection");
	s->done = 1;
	s->reason = "too many errors";
    }
}

/* msg_arg - a message number argument that names a message not marked
 * deleted; its index, or -1 with the error sent */
static long msg_arg(pop3d_session_t *s, const char *arg)
{
    char *end;
    unsigned long n = strtoul(arg, &end, 10);

    if (*arg < '0' || *arg > '9' || *end || n == 0 || n > s->count) {
	pop3d_bad_command(s, "No such message");
	return -1;
    }
    if (s->deleted[n - 1]) {
	pop3d_reply(s, "-ERR Message %lu is deleted", n);
	return -1;
    }
    return (long)n - 1;
}

/* cmd_utf8 - RFC 6856: names and messages are UTF-8 already */
static void cmd_utf8(pop3d_session_t *s, char **argv, int argc)
{
    pop3d_reply(s, "+OK UTF8 enabled");
}

/* cmd_stat - count and size of the messages not marked */
static void cmd_stat(pop3d_session_t *s, char **argv, int argc)
{
    size_t n = 0;
    long long bytes = 0;

    for (size_t i = 0; i < s->count; i++)
	if (!s->deleted[i]) {
	    n++;
	    bytes += s->store->msgs[i].vsize;
	}
    pop3d_reply(s, "+OK %zu %lld", n, bytes);
}

/* cmd_list_uidl - LIST and UIDL, one message or all */
static void cmd_list_uidl(pop3d_session_t *s, char **argv, int argc)
{
    int uidl = argv[0][0] == 'U' || argv[0][0] == 'u';
    const store_t *st = s->store;
    str_t *out;
    long i;

    if (argc > 1) {
	if ((i = msg_arg(s, argv[1])) < 0)
	    return;
	if (uidl)
	    pop3d_reply(s, "+OK %ld %08lx%08lx", i + 1, st->uidvalidity, st->msgs[i].uid);
	else
	    pop3d_reply(s, "+OK %ld %lld", i + 1, (long long)st->msgs[i].vsize);
	return;
    }
    out = str_new(64 + s->count * 24);
    str_appends(out, "+OK");
    for (size_t k = 0; k < s->count; k++) {
	if (s->deleted[k])
	    continue;
	if (uidl)
	    str_appendf(out, "\r\n%zu %08lx%08lx", k + 1, st->uidvalidity, st->msgs[k].uid);
	else
	    str_appendf(out, "\r\n%zu %lld", k + 1, (long long)st->msgs[k].vsize);
    }
    str_appends(out, "\r\n.");
    pop3d_reply(s, "%s", str_data(out));
    str_free(&out);
}

/* send_message - RETR (body_lines -1) or TOP; returns bytes sent or -1 */
static long long send_message(pop3d_session_t *s, long i, long body_lines)
{
    const char *err;
    int fd = store_msg_open(s->store, s->store->msgs[i].uid, &err);
    str_t *out;
    pop3d_out_t o;
    char buf[65536];
    ssize_t n;
    long long sent = 0;

    if (fd < 0) {
	msg_warn("user=<%s>: message %ld: %s", s->login.name, i + 1, err);
	pop3d_reply(s, "-ERR [SYS/TEMP] Message %ld cannot be read", i + 1);
	return -1;
    }
    out = str_new(sizeof(buf) + 4096);
    /* the status line leaves with the message: one write for a small one */
    if (stream_printf(s->client, "+OK %lld octets\r\n", (long long)s->store->msgs[i].vsize) < 0)
	s->done = 1, s->reason = "write error";
    pop3d_out_init(&o, body_lines);
    while (!o.stop && (n = read(fd, buf, sizeof(buf))) > 0 && !s->done) {
	pop3d_out_feed(&o, buf, (size_t)n, out);
	sent += (long long)str_len(out);
	if (stream_write(s->client, str_data(out), str_len(out)) < 0)
	    s->done = 1, s->reason = "write error";
	str_reset(out);
    }
    pop3d_out_end(&o, out);
    if (stream_write(s->client, str_data(out), str_len(out)) < 0 || stream_flush(s->client) < 0)
	s->done = 1, s->reason = "write error";
    close(fd);
    str_free(&out);
    return sent;
}

/* cmd_retr - send a whole message */
static void cmd_retr(pop3d_session_t *s, char **argv, int argc)
{
    long i = msg_arg(s, argv[1]);
    long long sent;

    if (i >= 0 && (sent = send_message(s, i, -1)) >= 0) {
	s->retr_count++;
	s->retr_bytes += sent;
    }
}

/* cmd_top - the header and the first N lines of the body */
static void cmd_top(pop3d_session_t *s, char **argv, int argc)
{
    char *end;
    long lines = strtol(argv[2], &end, 10), i;
    long long sent;

    if (*argv[2] < '0' || *argv[2] > '9' || *end || lines < 0) {
	pop3d_bad_command(s, "Bad line count");
	return;
    }
    if ((i = msg_arg(s, argv[1])) >= 0 && (sent = send_message(s, i, lines)) >= 0) {
	s->top_count++;
	s->top_bytes += sent;
    }
}

/* cmd_dele - mark a message for deletion at QUIT */
static void cmd_dele(pop3d_session_t *s, char **argv, int argc)
{
    long i = msg_arg(s, argv[1]);

    if (i < 0)
	return;
    s->deleted[i] = 1;
    pop3d_reply(s, "+OK Message %ld deleted", i + 1);
}

/* cmd_rset - unmark every message */
static void cmd_rset(pop3d_session_t *s, char **argv, int argc)
{
    memset(s->deleted, 0, s->count);
    pop3d_reply(s, "+OK");
}

/* cmd_noop - nothing */
static void cmd_noop(pop3d_session_t *s, char **argv, int argc)
{
    pop3d_reply(s, "+OK");
}

/* cmd_quit - in TRANSACTION, the UPDATE state: delete what was marked */
static void cmd_quit(pop3d_session_t *s, char **argv, int argc)
{
    const char *err;

    s->done = 1;
    s->reason = "quit";
    if (s->state != POP3D_TRANSACTION) {
	pop3d_reply(s, "+OK Bye");
	return;
    }
    for (size_t i = 0; i < s->count; i++)
	if (s->deleted[i]) {
	    s->dele_count++;
	    s->dele_bytes += s->store->msgs[i].vsize;
	}
    if (pop3d_mailbox_close(s, 1, &err) < 0) {
	msg_warn("user=<%s>: deleting messages: %s", s->login.name, err);
	pop3d_reply(s, "-ERR [SYS/TEMP] Some deleted messages were not removed");
    } else {
	pop3d_reply(s, "+OK Bye");
    }
}

static const pop3d_cmd_t pop3d_cmds[] = {
    {"CAPA", BOTH, 0, 0, pop3d_login_capa},
    {"UTF8", POP3D_AUTHORIZATION, 0, 0, cmd_utf8},
    {"STLS", POP3D_AUTHORIZATION, 0, 0, pop3d_tls_stls},
    {"USER", POP3D_AUTHORIZATION, 1, 0, pop3d_login_user},
    {"PASS", POP3D_AUTHORIZATION, 1, 0, pop3d_login_pass},
    {"AUTH", POP3D_AUTHORIZATION, 0, 2, pop3d_login_auth},
    {"QUIT", BOTH | POP3D_CLOSING, 0, 0, cmd_quit},
    {"STAT", POP3D_TRANSACTION, 0, 0, cmd_stat},
    {"LIST", POP3D_TRANSACTION, 0, 1, cmd_list_uidl},
    {"UIDL", POP3D_TRANSACTION, 0, 1, cmd_list_uidl},
    {"RETR", POP3D_TRANSACTION, 1, 0, cmd_retr},
    {"TOP", POP3D_TRANSACTION, 2, 0, cmd_top},
    {"DELE", POP3D_TRANSACTION, 1, 0, cmd_dele},
    {"RSET", POP3D_TRANSACTION, 0, 0, cmd_rset},
    {"NOOP", POP3D_TRANSACTION, 0, 0, cmd_noop},
    {0},
};

/* split_args - cut a command line at spaces; PASS keeps the rest of the
 * line as one argument (a password may hold spaces) */
static int split_args(char *line, char **argv, int max)
{
    int argc = 0;
    char *tok;

    while (argc < max && (tok = next_token(&line, " ")) != 0) {
	argv[argc++] = tok;
	if (argc == 1 && mr_strcaseeq(tok, "PASS") && line) {
	    argv[argc++] = line;
	    break;
	}
    }
    return argc;
}

/* pop3d_command - run one command line */
void pop3d_command(pop3d_session_t *s, char *line)
{
    char *argv[4];
    int argc = split_args(line, argv, 4);
    const pop3d_cmd_t *c;

    if (argc == 0) {
	pop3d_bad_command(s, "Empty command");
	return;
    }
    for (c = pop3d_cmds; c->name; c++)
	if (mr_strcaseeq(c->name, argv[0]))
	    break;
    if (c->name == 0)
	pop3d_bad_command(s, "Unknown command");
    else if ((c->states & s->state) == 0)
	pop3d_bad_command(s, "Command not valid in this state");
    else if (argc - 1 < c->args || argc - 1 > c->args + c->more)
	pop3d_bad_command(s, "Wrong number of arguments");
    else
	c->fn(s, argv, argc);
}
