/*
 * unit_helpers.h - shared bits for the cmocka unit tests.
 */
#ifndef MR_UNIT_HELPERS_H
#define MR_UNIT_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* unit_tmpdir - a fresh temporary directory (removed at exit) */
const char *unit_tmpdir(void);
/* unit_write_file - create dir/name with the given text; returns the path
 * (static storage, valid until the next call) */
const char *unit_write_file(const char *name, const char *text);
/* unit_read_fd - everything left to read on fd (asserted readable), which
 * is then closed */
struct str;
struct str *unit_read_fd(int fd);

#endif
