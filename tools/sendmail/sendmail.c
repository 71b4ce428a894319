/*
 * sendmail.c - the sendmail command (also mailq and newaliases).
 *
 * What it does: takes a message from a local program on standard input,
 * builds the envelope - the sender from -f or
 * the invoking user's login name, the recipients from the arguments
 * and/or the header (-t) - and hands the message to mailroom-postdrop,
 * which writes it into maildrop/ and wakes pickup. With -bs it runs the
 * SMTP server, smtpd, in stand-alone mode on its standard input and
 * output, which submits the same way. Called as mailq (or
 * with -bp) it lists the queue; as newaliases (or -bi) it rebuilds the
 * alias tables; -q asks qmgr to retry deferred mail.
 *
 * Privileges: none. sendmail is not setuid or setgid; it runs as the
 * user who called it. Only mailroom-postdrop, a small setgid helper,
 * can write to maildrop/, and it checks what sendmail sends. So nothing
 * here needs to distrust its input for safety's sake; it checks input to
 * give the user a clear error instead of a bounce.
 *
 * Addresses without "@" are qualified here with @$myorigin (sender and
 * recipients), so that the maildrop file already says where the mail
 * goes and `mailq` shows what will happen.
 *
 * Exit status (sysexits.h): 0 the message is in maildrop/; EX_USAGE bad
 * command line or no recipients; EX_DATAERR message refused (too big,
 * -t found no recipients); EX_CONFIG unreadable configuration;
 * EX_TEMPFAIL postdrop failed: the message was NOT queued.
 *
 * Parameters: myorigin, command_directory, daemon_directory (-bs), message_size_limit,
 * header_size_limit, alias_maps (-bi).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "util/stream.h"
#include "sendmail.h"

/* sm_login - the invoking user's login name (by real uid) */
static char *sm_login(void)
{
    struct passwd *pw = getpwuid(getuid());

    if (pw == NULL) {
	fprintf(stderr, "sendmail: no user name for uid %ld\n", (long)getuid());
	return NULL;
    }
    return mr_strdup(pw->pw_name);
}

typedef struct sm_first {
    char *addr;
} sm_first_t;

/* sm_first_addr - sm_addr_list callback keeping the first address */
static void sm_first_addr(const char *addr, void *context)
{
    sm_first_t *f = context;

    if (f->addr == NULL)
	f->addr = mr_strdup(addr);
}

/* sm_sender - the envelope sender: -f (any form), or login@myorigin */
static char *sm_sender(const char *given, const char *origin)
{
    sm_first_t f = {NULL};
    char *login, *sender;

    if (given != NULL) {
	sm_addr_list(given, sm_first_addr, &f);
	if (f.addr == NULL || *f.addr == 0 || strchr(f.addr, '@'))
	    return f.addr ? f.addr : mr_strdup("");
	sender = mr_format("%s@%s", f.addr, origin);
	mr_free(f.addr);
	return sender;
    }
    if ((login = sm_login()) == NULL)
	return NULL;
    sender = mr_format("%s@%s", login, origin);
    mr_free(login);
    return sender;
}

typedef struct sm_arg_ctx {
    sm_rcpts_t *rcpts;
    const char *origin;
} sm_arg_ctx_t;

/* sm_arg_rcpt - sm_addr_list callback for a recipient argument */
static void sm_arg_rcpt(const char *addr, void *context)
{
    sm_arg_ctx_t *a = context;

    sm_rcpts_add(a->rcpts, addr, a->origin);
}

/* sm_verify_line - the message -bv sends: a header only */
static int sm_verify_line(void *context, str_t *line, int *complete_r, const char **error_r)
{
    int *n = context;

    *complete_r = 1;
    if ((*n)++ > 0)
	return 0;
    str_set(line, "Subject: address verification");
    return 1;
}

/* sm_send - the default mode: one message from standard input; -bv: no
 * input, a header-only message that asks for a report, not delivery */
static int sm_send(const sm_opts_t *opts)
{
    const char *origin = config_str("myorigin");
    sm_envelope_t env = {NULL,        opts->fullname, opts->notify, opts->ret,
			 opts->envid, opts->body,     NULL,         {0}};
    sm_stdin_reader_t rd = {.in = stream_open(0), .ignore_dots = opts->ignore_dots};
    sm_arg_ctx_t actx = {&env.rcpts, origin};
    str_t *qid = str_new(20), *why = str_new(100);
    char *sender;
    int ret, verify_lines = 0;

    if ((sender = sm_sender(opts->sender, origin)) == NULL)
	return EX_NOUSER;
    env.sender = sender;
    for (int i = 0; i < opts->rcpt_count; i++)
	sm_addr_list(opts->rcpts[i], sm_arg_rcpt, &actx);
    if (opts->mode == SM_MODE_VERIFY)
	env.trace_flags = "1";
    else if (opts->verbose)
	env.trace_flags = "2";
    ret = opts->mode == SM_MODE_VERIFY
	      ? sm_message_copy(sm_verify_line, &verify_lines, &env, 0, origin, qid, why)
	      : sm_message_copy(sm_stdin_line, &rd, &env, opts->extract, origin, qid, why);
    if (ret != 0)
	fprintf(stderr, "sendmail: %s%s\n", str_data(why),
		ret == EX_TEMPFAIL ? "; the message was not queued" : "");
    else if (opts->verbose)
	fprintf(stderr,
		"sendmail: queued as %s (maildrop ID; pickup logs the queue ID "
		"as \"QUEUEID: uid=%ld from=<%s> orig_id=%s\")\n",
		str_data(qid), (long)getuid(), sender, str_data(qid));
    stream_release(&rd.in);
    sm_rcpts_free(&env.rcpts);
    mr_free(sender);
    str_free(&qid);
    str_free(&why);
    return ret;
}

/* sm_flush - -q and friends through mailroom-queue */
static int sm_flush(const sm_opts_t *opts)
{
    char *args[3] = {"-f", NULL, NULL};

    if (opts->flush_site)
	args[0] = "-s", args[1] = (char *)opts->flush_site;
    else if (opts->flush_id)
	args[0] = "-i", args[1] = (char *)opts->flush_id;
    return sm_run_tool("mailroom-queue", args, 0);
}

/*
 * sm_bs - -bs: SMTP on standard input and output, spoken by smtpd itself
 * in stand-alone mode (smtpd -S reads fd 0 and writes fd 1), so there is
 * one SMTP server with one set of checks. It runs as the invoking user
 * and hands each message to mailroom-postdrop; root's becomes mail_owner
 * first (-u) and goes to cleanup directly, as the daemon would.
 */
static int sm_bs(void)
{
    char *path = mr_format("%s/%s", config_str("daemon_directory"), "smtpd");
    char *argv[] = {path,       "-S", "-c",   (char *)config_dir(),        "-n",
		    "sendmail", "-t", "unix", getuid() == 0 ? "-u" : NULL, NULL};

    fflush(stdout);
    execv(path, argv);
    fprintf(stderr, "sendmail: cannot run %s: %s\n", path, strerror(errno));
    mr_free(path);
    return EX_UNAVAILABLE;
}

/* sm_config_dir - -C may name the file itself: use its directory */
static const char *sm_config_dir(const char *given)
{
    struct stat st;
    char *slash;

    if (given == NULL || stat(given, &st) < 0 || !S_ISREG(st.st_mode))
	return given;
    if ((slash = strrchr(given, '/')) == NULL)
	return ".";
    return slash == given ? "/" : mr_strndup(given, (size_t)(slash - given));
}

/* main - pick the mode, load the configuration, run it */
int main(int argc, char **argv)
{
    sm_opts_t opts;
    const char *error;
    int ret;

    msg_init("sendmail");
    msg_target("stderr");
    if ((ret = sm_opts_parse(argc, argv, &opts)) != 0)
	return ret;
    msg_verbose = opts.verbose > 1;
    opts.config_dir = sm_config_dir(opts.config_dir);
    if (config_load(opts.config_dir, &error) < 0) {
	fprintf(stderr, "sendmail: %s\n", error);
	return EX_CONFIG;
    }
    switch (opts.mode) {
    case SM_MODE_MAILQ: {
	char *args[] = {"-p", NULL};

	return sm_run_tool("mailroom-queue", args, 0);
    }
    case SM_MODE_ALIASES:
	return sm_newaliases(&opts);
    case SM_MODE_FLUSH:
	return sm_flush(&opts);
    case SM_MODE_NOOP:
	return 0;
    case SM_MODE_SMTP:
	return sm_bs();
    case SM_MODE_VERIFY:
    default:
	return sm_send(&opts);
    }
}
