/*
 * config_setgid.h - which configuration directory a set-gid command may
 * read on behalf of an ordinary user.
 *
 * A command installed setgid setgid_group (mailroom-postdrop,
 * mailroom-queue) acts with that group's rights, and the configuration
 * names the queue directory it acts on. If any user could point it at a
 * configuration of their own, they could point the group's rights at a
 * directory of their choosing. So when the program runs set-id for a real
 * user other than root, it accepts only the default configuration
 * directory (DEF_CONFIG_DIR) or one that the default configuration lists
 * in alternate_config_directories. Root, and a copy that is not set-id
 * (a test instance run by its owner), may use any directory.
 */
#ifndef MR_CONFIG_SETGID_H
#define MR_CONFIG_SETGID_H

/* config_setgid_allowed - may this process read the configuration in dir
 * (NULL or empty: $MAILROOM_CONFIG_DIR, then DEF_CONFIG_DIR)? Returns 1
 * yes; 0 no, with *error_r saying why. Leaves no configuration loaded:
 * the caller then calls config_load(dir, ...) itself. */
int config_setgid_allowed(const char *dir, const char **error_r);

#endif
