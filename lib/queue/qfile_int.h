/*
 * qfile_int.h - what qfile.c shares with qfile_pool.c and nobody else.
 */
#ifndef MR_QFILE_INT_H
#define MR_QFILE_INT_H

#include "queue/qfile.h"

/* qfile_fail - format "what path: strerror(errno)" into *error_r; -1 */
int qfile_fail(const char **error_r, const char *what, const char *path);
/* qfile_mkdirs - create the (hash) directories leading to abspath: 0/-1 */
int qfile_mkdirs(const char *abspath);
/* qfile_temp_name - set out to ".tPID.N", a name no other call returns */
void qfile_temp_name(str_t *out);
/* qfile_out_new - a qfile_out_t on fd, its file at abspath */
qfile_out_t *qfile_out_new(int fd, const char *queue, const char *abspath);

#endif
