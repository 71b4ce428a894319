/*
 * bayes.c - tokenizer, token database and combining (see bayes.h).
 *
 * Per-token probability (Gary Robinson): with s and h the spam and ham
 * messages that held the token and S, H the messages learned,
 *   p = (s/S) / (s/S + h/H),  f = (ROBINSON_S * ROBINSON_X + n * p) /
 *   (ROBINSON_S + n)  where n = s + h,
 * so a rare token stays near the neutral ROBINSON_X. The tokens whose f
 * is at least MIN_STRENGTH away from 0.5, at most BAYES_INTERESTING of
 * them (the strongest), are combined with Fisher's method: the chi-square
 * probabilities of -2 sum ln f and -2 sum ln (1 - f) with 2n degrees of
 * freedom give a spamminess S and a hamminess H, and the result is
 * (1 + S - H) / 2.
 *
 * The database is opened without a Berkeley DB environment (no region
 * files to manage); concurrent use is made safe by the flock on the lock
 * file, held from open to close. Counts are stored big-endian so that a
 * database can be copied between machines.
 *
 * A reader that classifies message after message (a filterd worker)
 * keeps its handle (bayes_reader_get, bayes_reader_put): opening the
 * database per message read its pages afresh and set up Berkeley DB's
 * cache every time. A handle caches pages, so a kept one may be used
 * only while the file is as it was: every writer, once it holds the
 * exclusive lock and before it changes anything, adds one to a
 * generation number in the lock file (its first 8 bytes, big-endian), and
 * the reader compares it, under its shared lock, with the one it saw at
 * open, and the file's inode, size and modification time too (a database
 * copied over the old one by hand). Any difference: the handle is closed
 * and the database opened again. Between two messages the reader holds
 * no lock, so writers never wait for an idle reader. The weak spot: a
 * database copied in place within one tick of the file system's clock
 * to the same size is not seen until the next learn.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <db.h>

#include "util/mymalloc.h"
#include "util/str.h"
#include "bayes.h"

#define ROBINSON_S 1.0
#define ROBINSON_X 0.5
#define MIN_STRENGTH 0.1
#define WORD_MIN 3

/* Keys that are not tokens start with a NUL byte (no token holds one) */
#define KEY_TOTALS "\0totals"
#define KEY_SEEN "\0seen:"

struct bayes {
    DB *db;
    int lock_fd;
    int writable;
    char *path;     /* the database file */
    uint64_t gen;   /* the lock file's generation when opened */
    struct stat st; /* the database file when opened */
};

static bayes_t *bayes_kept; /* the reader kept between uses, or NULL */

/* Fields that give no tokens: different in every message, or ours */
static const char *skip_fields[] = {
    "date",           "message-id",  "received",     "x-spam-status",
    "x-spam-score",   "x-spam-flag", "x-spam-level", "x-spam-checker-version",
    "content-length", NULL};

/* tok_emit - add the current word (stripped of edge punctuation) */
static void tok_emit(bayes_tokens_t *t)
{
    char token[sizeof(t->word) + BAYES_NAME_MAX + 2];
    size_t start = 0, end = t->word_len, n = 0;

    if (t->word_len > BAYES_WORD_MAX) {
	t->word_len = 0;
	return;
    }
    while (start < end && strchr(".-_'!@$", t->word[start]))
	start++;
    while (end > start && strchr(".-_'!@", t->word[end - 1]))
	end--;
    t->word_len = 0;
    if (end - start < WORD_MIN || htable_count(t->set) >= t->max)
	return;
    if (!t->in_body) {
	memcpy(token, t->name, t->name_len);
	n = t->name_len;
	token[n++] = ':';
    }
    memcpy(token + n, t->word + start, end - start);
    n += end - start;
    htable_put(t->set, token, n, "", 0);
}

/* tok_word_byte - a byte of running text: part of a word, or an end */
static void tok_word_byte(bayes_tokens_t *t, unsigned char ch)
{
    int word = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch >= 0x80 ||
	       (ch >= 'A' && ch <= 'Z') || (ch != 0 && strchr(".-_'$@!", ch) != NULL);

    if (!word) {
	if (t->word_len > 0)
	    tok_emit(t);
	return;
    }
    if (ch >= 'A' && ch <= 'Z')
	ch = (unsigned char)(ch - 'A' + 'a');
    if (t->word_len < BAYES_WORD_MAX)
	t->word[t->word_len] = (char)ch;
    if (t->word_len <= BAYES_WORD_MAX)
	t->word_len++;
}

/* tok_field_start - a line that starts a new field (or is not one) */
static void tok_field_start(bayes_tokens_t *t)
{
    if (t->word_len > 0)
	tok_emit(t);
    t->in_name = 1;
    t->name_len = 0;
    t->skip_field = 0;
}

/* tok_name_byte - a byte of a field name */
static void tok_name_byte(bayes_tokens_t *t, char ch)
{
    if (ch == ':') {
	t->in_name = 0;
	t->name[t->name_len] = 0;
	for (int i = 0; skip_fields[i]; i++)
	    if (strcmp(t->name, skip_fields[i]) == 0)
		t->skip_field = 1;
    } else if (ch == '\n') {
	t->in_name = 0;
	t->skip_field = 1;
	t->line_start = 1;
    } else if (t->name_len < BAYES_NAME_MAX) {
	t->name[t->name_len++] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    } else {
	t->skip_field = 1;
    }
}

/* tok_header_byte - one byte of the header section */
static void tok_header_byte(bayes_tokens_t *t, char ch)
{
    if (t->line_start) {
	if (ch == '\n' || (ch == '\r' && !t->line_blank)) {
	    t->line_blank = ch == '\r';
	    if (ch == '\n') {
		if (t->word_len > 0)
		    tok_emit(t);
		t->in_body = 1;
	    }
	    return;
	}
	t->line_start = 0;
	t->line_blank = 0;
	if (ch != ' ' && ch != '\t') {
	    tok_field_start(t);
	}
    }
    if (t->in_name)
	return tok_name_byte(t, ch);
    if (ch == '\n')
	t->line_start = 1;
    if (!t->skip_field)
	tok_word_byte(t, (unsigned char)ch);
}

/* bayes_tokens_init - an empty set, the tokenizer at the first line */
void bayes_tokens_init(bayes_tokens_t *t, size_t max)
{
    memset(t, 0, sizeof(*t));
    t->set = htable_new();
    t->max = max;
    t->hash = 1469598103934665603ULL;
    t->line_start = 1;
}

/* bayes_tokens_feed - run the tokenizer over a piece of the message */
void bayes_tokens_feed(bayes_tokens_t *t, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
	t->hash = (t->hash ^ (unsigned char)data[i]) * 1099511628211ULL;
	if (t->in_body)
	    tok_word_byte(t, (unsigned char)data[i]);
	else
	    tok_header_byte(t, data[i]);
    }
}

/* bayes_tokens_end - the last word */
void bayes_tokens_end(bayes_tokens_t *t)
{
    if (t->word_len > 0 && !(t->in_name || (!t->in_body && t->skip_field)))
	tok_emit(t);
    t->word_len = 0;
}

/* bayes_tokens_free - release the set */
void bayes_tokens_free(bayes_tokens_t *t)
{
    htable_free(&t->set);
}

/* bayes_tokens_count - distinct tokens */
size_t bayes_tokens_count(const bayes_tokens_t *t)
{
    return htable_count(t->set);
}

/* user_ok - a user name that is safe as a file name */
static int user_ok(const char *user)
{
    size_t n = strlen(user);

    if (n == 0 || n > 200 || user[0] == '.')
	return 0;
    return strspn(user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-") == n;
}

/* bayes_fail - format an error into static storage */
static int bayes_fail(const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bayes_fail(const char **error_r, const char *fmt, ...)
{
    static char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    *error_r = text;
    return -1;
}

/* bayes_path - the database path of user under dir */
static void bayes_path(str_t *path, const char *dir, const char *user)
{
    if (user)
	str_printf(path, "%s/user/%s.db", dir, user);
    else
	str_printf(path, "%s/global.db", dir);
}

/* bayes_lock - open and flock the lock file: fd, or -1 */
static int bayes_lock(const char *path, int writable, const char **error_r)
{
    str_t *lock = str_new(256);
    int fd;

    str_printf(lock, "%s.lock", path);
    fd = open(str_data(lock), (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW,
	      0600);
    if (fd < 0 && !(errno == ENOENT && !writable))
	bayes_fail(error_r, "open %s: %s", str_data(lock), strerror(errno));
    else if (fd >= 0 && flock(fd, writable ? LOCK_EX : LOCK_SH) < 0) {
	bayes_fail(error_r, "lock %s: %s", str_data(lock), strerror(errno));
	close(fd);
	fd = -1;
    }
    str_free(&lock);
    return fd;
}

/* bayes_mkdirs - dir and dir/user for a writer */
static int bayes_mkdirs(const char *dir, const char *user, const char **error_r)
{
    str_t *sub = str_new(256);
    int rc = 0;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
	rc = bayes_fail(error_r, "mkdir %s: %s", dir, strerror(errno));
    str_printf(sub, "%s/user", dir);
    if (rc == 0 && user && mkdir(str_data(sub), 0700) < 0 && errno != EEXIST)
	rc = bayes_fail(error_r, "mkdir %s: %s", str_data(sub), strerror(errno));
    str_free(&sub);
    return rc;
}

/* bayes_gen - the generation in a lock file (0 when it holds none) */
static uint64_t bayes_gen(int fd)
{
    unsigned char buf[8];
    uint64_t gen = 0;

    if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
	return 0;
    for (int i = 0; i < 8; i++)
	gen = gen << 8 | buf[i];
    return gen;
}

/* bayes_gen_bump - a writer, under its exclusive lock: one more
 * generation, before any change (so that a writer killed mid-change has
 * already told the readers); 0 or -1 */
static int bayes_gen_bump(int fd)
{
    unsigned char buf[8];
    uint64_t gen = bayes_gen(fd) + 1;

    for (int i = 0; i < 8; i++)
	buf[i] = (unsigned char)(gen >> (56 - 8 * i));
    return pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf) ? 0 : -1;
}

/* bayes_open - lock, then open the Berkeley DB file */
int bayes_open(const char *dir, const char *user, int writable, bayes_t **bp, const char **error_r)
{
    str_t *path = str_new(256);
    bayes_t *b;
    int r, fd = -1;

    *bp = NULL;
    if (user && !user_ok(user)) {
	str_free(&path);
	return bayes_fail(error_r, "unusable user name for a Bayes database");
    }
    bayes_path(path, dir, user);
    if ((writable && bayes_mkdirs(dir, user, error_r) < 0) ||
	((fd = bayes_lock(str_data(path), writable, error_r)) < 0 && writable)) {
	str_free(&path);
	return -1;
    }
    if (writable && bayes_gen_bump(fd) < 0) {
	bayes_fail(error_r, "write %s.lock: %s", str_data(path), strerror(errno));
	close(fd);
	str_free(&path);
	return -1;
    }
    if (fd < 0 && access(str_data(path), F_OK) < 0 && errno == ENOENT) {
	str_free(&path);
	return 0;
    }
    b = mr_calloc(1, sizeof(*b));
    b->lock_fd = fd;
    b->writable = writable;
    b->gen = fd >= 0 ? bayes_gen(fd) : 0;
    b->path = mr_strdup(str_data(path));
    if ((r = db_create(&b->db, NULL, 0)) != 0 ||
	(r = b->db->open(b->db, NULL, str_data(path), NULL, DB_HASH,
			 writable ? DB_CREATE : DB_RDONLY, 0600)) != 0) {
	int missing = r == ENOENT && !writable;

	if (!missing)
	    bayes_fail(error_r, "open %s: %s", str_data(path), db_strerror(r));
	str_free(&path);
	bayes_close(&b);
	return missing ? 0 : -1;
    }
    if (stat(b->path, &b->st) < 0)
	memset(&b->st, 0, sizeof(b->st));
    str_free(&path);
    *bp = b;
    return 1;
}

/* bayes_close - close the database, then drop the lock */
void bayes_close(bayes_t **bp)
{
    bayes_t *b = *bp;

    if (b == NULL)
	return;
    if (b->db)
	b->db->close(b->db, 0);
    if (b->lock_fd >= 0)
	close(b->lock_fd);
    mr_free(b->path);
    mr_free(b);
    *bp = NULL;
}

/* bayes_kept_usable - may the kept handle serve path? Takes its shared
 * lock when it may (the caller then uses it), else leaves it unlocked */
static int bayes_kept_usable(bayes_t *b, const char *path)
{
    struct stat st;

    if (strcmp(b->path, path) != 0 || flock(b->lock_fd, LOCK_SH) < 0)
	return 0;
    if (bayes_gen(b->lock_fd) == b->gen && stat(path, &st) == 0 && st.st_ino == b->st.st_ino &&
	st.st_dev == b->st.st_dev && st.st_size == b->st.st_size &&
	st.st_mtim.tv_sec == b->st.st_mtim.tv_sec && st.st_mtim.tv_nsec == b->st.st_mtim.tv_nsec)
	return 1;
    (void)flock(b->lock_fd, LOCK_UN);
    return 0;
}

/* bayes_reader_get - see bayes.h */
int bayes_reader_get(const char *dir, const char *user, bayes_t **bp, const char **error_r)
{
    str_t *path;
    int usable;

    if (bayes_kept && (user == NULL || user_ok(user))) {
	path = str_new(256);
	bayes_path(path, dir, user);
	usable = bayes_kept_usable(bayes_kept, str_data(path));
	str_free(&path);
	if (usable) {
	    *bp = bayes_kept;
	    bayes_kept = NULL;
	    return 1;
	}
    }
    bayes_close(&bayes_kept);
    return bayes_open(dir, user, 0, bp, error_r);
}

/* bayes_reader_put - see bayes.h */
void bayes_reader_put(bayes_t **bp)
{
    bayes_t *b = *bp;

    if (b == NULL)
	return;
    *bp = NULL;
    if (b->writable || b->lock_fd < 0 || flock(b->lock_fd, LOCK_UN) < 0) {
	bayes_close(&b);
	return;
    }
    bayes_close(&bayes_kept);
    bayes_kept = b;
}

/* get_pair - two big-endian 32-bit counts of key (0, 0 when absent);
 * 0 ok, -1 error */
static int get_pair(bayes_t *b, const void *key, size_t klen, uint32_t pair[2])
{
    unsigned char buf[8];
    DBT k = {0}, v = {0};
    int r;

    k.data = (void *)key;
    k.size = (u_int32_t)klen;
    v.data = buf;
    v.ulen = sizeof(buf);
    v.flags = DB_DBT_USERMEM;
    pair[0] = pair[1] = 0;
    if ((r = b->db->get(b->db, NULL, &k, &v, 0)) == DB_NOTFOUND)
	return 0;
    if (r != 0 || v.size != 8)
	return -1;
    for (int i = 0; i < 2; i++)
	pair[i] = (uint32_t)buf[4 * i] << 24 | (uint32_t)buf[4 * i + 1] << 16 |
		  (uint32_t)buf[4 * i + 2] << 8 | buf[4 * i + 3];
    return 0;
}

/* put_pair - store two counts (both 0: delete the key) */
static int put_pair(bayes_t *b, const void *key, size_t klen, const uint32_t pair[2])
{
    unsigned char buf[8];
    DBT k = {0}, v = {0};
    int r;

    k.data = (void *)key;
    k.size = (u_int32_t)klen;
    if (pair[0] == 0 && pair[1] == 0) {
	r = b->db->del(b->db, NULL, &k, 0);
	return r == 0 || r == DB_NOTFOUND ? 0 : -1;
    }
    for (int i = 0; i < 2; i++) {
	buf[4 * i] = (unsigned char)(pair[i] >> 24);
	buf[4 * i + 1] = (unsigned char)(pair[i] >> 16);
	buf[4 * i + 2] = (unsigned char)(pair[i] >> 8);
	buf[4 * i + 3] = (unsigned char)pair[i];
    }
    v.data = buf;
    v.size = 8;
    return b->db->put(b->db, NULL, &k, &v, 0) == 0 ? 0 : -1;
}

/* count_add - add delta (+1/-1) to the spam or ham count of key */
static int count_add(bayes_t *b, const void *key, size_t klen, int is_spam, int delta)
{
    uint32_t pair[2];
    int i = is_spam ? 0 : 1;

    if (get_pair(b, key, klen, pair) < 0)
	return -1;
    if (delta < 0 && pair[i] == 0)
	return 0;
    pair[i] = delta > 0 ? pair[i] + 1 : pair[i] - 1;
    return put_pair(b, key, klen, pair);
}

/* learn_tokens - add or take one message's tokens to one class */
static int learn_tokens(bayes_t *b, const bayes_tokens_t *t, int is_spam, int delta)
{
    const char *key, *val;
    size_t klen, vlen;

    for (size_t i = 0; i < htable_count(t->set); i++) {
	htable_item(t->set, i, &key, &klen, &val, &vlen);
	if (count_add(b, key, klen, is_spam, delta) < 0)
	    return -1;
    }
    return count_add(b, KEY_TOTALS, sizeof(KEY_TOTALS) - 1, is_spam, delta);
}

/* seen_key - the key that records the message */
static size_t seen_key(const bayes_tokens_t *t, char *key)
{
    memcpy(key, KEY_SEEN, sizeof(KEY_SEEN) - 1);
    for (int i = 0; i < 8; i++)
	key[sizeof(KEY_SEEN) - 1 + i] = (char)(t->hash >> (56 - 8 * i));
    return sizeof(KEY_SEEN) - 1 + 8;
}

/* bayes_learn - learn (or forget) a message once */
int bayes_learn(bayes_t *b, const bayes_tokens_t *t, int is_spam, int forget, const char **error_r)
{
    char key[32];
    size_t klen = seen_key(t, key);
    uint32_t seen[2], none[2] = {0, 0};
    int was = -1, rc = 0;

    if (!b->writable)
	return bayes_fail(error_r, "database opened read-only");
    if (get_pair(b, key, klen, seen) < 0)
	return bayes_fail(error_r, "cannot read the database");
    if (seen[0] || seen[1])
	was = seen[0] ? 1 : 0;
    if (forget ? was < 0 : was == is_spam)
	return 0;
    if (was >= 0)
	rc = learn_tokens(b, t, was, -1);
    if (rc == 0 && !forget)
	rc = learn_tokens(b, t, is_spam, 1);
    seen[0] = is_spam ? 1 : 0;
    seen[1] = is_spam ? 0 : 1;
    if (rc == 0)
	rc = put_pair(b, key, klen, forget ? none : seen);
    if (rc == 0)
	rc = b->db->sync(b->db, 0) == 0 ? 0 : -1;
    return rc < 0 ? bayes_fail(error_r, "cannot update the database") : 1;
}

/* bayes_totals - messages learned */
int bayes_totals(bayes_t *b, long *nspam_r, long *nham_r, const char **error_r)
{
    uint32_t pair[2];

    if (get_pair(b, KEY_TOTALS, sizeof(KEY_TOTALS) - 1, pair) < 0)
	return bayes_fail(error_r, "cannot read the database");
    *nspam_r = (long)pair[0];
    *nham_r = (long)pair[1];
    return 0;
}

/* chi2q - probability that chi-square with v (even) degrees of freedom
 * is at least x2 */
static double chi2q(double x2, int v)
{
    double m = x2 / 2.0, sum, term;

    sum = term = exp(-m);
    for (int i = 1; i < v / 2; i++) {
	term *= m / i;
	sum += term;
    }
    return sum < 1.0 ? sum : 1.0;
}

/* bayes_combine - Fisher's method over n token probabilities */
double bayes_combine(const double *f, int n)
{
    double ln_f = 0, ln_1f = 0, s, h;

    if (n == 0)
	return 0.5;
    for (int i = 0; i < n; i++) {
	ln_f += log(f[i]);
	ln_1f += log(1.0 - f[i]);
    }
    s = 1.0 - chi2q(-2.0 * ln_1f, 2 * n);
    h = 1.0 - chi2q(-2.0 * ln_f, 2 * n);
    return (1.0 + s - h) / 2.0;
}

/* bayes_rule - the rule and its score for a probability */
const char *bayes_rule(double prob, int *score_r)
{
    static const struct {
	double at_least;
	const char *name;
	int score;
    } rules[] = {
	{0.99, "BAYES_99", 35}, {0.95, "BAYES_95", 30}, {0.80, "BAYES_80", 20},
	{0.60, "BAYES_60", 15}, {0.40, "BAYES_50", 8},  {0.20, "BAYES_40", -1},
	{0.05, "BAYES_20", -2}, {0.01, "BAYES_05", -5}, {-1.0, "BAYES_00", -19},
    };
    size_t i = 0;

    while (prob < rules[i].at_least)
	i++;
    *score_r = rules[i].score;
    return rules[i].name;
}

/* strength_cmp - qsort: strongest (farthest from 0.5) first */
static int strength_cmp(const void *a, const void *b)
{
    double x = fabs(*(const double *)a - 0.5), y = fabs(*(const double *)b - 0.5);

    return x < y ? 1 : x > y ? -1 : 0;
}

/* token_prob - Robinson's f of one token, or -1 when it says nothing */
static double token_prob(const uint32_t pair[2], long nspam, long nham)
{
    double sr = (double)pair[0] / (double)nspam, hr = (double)pair[1] / (double)nham;
    double n = (double)pair[0] + pair[1], p, f;

    if (n == 0)
	return -1;
    p = sr / (sr + hr);
    f = (ROBINSON_S * ROBINSON_X + n * p) / (ROBINSON_S + n);
    if (fabs(f - 0.5) < MIN_STRENGTH)
	return -1;
    return f < 0.0001 ? 0.0001 : f > 0.9999 ? 0.9999 : f;
}

/* bayes_classify - the probabilities of the message's tokens, combined */
int bayes_classify(bayes_t *b, const bayes_tokens_t *t, long min_learned, bayes_result_t *res,
		   const char **error_r)
{
    size_t count = htable_count(t->set), klen, vlen, n = 0;
    double *f;
    const char *key, *val;
    long nspam = 0, nham = 0;
    uint32_t pair[2];

    memset(res, 0, sizeof(*res));
    res->prob = 0.5;
    if (bayes_totals(b, &nspam, &nham, error_r) < 0)
	return -1;
    if (nspam < min_learned || nham < min_learned || nspam == 0 || nham == 0)
	return 0;
    f = mr_alloc((count + 1) * sizeof(*f));
    for (size_t i = 0; i < count; i++) {
	htable_item(t->set, i, &key, &klen, &val, &vlen);
	if (get_pair(b, key, klen, pair) < 0) {
	    mr_free(f);
	    return bayes_fail(error_r, "cannot read the database");
	}
	if ((f[n] = token_prob(pair, nspam, nham)) >= 0)
	    n++;
    }
    qsort(f, n, sizeof(*f), strength_cmp);
    res->used = n < BAYES_INTERESTING ? (int)n : BAYES_INTERESTING;
    res->prob = bayes_combine(f, res->used);
    res->voted = 1;
    res->rule = bayes_rule(res->prob, &res->score);
    mr_free(f);
    return 0;
}
