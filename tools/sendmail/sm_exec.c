/*
 * sm_exec.c - sendmail modes that are other tools' work.
 *
 *   -bp, mailq      mailroom-queue -p
 *   -q, -qR, -qS    mailroom-queue -f (-s site)
 *   -qI ID          mailroom-queue -i ID
 *   -bi, newaliases mailroom-map -a TABLE, for each alias_maps table whose
 *                   type is built from a text file (hash, btree, cdb)
 *
 * The tools are taken from command_directory, never from $PATH, and get
 * the configuration directory sendmail itself uses.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "global/config.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "sendmail.h"

/* sm_run_tool - exec or run command_directory/PROG */
int sm_run_tool(const char *prog, char *const args[], int wait_for)
{
    char *path = mr_format("%s/%s", config_str("command_directory"), prog);
    char *argv[16];
    int n = 0, status;
    pid_t pid;

    argv[n++] = path;
    argv[n++] = "-c";
    argv[n++] = (char *)config_dir();
    for (int i = 0; args[i] && n < 15; i++)
	argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    if (!wait_for || (pid = fork()) == 0) {
	execv(path, argv);
	fprintf(stderr, "sendmail: cannot run %s: %s\n", path, strerror(errno));
	if (wait_for)
	    _exit(EX_UNAVAILABLE);
	mr_free(path);
	return EX_UNAVAILABLE;
    }
    mr_free(path);
    if (pid < 0) {
	fprintf(stderr, "sendmail: fork: %s\n", strerror(errno));
	return EX_OSERR;
    }
    while (waitpid(pid, &status, 0) < 0)
	if (errno != EINTR)
	    return EX_OSERR;
    return WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
}

/* sm_buildable - is a table of this type built from a text source? */
static int sm_buildable(const char *spec)
{
    return strncmp(spec, "hash:", 5) == 0 || strncmp(spec, "btree:", 6) == 0 ||
	   strncmp(spec, "cdb:", 4) == 0;
}

/* sm_newaliases - mailroom-map -a for each buildable alias table */
int sm_newaliases(const sm_opts_t *opts)
{
    char *maps = mr_strdup(opts->alias_file ? opts->alias_file : config_str("alias_maps"));
    char *cp = maps, *spec;
    int ret = 0, rc;

    while ((spec = next_token(&cp, ", \t\r\n")) != NULL) {
	char *table = strchr(spec, ':') ? mr_strdup(spec) : mr_format("hash:%s", spec);

	if (sm_buildable(table)) {
	    char *args[] = {"-a", table, NULL};

	    if ((rc = sm_run_tool("mailroom-map", args, 1)) != 0)
		ret = rc;
	} else if (opts->verbose) {
	    fprintf(stderr, "sendmail: %s: nothing to build for this table type\n", table);
	}
	mr_free(table);
    }
    mr_free(maps);
    return ret;
}
