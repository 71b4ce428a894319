/*
 * mailroom.h - shared by the parts of the mailroom command.
 */
#ifndef MR_MAILROOM_H
#define MR_MAILROOM_H

#include "util/str.h"

/* mailroom_check - validate the configuration; append one
 * "file:line: problem" line per problem to problems and compatibility
 * notes to notes; returns the number of problems */
int mailroom_check(str_t *problems, str_t *notes);
/* mailroom_check_tls - certificate and key (mailroom_tls.c); returns
 * the number of problems, expiry warnings go to notes */
int mailroom_check_tls(str_t *problems, str_t *notes);
struct master_conf;
/* mailroom_check_tls_services - the same for each service of conf that
 * sets a certificate or key with -o, its problems named by file:line */
int mailroom_check_tls_services(const struct master_conf *conf, str_t *problems, str_t *notes);

/* mailroom_config_edit - "name=value": set it in mailroom.conf in place
 * (mailroom_edit.c); 0 ok, -1 with *error_r */
int mailroom_config_edit(const char *assignment, const char **error_r);

#endif
