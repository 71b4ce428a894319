/*
 * master_conf.h - reading master.conf, the table of services.
 *
 * One service per logical line (the grammar of lib/util/lline.h: a line
 * that starts with white space continues the previous one; '#' starts a
 * comment line; a logical line is at most 64 KiB):
 *
 *   service type private unpriv chroot wakeup maxproc command [args...]
 *
 *   service  inet: [host:]port (a number or a name from /etc/services);
 *            unix, fifo: a socket name (no '/') under
 *            queue_directory/private (private = y) or public (n)
 *   type     inet | unix | fifo
 *   private, unpriv, chroot   y | n | - (default)
 *   wakeup   seconds between timer wake-ups (trigger servers), 0 or - none;
 *            a trailing '?' is accepted and ignored
 *   maxproc  most processes at once; 0 no limit; - default_process_limit
 *   command  program name in daemon_directory, then its arguments;
 *            "-o name=value" overrides a mailroom.conf parameter
 *
 * The parser reports every problem it finds, one "file:line: problem" line
 * each, and keeps the entries that were well-formed.
 */
#ifndef MR_MASTER_CONF_H
#define MR_MASTER_CONF_H

#include "util/str.h"

#define MASTER_TYPE_INET 1
#define MASTER_TYPE_UNIX 2
#define MASTER_TYPE_FIFO 3

#define MASTER_FLAG_DEFAULT (-1) /* "-" in a y/n or number column */

typedef struct master_ent {
    char *service;    /* the first column as written */
    int type;         /* MASTER_TYPE_* */
    int private_flag; /* 1, 0, MASTER_FLAG_DEFAULT */
    int unpriv_flag;  /* 1, 0, MASTER_FLAG_DEFAULT */
    int chroot_flag;  /* 1, 0, MASTER_FLAG_DEFAULT */
    int wakeup;       /* seconds; 0 none */
    int maxproc;      /* 0 unlimited, MASTER_FLAG_DEFAULT */
    int argc;         /* command and arguments */
    char **argv;      /* argv[0] is the command; NULL-terminated */
    int line;         /* where the entry starts */
} master_ent_t;

typedef struct master_conf {
    char *path;
    int count;
    master_ent_t *ents;
} master_conf_t;

/* master_conf_read - parse path. Returns the number of problems found
 * (each appended to errors as "path:line: problem\n"), or -1 if the file
 * cannot be opened (the reason is appended too). *conf_r is set unless
 * -1 is returned, and holds the well-formed entries. */
int master_conf_read(const char *path, master_conf_t **conf_r, str_t *errors);
/* master_conf_parse_text - the same for text already in memory; path is
 * used in messages only */
int master_conf_parse_text(const char *path, const char *text, master_conf_t **conf_r,
			   str_t *errors);
/* master_conf_free - release and clear the caller's pointer */
void master_conf_free(master_conf_t **conf_r);
/* master_type_name - "inet", "unix" or "fifo" */
const char *master_type_name(int type);
/* master_ent_address - where the service listens: "host:port" as written
 * (":port" when no host) for inet, queue_dir/private|public/name for
 * the others (private_flag MASTER_FLAG_DEFAULT counts as y); returns a
 * new string */
char *master_ent_address(const master_ent_t *ent, const char *queue_dir);

#endif
