/*
 * sendmail.h - pieces of the sendmail command (internal to tools/sendmail).
 *
 * sm_opts.c     command line: sendmail's historical flags
 * sm_addr.c     RFC 5322 address lists (header values, -f, arguments)
 * sm_message.c  reading a message: headers, -t, Bcc removal, body lines
 * sm_drop.c     handing a message to mailroom-postdrop over a pipe
 * sm_exec.c     -bp, -q, -bi: running the other tools
 */
#ifndef MR_SENDMAIL_H
#define MR_SENDMAIL_H

#include <stddef.h>
#include <sysexits.h>

#include "util/str.h"
#include "util/stream.h"

/* What the command was asked to do */
#define SM_MODE_MAIL 0    /* -bm (default): read a message */
#define SM_MODE_SMTP 1    /* -bs */
#define SM_MODE_MAILQ 2   /* -bp, or called as mailq */
#define SM_MODE_ALIASES 3 /* -bi / -I, or called as newaliases */
#define SM_MODE_FLUSH 4   /* -q, -qR, -qS, -qI */
#define SM_MODE_NOOP 5    /* -q30m and the like: nothing to do */
#define SM_MODE_VERIFY 6  /* -bv: resolve, report, do not deliver */

typedef struct sm_opts {
    int mode;
    int extract;            /* -t */
    int ignore_dots;        /* -i, -oi */
    int verbose;            /* -v */
    const char *config_dir; /* -c DIR or -C FILE|DIR */
    const char *sender;     /* -f / -r (NULL: the login name) */
    const char *fullname;   /* -F */
    const char *notify;     /* -N (normalized, upper case) */
    const char *ret;        /* -R: FULL or HDRS */
    const char *envid;      /* -V */
    const char *body;       /* -B: 7BIT or 8BITMIME */
    const char *alias_file; /* -oA (for -bi) */
    const char *flush_site; /* -qR / -qS */
    const char *flush_id;   /* -qI */
    char **rcpts;           /* remaining arguments */
    int rcpt_count;
} sm_opts_t;

/* sm_opts_parse - fill opts from argv (argv[0] picks mailq/newaliases).
 * Returns 0, or EX_USAGE after printing the reason and a usage line. */
int sm_opts_parse(int argc, char **argv, sm_opts_t *opts);
/* sm_usage - the usage text on stderr */
void sm_usage(void);

/* sm_addr_list - parse an RFC 5322 address list (display names, comments,
 * groups, route addresses, quoted strings) and call fn with each bare
 * address (local@domain, or local alone); "<>" yields "". Returns the
 * number of addresses found. */
typedef void (*sm_addr_fn)(const char *addr, void *context);
int sm_addr_list(const char *text, sm_addr_fn fn, void *context);
/* sm_addr_needs_quote - does a display name need "quoting"? */
int sm_addr_needs_quote(const char *name);

/* A message being collected: its recipients and envelope */
typedef struct sm_rcpts {
    char **items;
    size_t count;
    size_t cap;
} sm_rcpts_t;

/* sm_rcpts_add - add addr (qualified with @origin if it has no @),
 * skipping duplicates (case-insensitive) and empty addresses */
void sm_rcpts_add(sm_rcpts_t *r, const char *addr, const char *origin);
/* sm_rcpts_free - release the items */
void sm_rcpts_free(sm_rcpts_t *r);

typedef struct sm_envelope {
    const char *sender;                      /* qualified, "" for the null sender */
    const char *fullname;                    /* may be NULL */
    const char *notify, *ret, *envid, *body; /* may be NULL */
    const char *trace_flags;                 /* "1" -bv, "2" -v: delivery report; or NULL */
    sm_rcpts_t rcpts;
} sm_envelope_t;

/* Line source for sm_message_copy: 1 a line (terminator removed) in
 * line, *complete_r 0 if the line goes on in the next call; 0 end of
 * message; -1 error (text in *error_r). */
typedef int (*sm_line_fn)(void *context, str_t *line, int *complete_r, const char **error_r);

/* sm_stdin_reader - the sendmail -bm line source over a stream: strips
 * LF or CRLF, and a lone "." ends the message unless ignore_dots */
typedef struct sm_stdin_reader {
    stream_t *in;
    int ignore_dots;
    int pending_cr; /* private */
    int mid_line;   /* private */
} sm_stdin_reader_t;
int sm_stdin_line(void *context, str_t *line, int *complete_r, const char **error_r);

struct sm_drop;

/* sm_message_copy - read one message from src: collect and rewrite the
 * header (-t extraction when extract is set, Bcc removal, From: when
 * missing), then open the drop with the final envelope and copy header
 * and body. Returns 0 and the queue ID in qid, or an EX_* code with the
 * reason in why (already reported by the drop side when it failed). */
int sm_message_copy(sm_line_fn src, void *src_ctx, sm_envelope_t *env, int extract,
		    const char *origin, str_t *qid, str_t *why);

/* sm_drop_open - start mailroom-postdrop and send the envelope. NULL
 * with why set when it cannot be started. */
typedef struct sm_drop sm_drop_t;
sm_drop_t *sm_drop_open(const sm_envelope_t *env, str_t *why);
/* sm_drop_line - one content line (or piece, complete 0) */
void sm_drop_line(sm_drop_t *d, const char *line, size_t len, int complete);
/* sm_drop_content_size - content bytes sent so far (lines + newlines) */
long long sm_drop_content_size(const sm_drop_t *d);
/* sm_drop_close - send END, wait for postdrop. Returns 0 with the queue
 * ID in qid, or an EX_* code with the reason in why. */
int sm_drop_close(sm_drop_t **dp, str_t *qid, str_t *why);
/* sm_drop_abort - kill the transfer: postdrop sees no END and keeps nothing */
void sm_drop_abort(sm_drop_t **dp);

/* sm_exec_tool - run command_directory/PROG with args (NULL-terminated)
 * in place of this process (exec) or, with wait_for set, as a child;
 * returns its exit status or EX_* */
int sm_run_tool(const char *prog, char *const args[], int wait_for);
/* sm_newaliases - -bi: mailroom-map -a for each buildable alias table */
int sm_newaliases(const sm_opts_t *opts);

/* sm_size_limit - message_size_limit, or a built-in default when no
 * part of the system declares it */
long long sm_size_limit(void);

#endif
