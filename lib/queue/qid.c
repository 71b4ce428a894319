/*
 * qid.c - queue IDs and where a queue file lives (see qfile.h).
 *
 * An ID is 7 base-36 digits of seconds, 4 of microseconds and 5 of the
 * file's inode number. Two files that exist at the same time have
 * different inodes, and one process never hands out the same time part
 * twice, so IDs are unique; a leftover collision (inodes equal modulo
 * 36^5 in the same microsecond) makes the no-replace rename fail rather
 * than overwrite a file.
 *
 * Hash directories are not the ID's first characters: those encode the
 * time and change slowly, which would pile a burst of mail into one
 * directory. One hex digit per level comes from an FNV-1a hash of the ID.
 */
#include <string.h>
#include <sys/time.h>

#include "global/config.h"
#include "master/mail_server.h"
#include "queue/qfile.h"
#include "util/str.h"

#define QID_SEC_DIGITS	7
#define QID_USEC_DIGITS	4
#define QID_UNIQ_DIGITS	5
#define QID_MAX_DEPTH	4

static const char qid_digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* qid_encode - fixed-width base 36, most significant digit first */
static void qid_encode(char *out, unsigned long long value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
	out[i] = qid_digits[value % 36];
	value /= 36;
    }
}

/* qid_make - encode time and unique number */
void    qid_make(char id[QID_BUFSIZE], const struct timeval *tv, unsigned long unique)
{
    qid_encode(id, (unsigned long long) tv->tv_sec, QID_SEC_DIGITS);
    qid_encode(id + QID_SEC_DIGITS, (unsigned long long) tv->tv_usec, QID_USEC_DIGITS);
    qid_encode(id + QID_SEC_DIGITS + QID_USEC_DIGITS, unique, QID_UNIQ_DIGITS);
    id[QID_LEN] = 0;
}

/* qid_new - an ID for now, never the same time part twice per process */
void    qid_new(char id[QID_BUFSIZE], unsigned long unique)
{
    static struct timeval last;
    struct timeval tv;

    gettimeofday(&tv, NULL);
    if (timercmp(&tv, &last, <=)) {
	tv = last;
	if (++tv.tv_usec >= 1000000) {
	    tv.tv_sec++;
	    tv.tv_usec = 0;
	}
    }
    last = tv;
    qid_make(id, &tv, unique);
}

/* qid_value - decode n base-36 digits; -1 if one is not a digit */
static long long qid_value(const char *cp, int n)
{
    long long v = 0;

    for (int i = 0; i < n; i++) {
	const char *d = cp[i] ? strchr(qid_digits, cp[i]) : NULL;

	if (d == NULL)
	    return -1;
	v = v * 36 + (d - qid_digits);
    }
    return v;
}

/* qid_valid - 16 characters of [0-9A-Z] with microseconds < 10^6 */
int     qid_valid(const char *name)
{
    if (strlen(name) != QID_LEN)
	return 0;
    if (qid_value(name, QID_LEN - QID_USEC_DIGITS - QID_UNIQ_DIGITS) < 0
	|| qid_value(name + QID_SEC_DIGITS + QID_USEC_DIGITS, QID_UNIQ_DIGITS) < 0)
	return 0;
    long long usec = qid_value(name + QID_SEC_DIGITS, QID_USEC_DIGITS);

    return usec >= 0 && usec < 1000000;
}

/* qid_time - the seconds part */
long    qid_time(const char *id)
{
    return (long) qid_value(id, QID_SEC_DIGITS);
}

/* qfile_hashed - is this queue listed in hash_queue_names? */
int     qfile_hashed(const char *queue)
{
    return config_list_has("hash_queue_names", queue);
}

/* qfile_hash - FNV-1a of the ID */
static unsigned long qfile_hash(const char *id)
{
    unsigned long h = 2166136261UL;

    for (; *id; id++)
	h = ((h ^ (unsigned char) *id) * 16777619UL) & 0xffffffffUL;
    return h;
}

/* qfile_path - queue-relative path with hash directories */
const char *qfile_path(str_t *out, const char *queue, const char *id)
{
    str_set(out, queue);
    if (qfile_hashed(queue)) {
	int     depth = (int) config_int("hash_queue_depth", 0, QID_MAX_DEPTH);
	unsigned long h = qfile_hash(id);

	for (int i = 0; i < depth; i++)
	    str_appendf(out, "/%c", qid_digits[(h >> (4 * i)) & 0xf]);
    }
    str_appendf(out, "/%s", id);
    return str_data(out);
}

/* qfile_abspath - the path as this process opens it */
const char *qfile_abspath(str_t *out, const char *queue, const char *id)
{
    str_t  *rel = str_new(64);

    qfile_path(rel, queue, id);
    str_set(out, server_queue_path(str_data(rel)));
    str_free(&rel);
    return str_data(out);
}
