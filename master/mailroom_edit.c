/*
 * mailroom_edit.c - "mailroom config -e name=value": set one parameter in
 * mailroom.conf in place, the way an administrator would with an editor.
 *
 * The value is checked against the parameter's declaration first (a
 * value with $name references is checked once expanded, by the next
 * "mailroom check"). The file is rewritten line for line: the first
 * "name = ..." (with its continuation lines) becomes "name = value", a
 * later one of the same name (which would override it) is dropped, and
 * every comment, blank line and other parameter stays as it was; a name
 * not yet in the file is appended. The new text goes to a temporary file
 * in the same directory with the old one's owner and mode, is fsync'd,
 * and renamed over the old one, so a crash leaves one or the other.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "mailroom.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define EDIT_MAX_FILE (4 << 20) /* a mailroom.conf larger is not ours */

/* edit_split - "name=value" into its trimmed parts; -1 if malformed */
static int edit_split(const char *arg, char **name_r, char **value_r)
{
    const char *eq = strchr(arg, '=');
    const char *end, *val;

    if (eq == NULL || strpbrk(arg, "\r\n") != NULL)
	return -1;
    for (end = eq; end > arg && isspace((unsigned char)end[-1]); end--)
	/* void */;
    for (val = eq + 1; isspace((unsigned char)*val); val++)
	/* void */;
    if (end == arg)
	return -1;
    *name_r = mr_strndup(arg, (size_t)(end - arg));
    *value_r = mr_strdup(val);
    for (char *cp = *value_r + strlen(*value_r); cp > *value_r && isspace((unsigned char)cp[-1]);)
	*--cp = 0;
    return 0;
}

/* edit_defines - does this line start the definition of name? */
static int edit_defines(const char *line, const char *name)
{
    size_t len = strlen(name);

    if (strncmp(line, name, len) != 0)
	return 0;
    line += len;
    line += strspn(line, " \t");
    return *line == '=';
}

/* edit_read - the whole file; NULL with *error_r */
static char *edit_read(const char *path, struct stat *st, const char **error_r)
{
    static char err[600];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    char *text;
    ssize_t n;

    if (fd < 0 || fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size > EDIT_MAX_FILE) {
	snprintf(err, sizeof(err), "cannot edit %s: %s", path,
		 fd < 0 ? strerror(errno) : "not a regular file of a sane size");
	if (fd >= 0)
	    close(fd);
	*error_r = err;
	return NULL;
    }
    text = mr_alloc((size_t)st->st_size + 1);
    n = read(fd, text, (size_t)st->st_size);
    close(fd);
    if (n != st->st_size) {
	snprintf(err, sizeof(err), "cannot read %s", path);
	*error_r = err;
	mr_free(text);
	return NULL;
    }
    text[n] = 0;
    return text;
}

/* edit_rewrite - the new text: name's definition replaced or appended */
static void edit_rewrite(str_t *out, const char *text, const char *name, const char *value)
{
    const char *line = text, *next;
    int done = 0, skipping = 0;

    for (; *line; line = next) {
	size_t len = strcspn(line, "\n");

	next = line + len + (line[len] == '\n');
	if (skipping && (*line == ' ' || *line == '\t') && len > strspn(line, " \t"))
	    continue; /* a continuation of the replaced line */
	skipping = 0;
	if (edit_defines(line, name)) {
	    skipping = 1;
	    if (done++ == 0)
		str_appendf(out, "%s = %s\n", name, value);
	    continue;
	}
	str_append(out, line, (size_t)(next - line));
	if (line[len] != '\n')
	    str_appendc(out, '\n');
    }
    if (!done)
	str_appendf(out, "%s = %s\n", name, value);
}

/* edit_commit - write, fsync, rename over path with the old owner/mode */
static int edit_commit(const char *path, const struct stat *st, str_t *text, const char **error_r)
{
    static char err[600];
    char *tmp = mr_format("%s.edit.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    int ok = fd >= 0 && write(fd, str_data(text), str_len(text)) == (ssize_t)str_len(text) &&
	     fchmod(fd, st->st_mode & 07777) == 0 &&
	     (fchown(fd, st->st_uid, st->st_gid) == 0 || geteuid() != 0) && fsync(fd) == 0;

    if (fd >= 0 && close(fd) < 0)
	ok = 0;
    if (ok && rename(tmp, path) == 0) {
	mr_free(tmp);
	return 0;
    }
    snprintf(err, sizeof(err), "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
	unlink(tmp);
    mr_free(tmp);
    *error_r = err;
    return -1;
}

int mailroom_config_edit(const char *assignment, const char **error_r)
{
    static char err[1200];
    const param_def_t *def;
    char *name, *value, *text;
    const char *problem;
    struct stat st;
    long long num;
    str_t *out;
    int ret;

    if (edit_split(assignment, &name, &value) < 0) {
	snprintf(err, sizeof(err), "\"%s\": expected name=value on one line", assignment);
	*error_r = err;
	return -1;
    }
    if ((def = config_find(name)) == NULL ||
	(strchr(value, '$') == NULL && config_value_check(def, value, &num, &problem) < 0)) {
	snprintf(err, sizeof(err), def ? "%s = %s: %s" : "unknown parameter \"%s\"%.0s%.0s", name,
		 value, def ? problem : "");
	*error_r = err;
	mr_free(name);
	mr_free(value);
	return -1;
    }
    ret = -1;
    if ((text = edit_read(config_file(), &st, error_r)) != NULL) {
	out = str_new(strlen(text) + 128);
	edit_rewrite(out, text, name, value);
	ret = edit_commit(config_file(), &st, out, error_r);
	str_free(&out);
	mr_free(text);
    }
    mr_free(name);
    mr_free(value);
    return ret;
}
