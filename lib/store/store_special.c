/*
 * store_special.c - SPECIAL-USE folders (RFC 6154): Drafts, Sent, Junk
 * and Trash, made at a user's first login and recorded with their
 * attributes in "mailroom.special-use" at the top of the Maildir.
 *
 * A folder that another client already made under a usual other name
 * ("Sent Items", "Deleted Messages", "Spam" ...) gets the attribute
 * instead of a second folder being made (and tmp/ new/ cur/ when it
 * lacks them). New folders are Maildir++
 * folders (".Sent", with tmp/ new/ cur/ and an empty "maildirfolder"
 * file) and are added to the "subscriptions" file, one name per line, the
 * format Courier and Dovecot read. The record file is written last, under
 * a temporary name then renamed, so a crash half way makes the next login
 * do it again (every step may be repeated). The caller holds the Maildir's
 * index lock, so two first logins do not interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"

#define SPECIAL_FILE "mailroom.special-use"
#define SUBSCRIPTIONS "subscriptions"
#define SPECIAL_MAX_FILE 4096

/* the attributes, and the names a folder with it may already have; the
 * first name is the one made */
static const struct {
    const char *attr;
    const char *names[4];
} special_roles[] = {
    {"\\Drafts", {"Drafts", NULL}},
    {"\\Sent", {"Sent", "Sent Messages", "Sent Items", NULL}},
    {"\\Junk", {"Junk", "Spam", "Junk E-mail", NULL}},
    {"\\Trash", {"Trash", "Deleted Messages", "Deleted Items", NULL}},
};

/* folder_exists - is there a Maildir++ folder name in maildir? */
static int folder_exists(const char *maildir, const char *name)
{
    char *path = store_folder_path(maildir, name);
    struct stat sb;
    int r = path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);

    mr_free(path);
    return r;
}

/* folder_make - create folder name (a Maildir with "maildirfolder") */
static int folder_make(const char *maildir, const char *name, const char **error_r)
{
    char *dir = store_folder_path(maildir, name);
    int ret = store_make_maildir(dir, error_r);

    if (ret == 0)
	store_mark_folder(dir);
    mr_free(dir);
    return ret;
}

/* read_small - up to max bytes of path as a string (empty when missing) */
static str_t *read_small(const char *path, size_t max)
{
    str_t *s = str_new(256);
    const char *err;
    char buf[1024];
    int fd = safe_open(path, O_RDONLY, 0, (uid_t)-1, &err);
    ssize_t n;

    if (fd < 0)
	return s;
    while (str_len(s) < max && (n = read(fd, buf, sizeof(buf))) > 0)
	str_append(s, buf, (size_t)n);
    close(fd);
    return s;
}

/* subscribe - add name to the subscriptions file unless it is there */
static void subscribe(const char *maildir, const char *name)
{
    char *path = mr_format("%s/%s", maildir, SUBSCRIPTIONS);
    str_t *old = read_small(path, 1 << 20);
    char *line = mr_format("%s\n", name);
    const char *data = str_data(old), *err;
    size_t n = strlen(line);
    int fd;

    for (const char *cp = data; cp && *cp; cp = strchr(cp, '\n') ? strchr(cp, '\n') + 1 : NULL)
	if (strncmp(cp, line, n) == 0)
	    goto done;
    if ((fd = safe_open(path, O_WRONLY | O_CREAT | O_APPEND | SAFE_OPEN_MAY_EXIST, 0600, (uid_t)-1,
			&err)) >= 0) {
	if (str_len(old) && data[str_len(old) - 1] != '\n')
	    (void)write_all(fd, "\n", 1);
	(void)write_all(fd, line, n);
	close(fd);
    }
done:
    mr_free(path);
    mr_free(line);
    str_free(&old);
}

/* record - write the record file: one "ATTRIBUTE NAME" line per role */
static int record(const char *maildir, str_t *text, const char **error_r)
{
    char *tmp = mr_format("%s/%s.tmp", maildir, SPECIAL_FILE);
    char *path = mr_format("%s/%s", maildir, SPECIAL_FILE);
    int ret = store_replace_file(path, tmp, str_data(text), str_len(text), error_r);

    mr_free(tmp);
    mr_free(path);
    return ret;
}

/* store_special_init - see store.h */
int store_special_init(const char *maildir, const char **error_r)
{
    char *path = mr_format("%s/%s", maildir, SPECIAL_FILE);
    str_t *text;
    struct stat sb;
    int ret = 0;

    if (stat(path, &sb) == 0) {
	mr_free(path);
	return 0;
    }
    mr_free(path);
    text = str_new(128);
    for (size_t i = 0; i < sizeof(special_roles) / sizeof(special_roles[0]) && ret == 0; i++) {
	const char *name = special_roles[i].names[0];

	for (int k = 0; special_roles[i].names[k]; k++)
	    if (folder_exists(maildir, special_roles[i].names[k])) {
		name = special_roles[i].names[k];
		break;
	    }
	if ((ret = folder_make(maildir, name, error_r)) < 0)
	    break; /* made, or completed when it was a bare directory */
	subscribe(maildir, name);
	str_appendf(text, "%s %s\n", special_roles[i].attr, name);
    }
    if (ret == 0)
	ret = record(maildir, text, error_r);
    str_free(&text);
    return ret;
}

/* store_special_use - see store.h */
char *store_special_use(const char *maildir, const char *name)
{
    char *path = mr_format("%s/%s", maildir, SPECIAL_FILE), *attr = NULL;
    str_t *text = read_small(path, SPECIAL_MAX_FILE);
    char *rest = str_data(text);

    for (char *line = rest; line && *line && attr == 0; line = rest) {
	char *sp;

	rest = split_at(line, '\n');
	if ((sp = strchr(line, ' ')) != 0 && sp[1] && line[0] == '\\' && strcmp(sp + 1, name) == 0)
	    attr = mr_strndup(line, (size_t)(sp - line));
    }
    mr_free(path);
    str_free(&text);
    return attr;
}
