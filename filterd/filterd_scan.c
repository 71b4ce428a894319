/*
 * filterd_scan.c - the scanners filterd knows, and the loop that feeds
 * them the spool file (see filterd_scan.h).
 *
 * clamd: lib/global/clamd_client over filterd_clamd_socket, with
 * clamd_timeout and clamd_max_size: clamd is handed the spool file's
 * descriptor (clamd_pass_descriptor, a Unix socket) and scans it while
 * the other scanners read it, or the file is streamed to it. Only a
 * well-formed "OK" is clean; a message over clamd_max_size is "too
 * big" (not scanned).
 * spam: lib/global/spam_filter, which asks spamd when
 * filterd_spamd_address is set and else scores with the built-in rules and
 * Bayes, against the global threshold (spam_threshold), once per scoring
 * user of the verdict (filterd_spam.h). A spam scorer that fails leaves
 * the message unscored for that user (logged, no X-Spam fields).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filterd_scan.h"
#include "global/clamd_client.h"
#include "global/config.h"
#include "global/spam_filter.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define FILTER_SCAN_BUF 65536

/* filter_verdict_init - empty verdict for the scoring users */
void filter_verdict_init(filter_verdict_t *v, const char *const *users, size_t count)
{
    memset(v, 0, sizeof(*v));
    v->virus_text = str_new(64);
    v->virus_by = str_new(16);
    v->spam_count = count ? count : 1;
    v->spam_users = mr_calloc(v->spam_count, sizeof(*v->spam_users));
    v->spam = mr_calloc(v->spam_count, sizeof(*v->spam));
    for (size_t k = 0; k < v->spam_count; k++) {
	if (users && k < count && users[k])
	    v->spam_users[k] = mr_strdup(users[k]);
	v->spam[k].rules = str_new(64);
	v->spam[k].problem = str_new(16);
    }
}

/* filter_verdict_free - release a verdict's strings */
void filter_verdict_free(filter_verdict_t *v)
{
    str_free(&v->virus_text);
    str_free(&v->virus_by);
    for (size_t k = 0; k < v->spam_count; k++) {
	mr_free((char *)v->spam_users[k]);
	str_free(&v->spam[k].rules);
	str_free(&v->spam[k].problem);
    }
    mr_free(v->spam_users);
    mr_free(v->spam);
}

/* filter_virus_rank - how much an outcome weighs when scanners disagree */
static int filter_virus_rank(int status)
{
    static const int rank[] = {
	[FILTER_VIRUS_NONE] = 0,  [FILTER_VIRUS_CLEAN] = 1, [FILTER_VIRUS_TOOBIG] = 2,
	[FILTER_VIRUS_ERROR] = 3, [FILTER_VIRUS_FOUND] = 4,
    };
    return rank[status];
}

/* filter_verdict_virus - see filterd_scan.h */
void filter_verdict_virus(filter_verdict_t *v, int status, const char *text)
{
    if (filter_virus_rank(status) <= filter_virus_rank(v->virus))
	return;
    v->virus = status;
    str_set(v->virus_text, text ? text : "");
}

/* clamd_scan_start - hand clamd the file (or stream it); a NULL
 * connection on failure, with the reason kept for finish */
typedef struct clamd_scan {
    clamd_conn_t *conn;
    clamd_result_t res;
} clamd_scan_t;

static void *clamd_scan_start(const filter_scan_in_t *in)
{
    clamd_scan_t *cs = mr_calloc(1, sizeof(*cs));

    cs->conn = clamd_open_file(config_str("filterd_clamd_socket"),
			       (int)config_time("clamd_timeout"), config_size("clamd_max_size"),
			       in->fd, config_bool("clamd_pass_descriptor"), &cs->res);
    return cs;
}

/* clamd_scan_finish - read clamd's verdict */
static void clamd_scan_finish(void *state, filter_verdict_t *v)
{
    clamd_scan_t *cs = state;
    static const int map[] = {
	[CLAMD_CLEAN] = FILTER_VIRUS_CLEAN,
	[CLAMD_INFECTED] = FILTER_VIRUS_FOUND,
	[CLAMD_ERROR] = FILTER_VIRUS_ERROR,
	[CLAMD_TOOLONG] = FILTER_VIRUS_TOOBIG,
    };

    if (cs->conn)
	(void)clamd_finish(&cs->conn, &cs->res);
    if (str_len(v->virus_by))
	str_appendc(v->virus_by, ',');
    str_appends(v->virus_by, "clamd");
    filter_verdict_virus(v, map[cs->res.status], cs->res.text);
    mr_free(cs);
}

/*
 * spam_start, spam_feed, spam_finish - lib/global/spam_filter, streamed,
 * for the first scoring user; the others after the end (the built-in
 * scorer from what it found in the one pass, spamd asked again).
 */
typedef struct spam_state {
    spam_scan_t *scan;
    int fd;
} spam_state_t;

static void *spam_start(const filter_scan_in_t *in)
{
    spam_policy_t policy = {.user = in->spam_users[0], .threshold = SPAM_POLICY_THRESHOLD_DEFAULT};
    spam_state_t *ss = mr_alloc(sizeof(*ss));

    ss->fd = in->fd;
    ss->scan = spam_scan_start(&policy, in->size);
    return ss;
}

static void spam_feed(void *state, const char *data, size_t len)
{
    spam_state_t *ss = state;

    spam_scan_feed(ss->scan, data, len);
}

/* spam_add - one user's verdict into its part of v */
static void spam_add(const spam_verdict_t *sv, filter_spam_t *sp)
{
    if (sv->status == SPAM_VERDICT_ERROR) {
	str_appendf(sp->problem, "%s: %s", sv->scanner ? sv->scanner : "spam", sv->reason);
    } else if (sv->status != SPAM_VERDICT_UNSCANNED) {
	sp->score += sv->score;
	sp->scanned = 1;
	if (sv->rules[0] && str_len(sp->rules))
	    str_appendc(sp->rules, ',');
	str_appends(sp->rules, sv->rules);
    }
}

static void spam_finish(void *state, filter_verdict_t *v)
{
    spam_state_t *ss = state;
    spam_verdict_t *sv = mr_alloc(sizeof(*sv));

    spam_scan_end(ss->scan, sv);
    spam_add(sv, &v->spam[0]);
    for (size_t k = 1; k < v->spam_count; k++) {
	spam_scan_other(ss->scan, v->spam_users[k], ss->fd, sv);
	spam_add(sv, &v->spam[k]);
    }
    spam_scan_free(&ss->scan);
    mr_free(sv);
    mr_free(ss);
}

static const filter_scanner_t filter_scanners[] = {
    {"clamd", clamd_scan_start, NULL, clamd_scan_finish},
    {"spam", spam_start, spam_feed, spam_finish},
};

#define FILTER_NSCANNERS (sizeof(filter_scanners) / sizeof(filter_scanners[0]))

/* filter_scanner_find - see filterd_scan.h */
const filter_scanner_t *filter_scanner_find(const char *name)
{
    for (size_t i = 0; i < FILTER_NSCANNERS; i++)
	if (mr_strcaseeq(filter_scanners[i].name, name))
	    return &filter_scanners[i];
    return NULL;
}

/* filter_scan_pick - the scanners of the list, in its order */
static size_t filter_scan_pick(const char *names, const filter_scanner_t **out, size_t max)
{
    char *copy = mr_strdup(names), *cursor = copy, *word;
    size_t n = 0;
    const filter_scanner_t *sc;

    while ((word = next_token(&cursor, ", \t")) != NULL && n < max)
	if ((sc = filter_scanner_find(word)) != NULL)
	    out[n++] = sc;
    mr_free(copy);
    return n;
}

/* filter_scan_fd - see filterd_scan.h */
int filter_scan_fd(const char *names, int fd, filter_verdict_t *v, const char **error_r)
{
    const filter_scanner_t *sc[FILTER_NSCANNERS * 2];
    void *state[FILTER_NSCANNERS * 2];
    size_t n = filter_scan_pick(names, sc, FILTER_NSCANNERS * 2), feeds = 0;
    char *buf = NULL;
    ssize_t got = 0;
    off_t off = 0;
    int ret = 0;
    struct stat st;
    filter_scan_in_t in = {.fd = fd, .spam_users = v->spam_users, .spam_count = v->spam_count};

    if (fstat(fd, &st) < 0)
	st.st_size = -1;
    in.size = st.st_size;
    for (size_t i = 0; i < n; i++) {
	state[i] = sc[i]->start(&in);
	feeds += sc[i]->feed != NULL;
    }
    if (feeds > 0)
	buf = mr_alloc(FILTER_SCAN_BUF);
    /* up to the size (fstat above), or the end where fstat failed: no
     * read just to find the end */
    while (feeds > 0 && (st.st_size < 0 || off < st.st_size) &&
	   (got = pread(fd, buf, FILTER_SCAN_BUF, off)) != 0) {
	if (got < 0 && errno == EINTR)
	    continue;
	if (got < 0)
	    break;
	off += got;
	for (size_t i = 0; i < n; i++)
	    if (sc[i]->feed)
		sc[i]->feed(state[i], buf, (size_t)got);
    }
    if (got < 0) {
	*error_r = "cannot read the spool file";
	ret = -1;
    }
    for (size_t i = 0; i < n; i++)
	sc[i]->finish(state[i], v);
    mr_free(buf);
    return ret;
}
