/*
 * table_build.c - building an indexed table from its text source.
 *
 * The whole source is read and checked first (any bad line stops the
 * build before a byte is written). Then the index is written under a
 * temporary name in the same folder, fsync'd, and renamed over the old
 * one; the folder is fsync'd last. A reader therefore sees the old table
 * or the new one, never a mix, and a failed build (bad line, full disk,
 * crash) leaves the old table as it was. A daemon that has the old file
 * open keeps reading it until it notices the change (table_changed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table/table_priv.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"

int table_build_tmp(const char *final, str_t *tmp, int want_fd, str_t *err)
{
    const char *why;
    int fd;

    str_printf(tmp, "%s.tmp.%ld", final, (long)getpid());
    if (unlink(str_data(tmp)) < 0 && errno != ENOENT) {
	str_printf(err, "remove stale %s: %s", str_data(tmp), strerror(errno));
	return -1;
    }
    if (!want_fd)
	return 0;
    if ((fd = safe_open(str_data(tmp), O_RDWR | O_CREAT | O_CLOEXEC, 0600, -1, &why)) < 0) {
	str_printf(err, "create %s: %s", str_data(tmp), why);
	return -1;
    }
    return fd;
}

/* table_build_perms - give the table the source's mode and owner */
static int table_build_perms(int fd, const char *source, str_t *err)
{
    struct stat st;

    if (stat(source, &st) < 0) {
	str_printf(err, "stat %s: %s", source, strerror(errno));
	return -1;
    }
    if (fchmod(fd, st.st_mode & 0666) < 0 ||
	(geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)) {
	str_printf(err, "set permissions: %s", strerror(errno));
	return -1;
    }
    return 0;
}

int table_build_commit(const char *tmp, const char *final, const char *source, str_t *err)
{
    int fd;

    if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0) {
	str_printf(err, "open %s: %s", tmp, strerror(errno));
	goto fail;
    }
    if (table_build_perms(fd, source, err) < 0 || fsync(fd) < 0) {
	if (str_len(err) == 0)
	    str_printf(err, "fsync %s: %s", tmp, strerror(errno));
	close(fd);
	goto fail;
    }
    close(fd);
    if (rename(tmp, final) < 0) {
	str_printf(err, "rename %s to %s: %s", tmp, final, strerror(errno));
	goto fail;
    }
    if (fsync_dir(final) < 0)
	msg_warn("fsync of the folder of %s: %m", final);
    return 0;
fail:
    (void)unlink(tmp);
    return -1;
}

long table_build(const char *spec, int flags, const char **error_r)
{
    static str_t *err;
    const char *colon = strchr(spec, ':');
    const char *path = colon ? colon + 1 : "";
    htable_t *h;
    long ret = -1;
    int src_flags = (flags & TABLE_BUILD_ALIAS) ? TABLE_SRC_ALIAS : 0;
    int type;

    if (err == NULL)
	err = str_new(100);
    str_reset(err);
    if (colon == NULL || *path == 0) {
	str_printf(err, "\"%s\": expected type:path", spec);
	*error_r = str_data(err);
	return -1;
    }
#define IS(name) (colon - spec == sizeof(name) - 1 && strncmp(spec, name, colon - spec) == 0)
    type = IS("cdb") ? 1 : IS("hash") ? 2 : IS("btree") ? 3 : 0;
#undef IS
    if (type == 0) {
	str_printf(err, "\"%s\": cannot build this type (cdb:, hash: and btree: can be built)",
		   spec);
    } else if ((h = table_text_load(path, src_flags, err)) != NULL) {
	int r = (type == 1) ? table_cdb_build(path, h, flags, err)
			    : table_db_build(path, type == 3, h, flags, err);

	if (r == 0)
	    ret = (long)htable_count(h);
	htable_free(&h);
    }
    if (ret < 0)
	*error_r = str_data(err);
    return ret;
}
