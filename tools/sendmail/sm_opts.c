/*
 * sm_opts.c - the sendmail command line.
 *
 * Programs that send mail (cron, mailx, PHP's mail(), scripts) call
 * sendmail with flags from the historical Sendmail program. getopt(3)
 * does not fit them: "-q" takes an optional value glued to it, "-o"
 * takes a letter and maybe a value, and "-oi" must be one option rather
 * than "-o i". So the flags are read here by hand: each argument that
 * starts with "-" holds one or more flags; a flag that takes a value
 * takes the rest of the argument or, when that is empty, the next one.
 * "--" ends the flags. Flags that mean nothing for Mailroom are accepted
 * and ignored (docs/sendmail.md lists them); an unknown flag is a usage
 * error (EX_USAGE), because silently ignoring a typo could send mail
 * somewhere nobody meant.
 */
#include <stdio.h>
#include <string.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "sendmail.h"

/* sm_usage - print the usage text */
void sm_usage(void)
{
    fprintf(stderr, "usage: sendmail [-t] [-i] [-f sender] [-F fullname] [-N dsn] [-R ret]\n"
		    "                [-V envid] [-B type] [-v] [-c config_dir] [recipient ...]\n"
		    "       sendmail -bs | -bp | -bi | -q[Rsite|Ssite|Iqueue_id]\n"
		    "       mailq | newaliases\n");
}

/* sm_bad - report a usage problem */
static int sm_bad(const char *fmt, const char *arg)
{
    char text[300];

    snprintf(text, sizeof(text), fmt, arg);
    fprintf(stderr, "sendmail: %s\n", text);
    sm_usage();
    return EX_USAGE;
}

/* sm_norm_notify - check a -N list and make it upper case */
static const char *sm_norm_notify(const char *value)
{
    static const char *words[] = {"never", "success", "delay", "failure", NULL};
    char *copy = mr_strdup(value), *cp = copy, *tok;
    str_t *out = str_new(32);
    int never = 0, others = 0;

    while ((tok = next_token(&cp, ", ")) != NULL) {
	int i;

	for (i = 0; words[i] && !mr_strcaseeq(words[i], tok); i++)
	    /* void */;
	if (words[i] == NULL) {
	    mr_free(copy);
	    str_free(&out);
	    return NULL;
	}
	(i == 0 ? never++ : others++);
	if (str_len(out))
	    str_appendc(out, ',');
	str_appends(out, words[i]);
    }
    mr_free(copy);
    if (str_len(out) == 0 || (never && others)) {
	str_free(&out);
	return NULL;
    }
    for (char *up = str_data(out); *up; up++)
	if (*up >= 'a' && *up <= 'z')
	    *up = (char)(*up - 'a' + 'A');
    return str_steal(&out);
}

/* sm_opt_o - "-oX[value]": the few with a meaning, the rest ignored */
static int sm_opt_o(sm_opts_t *o, const char *arg, char **argv, int *ip)
{
    if (*arg == 0) { /* "-o x value" */
	if (argv[*ip + 1] == NULL)
	    return sm_bad("option -o needs a value", "");
	arg = argv[++*ip];
    }
    if (strcmp(arg, "i") == 0) {
	o->ignore_dots = 1;
	return 0;
    }
    /* single-letter flags without a value: -om -o7 -o8 */
    if (strchr("m78", *arg) && arg[1] == 0)
	return 0;
    /* value-taking letters: the value is glued or the next argument */
    const char *val = arg + 1;

    if (*val == 0 && argv[*ip + 1] != NULL)
	val = argv[++*ip];
    if (*arg == 'A')
	o->alias_file = val;
    return 0;
}

/* sm_opt_b - "-bX": the mode */
static int sm_opt_b(sm_opts_t *o, const char *arg)
{
    if (strcmp(arg, "m") == 0)
	o->mode = SM_MODE_MAIL;
    else if (strcmp(arg, "s") == 0)
	o->mode = SM_MODE_SMTP;
    else if (strcmp(arg, "p") == 0)
	o->mode = SM_MODE_MAILQ;
    else if (strcmp(arg, "i") == 0)
	o->mode = SM_MODE_ALIASES;
    else if (strcmp(arg, "v") == 0)
	o->mode = SM_MODE_VERIFY;
    else if (strcmp(arg, "d") == 0 || strcmp(arg, "D") == 0)
	return sm_bad("-b%s: daemon mode is not supported; use \"mailroom start\"", arg);
    else
	return sm_bad("-b%s: unsupported mode", arg);
    return 0;
}

/* sm_opt_q - "-q[...]": flush the queue, or a daemon interval (ignored) */
static int sm_opt_q(sm_opts_t *o, const char *arg)
{
    if (*arg == 0) {
	o->mode = SM_MODE_FLUSH;
    } else if (*arg == 'R' || *arg == 'S') {
	if (arg[1] == 0)
	    return sm_bad("-q%s needs a site name", arg);
	o->mode = SM_MODE_FLUSH;
	o->flush_site = arg + 1;
    } else if (*arg == 'I') {
	if (arg[1] == 0)
	    return sm_bad("-q%s needs a queue ID", arg);
	o->mode = SM_MODE_FLUSH;
	o->flush_id = arg + 1;
    } else if (strspn(arg, "0123456789smhdw") == strlen(arg)) {
	/* "-q30m": a periodic run in daemon mode; the daemons do that */
	if (o->mode == SM_MODE_MAIL)
	    o->mode = SM_MODE_NOOP;
    } else {
	return sm_bad("-q%s: unsupported queue option", arg);
    }
    return 0;
}

/* sm_opt_value - a flag with a value: store it or check it */
static int sm_opt_value(sm_opts_t *o, int flag, const char *val)
{
    switch (flag) {
    case 'f':
    case 'r':
	o->sender = val;
	return 0;
    case 'F':
	o->fullname = val;
	return 0;
    case 'c':
    case 'C':
	o->config_dir = val;
	return 0;
    case 'N':
	if ((o->notify = sm_norm_notify(val)) == NULL)
	    return sm_bad("-N %s: expected never, or a list of success, delay, failure", val);
	return 0;
    case 'R':
	if (mr_strcaseeq(val, "full"))
	    o->ret = "FULL";
	else if (mr_strcaseeq(val, "hdrs"))
	    o->ret = "HDRS";
	else
	    return sm_bad("-R %s: expected full or hdrs", val);
	return 0;
    case 'V':
	for (const char *cp = val; *cp; cp++)
	    if (*cp <= ' ' || *cp > '~' || *cp == '+' || *cp == '=')
		return sm_bad("-V %s: bad envelope ID", val);
	if (*val == 0 || strlen(val) > 100)
	    return sm_bad("-V %s: bad envelope ID", val);
	o->envid = val;
	return 0;
    case 'B':
	if (mr_strcaseeq(val, "7bit"))
	    o->body = "7BIT";
	else if (mr_strcaseeq(val, "8bitmime"))
	    o->body = "8BITMIME";
	else
	    return sm_bad("-B %s: expected 7BIT or 8BITMIME", val);
	return 0;
    default: /* -h -L -O -X: accepted, no meaning */
	return 0;
    }
}

/* sm_opts_cluster - one "-xyz" argument; may consume the next argument */
static int sm_opts_cluster(sm_opts_t *o, char **argv, int *ip)
{
    const char *arg = argv[*ip] + 1;

    while (*arg) {
	int flag = *arg++;

	/* these take the rest of the argument, whatever it holds */
	if (flag == 'b')
	    return sm_opt_b(o, arg);
	if (flag == 'q')
	    return sm_opt_q(o, arg);
	if (flag == 'o')
	    return sm_opt_o(o, arg, argv, ip);
	if (strchr("fFrcCNRVBhLOX", flag)) {
	    const char *val = *arg ? arg : argv[*ip + 1];
	    char name[2] = {(char)flag, 0};

	    if (val == NULL)
		return sm_bad("option -%s needs a value", name);
	    if (*arg == 0)
		++*ip;
	    return sm_opt_value(o, flag, val);
	}
	switch (flag) {
	case 't':
	    o->extract = 1;
	    break;
	case 'i':
	    o->ignore_dots = 1;
	    break;
	case 'v':
	    o->verbose++;
	    break;
	case 'I':
	    o->mode = SM_MODE_ALIASES;
	    break;
	case 'G':
	case 'U':
	case 'm':
	case 'n':
	case 'x':
	    break;
	default: {
	    char name[2] = {(char)flag, 0};

	    return sm_bad("unknown option -%s", name);
	}
	}
    }
    return 0;
}

/* sm_opts_parse - the whole command line */
int sm_opts_parse(int argc, char **argv, sm_opts_t *o)
{
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int i, ret;

    memset(o, 0, sizeof(*o));
    if (strcmp(prog, "mailq") == 0)
	o->mode = SM_MODE_MAILQ;
    else if (strcmp(prog, "newaliases") == 0)
	o->mode = SM_MODE_ALIASES;
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != 0; i++) {
	if (strcmp(argv[i], "--") == 0) {
	    i++;
	    break;
	}
	if ((ret = sm_opts_cluster(o, argv, &i)) != 0)
	    return ret;
    }
    o->rcpts = argv + i;
    o->rcpt_count = argc - i;
    if (o->rcpt_count > 0 && o->mode != SM_MODE_MAIL && o->mode != SM_MODE_NOOP &&
	o->mode != SM_MODE_VERIFY)
	return sm_bad("%s: recipients are only allowed when sending mail", o->rcpts[0]);
    if (o->mode == SM_MODE_MAIL && o->rcpt_count == 0 && !o->extract)
	return sm_bad("%s", "no recipients given (and no -t)");
    return 0;
}
