/*
 * qid.c - queue IDs and where a queue file lives (see qfile.h).
 *
 * An ID is 11 base-31 digits of the arrival time in microseconds and 5
 * of the file's inode number. The 31 digits are 0-9 and the consonants
 * B-Z (no vowels), as in Postfix's long queue IDs: no ID spells a word,
 * and log tools that recognize Postfix's IDs by that alphabet (mailgraph)
 * recognize ours. The digits are in ASCII order, so IDs sort by time as
 * plain strings. Two files that exist at the same time have different
 * inodes, and one process never hands out the same time twice, so IDs
 * are unique; a leftover collision (inodes equal modulo 31^5 in the same
 * microsecond) makes the no-replace rename fail rather than overwrite a
 * file. 31^11 microseconds last until the year 2775.
 *
 * Hash directories are not the ID's first characters: those encode the
 * time and change slowly, which would pile a burst of mail into one
 * directory. One hex digit per level comes from an FNV-1a hash of the ID.
 *
 * qid_new_in makes an ID that lands in a chosen hash directory (the
 * queue-file reservations of qfile_pool.c put a whole batch in one
 * directory, so that one directory fsync covers it): it steps the
 * microseconds forward until the hash agrees, 16^depth steps on average
 * (16 us at the default depth 1, 4 ms at depth 3). IDs then run that far
 * ahead of the clock, never backwards.
 */
#include <string.h>
#include <sys/time.h>

#include "global/config.h"
#include "global/mail_queue.h"
#include "queue/qfile.h"
#include "util/str.h"

#define QID_TIME_DIGITS 11
#define QID_UNIQ_DIGITS 5
#define QID_BASE 31
#define QID_MAX_DEPTH 4

static const char qid_digits[] = "0123456789BCDFGHJKLMNPQRSTVWXYZ";
static const char qid_hex[] = "0123456789ABCDEF"; /* hash directory names */

/* qid_encode - fixed-width base 31, most significant digit first */
static void qid_encode(char *out, unsigned long long value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
	out[i] = qid_digits[value % QID_BASE];
	value /= QID_BASE;
    }
}

/* qid_make - encode time and unique number */
void qid_make(char id[QID_BUFSIZE], const struct timeval *tv, unsigned long unique)
{
    unsigned long long usec =
	(unsigned long long)tv->tv_sec * 1000000ULL + (unsigned long long)tv->tv_usec;

    qid_encode(id, usec, QID_TIME_DIGITS);
    qid_encode(id + QID_TIME_DIGITS, unique, QID_UNIQ_DIGITS);
    id[QID_LEN] = 0;
}

/* qid_new - an ID for now, never the same time part twice per process */
void qid_new(char id[QID_BUFSIZE], unsigned long unique)
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

/* qid_value - decode n base-31 digits; -1 if one is not a digit */
static long long qid_value(const char *cp, int n)
{
    long long v = 0;

    for (int i = 0; i < n; i++) {
	const char *d = cp[i] ? strchr(qid_digits, cp[i]) : NULL;

	if (d == NULL)
	    return -1;
	v = v * QID_BASE + (d - qid_digits);
    }
    return v;
}

/* qid_valid - 16 characters of the ID alphabet */
int qid_valid(const char *name)
{
    return strlen(name) == QID_LEN && qid_value(name, QID_TIME_DIGITS) >= 0 &&
	   qid_value(name + QID_TIME_DIGITS, QID_UNIQ_DIGITS) >= 0;
}

/* qid_time - the seconds part */
long qid_time(const char *id)
{
    return (long)(qid_value(id, QID_TIME_DIGITS) / 1000000);
}

/* qfile_hashed - is this queue listed in hash_queue_names? */
int qfile_hashed(const char *queue)
{
    return config_list_has("hash_queue_names", queue);
}

/* qfile_hash - FNV-1a of the ID */
static unsigned long qfile_hash(const char *id)
{
    unsigned long h = 2166136261UL;

    for (; *id; id++)
	h = ((h ^ (unsigned char)*id) * 16777619UL) & 0xffffffffUL;
    return h;
}

/* qfile_depth - hash levels of queue: 0 if it is not hashed */
static int qfile_depth(const char *queue)
{
    return qfile_hashed(queue) ? (int)config_int("hash_queue_depth", 0, QID_MAX_DEPTH) : 0;
}

/* qfile_hash_digits - the hash directory names of id, one per level */
static void qfile_hash_digits(char digits[QID_MAX_DEPTH], const char *id, int depth)
{
    unsigned long h = qfile_hash(id);

    for (int i = 0; i < depth; i++)
	digits[i] = qid_hex[(h >> (4 * i)) & 0xf];
}

/* qfile_path - queue-relative path with hash directories */
const char *qfile_path(str_t *out, const char *queue, const char *id)
{
    int depth = qfile_depth(queue);
    char digits[QID_MAX_DEPTH];

    qfile_hash_digits(digits, id, depth);
    str_set(out, queue);
    for (int i = 0; i < depth; i++)
	str_appendf(out, "/%c", digits[i]);
    str_appendf(out, "/%s", id);
    return str_data(out);
}

/* qid_new_in - an ID for now that qfile_path puts in the directory of
 * model: step the time part until the hash digits agree */
void qid_new_in(char id[QID_BUFSIZE], unsigned long unique, const char *queue, const char *model)
{
    int depth = qfile_depth(queue);
    char want[QID_MAX_DEPTH], got[QID_MAX_DEPTH];

    qfile_hash_digits(want, model, depth);
    do {
	qid_new(id, unique);
	qfile_hash_digits(got, id, depth);
    } while (memcmp(want, got, (size_t)depth) != 0);
}

/* qfile_abspath - the path as this process opens it */
const char *qfile_abspath(str_t *out, const char *queue, const char *id)
{
    str_t *rel = str_new(64);

    qfile_path(rel, queue, id);
    str_set(out, mail_queue_path(str_data(rel)));
    str_free(&rel);
    return str_data(out);
}
