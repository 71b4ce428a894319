/*
 * config_setgid.c - the configuration directory rule for set-gid commands
 * (see config_setgid.h).
 *
 * The list is read from the default configuration only, never from the
 * directory being asked about. Without a readable default configuration
 * there is no list, so nothing but the default directory is allowed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/config.h"
#include "global/config_setgid.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* config_setgid_listed - is dir one of the words of list? */
static int config_setgid_listed(const char *list, const char *dir)
{
    char *copy = mr_strdup(list), *cp = copy, *tok;
    int found = 0;

    while (!found && (tok = next_token(&cp, ", \t\r\n")) != NULL)
	found = strcmp(tok, dir) == 0;
    mr_free(copy);
    return found;
}

/* config_setgid_allowed - apply the rule */
int config_setgid_allowed(const char *dir, const char **error_r)
{
    static char err[600];
    const char *error;
    int set_id = getegid() != getgid() || geteuid() != getuid();
    int ok;

    if (dir == NULL || *dir == 0)
	dir = getenv("MAILROOM_CONFIG_DIR");
    if (dir == NULL || *dir == 0)
	dir = DEF_CONFIG_DIR;
    if (!set_id || getuid() == 0 || strcmp(dir, DEF_CONFIG_DIR) == 0)
	return 1;
    ok = config_load(DEF_CONFIG_DIR, &error) == 0 &&
	 config_setgid_listed(config_str("alternate_config_directories"), dir);
    config_reset();
    if (!ok) {
	snprintf(err, sizeof(err),
		 "configuration directory %.250s is not listed in "
		 "alternate_config_directories of %s/%s",
		 dir, DEF_CONFIG_DIR, CONFIG_FILE);
	*error_r = err;
    }
    return ok;
}
