/*
 * store_fixture.c - the shared setup of the lib/store unit tests (see
 * store_fixture.h).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_fixture.h"
#include "unit_helpers.h"
#include "util/mymalloc.h"

static int fx_seq;

/* fx_new_box - see store_fixture.h */
char *fx_new_box(void)
{
    return mr_format("%s/box%d", unit_tmpdir(), ++fx_seq);
}

/* fx_open - see store_fixture.h */
store_t *fx_open(const char *box)
{
    store_t *st = NULL;
    const char *err = NULL;

    if (store_open(box, &st, &err) < 0)
	fail_msg("store_open %s: %s", box, err);
    return st;
}

/* fx_put - see store_fixture.h */
void fx_put(const char *box, const char *sub, const char *name, const char *text)
{
    char *path = mr_format("%s/%s/%s", box, sub, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    mr_free(path);
}

/* fx_deliver - see store_fixture.h */
void fx_deliver(const char *box, const char *name, const char *text)
{
    fx_put(box, "new", name, text);
}

/* fx_read_fd - the rest of fd's content, fd closed */
static str_t *fx_read_fd(int fd)
{
    str_t *s = str_new(256);
    char buf[4096];
    ssize_t n;

    while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
	str_append(s, buf, (size_t)n);
    if (fd >= 0)
	close(fd);
    return s;
}

/* fx_slurp - see store_fixture.h */
str_t *fx_slurp(const char *box, const char *name)
{
    char *path = mr_format("%s/%s", box, name);
    str_t *s = fx_read_fd(open(path, O_RDONLY));

    mr_free(path);
    return s;
}

/* fx_read_uid - see store_fixture.h */
str_t *fx_read_uid(store_t *st, unsigned long uid)
{
    const char *err;
    int fd = store_msg_open(st, uid, &err);

    assert_true(fd >= 0);
    return fx_read_fd(fd);
}

/* fx_exists - see store_fixture.h */
int fx_exists(const char *box, const char *sub, const char *name)
{
    char *path = mr_format("%s/%s/%s", box, sub, name);
    struct stat sb;
    int r = stat(path, &sb) == 0;

    mr_free(path);
    return r;
}
