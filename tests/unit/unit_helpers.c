/*
 * unit_helpers.c - temporary directories and files for unit tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "util/str.h"

static char unit_dir[256];

/* unit_cleanup - remove the temporary directory */
static void unit_cleanup(void)
{
    char cmd[300];

    if (unit_dir[0] && strncmp(unit_dir, "/tmp/mrunit.", 12) == 0) {
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", unit_dir);
	if (system(cmd) != 0)
	    fprintf(stderr, "could not remove %s\n", unit_dir);
    }
}

const char *unit_tmpdir(void)
{
    if (unit_dir[0] == 0) {
	mr_strlcpy(unit_dir, "/tmp/mrunit.XXXXXX", sizeof(unit_dir));
	if (mkdtemp(unit_dir) == NULL)
	    abort();
	atexit(unit_cleanup);
    }
    return unit_dir;
}

const char *unit_write_file(const char *name, const char *text)
{
    static char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), name);
    if ((fp = fopen(path, "w")) == NULL)
	abort();
    fputs(text, fp);
    fclose(fp);
    return path;
}

/* unit_read_fd - everything left to read on fd, which is then closed */
str_t *unit_read_fd(int fd)
{
    str_t *s = str_new(256);
    char buf[4096];
    ssize_t n;

    assert_true(fd >= 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
	str_append(s, buf, (size_t)n);
    assert_true(n == 0);
    close(fd);
    return s;
}
