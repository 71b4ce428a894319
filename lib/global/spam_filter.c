/*
 * spam_filter.c - the spam scanner of the content filter (see
 * spam_filter.h).
 *
 * With spamd, the message goes out as SYMBOLS (score, spamd's threshold,
 * rule names) and our threshold decides, so that a recipient's policy
 * applies whichever scorer runs. Without it, one pass over the message
 * feeds the built-in rules and the Bayes tokenizer together; the Bayes
 * database is read under a shared lock for the classification, through
 * the handle kept from the last message while nothing has written to the
 * database since (bayes_reader_get in bayes.c).
 * The rules found and the tokens stay in the scan until it is freed, so
 * that the verdict for another user (spam_scan_other) asks only that
 * user's database; spamd, whose whole score depends on the user, is
 * asked again for each.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "bayes.h"
#include "config.h"
#include "spam_filter.h"
#include "spam_score.h"

#define READ_CHUNK 65536

/* spam_format_points - tenths as "12.3" / "-0.5" */
const char *spam_format_points(int tenths, char *buf, size_t size)
{
    int a = tenths < 0 ? -tenths : tenths;

    snprintf(buf, size, "%s%d.%d", tenths < 0 ? "-" : "", a / 10, a % 10);
    return buf;
}

/* spam_parse_points - a decimal number with at most one decimal place */
int spam_parse_points(const char *text, int *tenths_r)
{
    const char *p = text;
    int neg = 0, digits = 0;
    long v = 0;

    if (*p == '-')
	neg = 1, p++;
    for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
	v = v * 10 + (*p - '0');
    v *= 10;
    if (*p == '.' && p[1] >= '0' && p[1] <= '9')
	v += p[1] - '0', p += 2;
    if (digits == 0 || *p != 0)
	return -1;
    *tenths_r = neg ? (int)-v : (int)v;
    return 0;
}

/* verdict_init - an error until something better is known */
static void verdict_init(spam_verdict_t *v, const char *scanner, int threshold)
{
    memset(v, 0, sizeof(*v));
    v->status = SPAM_VERDICT_ERROR;
    v->scanner = scanner;
    v->threshold = threshold;
}

/* verdict_fail - an error with a reason */
static int verdict_fail(spam_verdict_t *v, int status, const char *reason)
{
    v->status = status;
    snprintf(v->reason, sizeof(v->reason), "%s", reason);
    return status;
}

/* verdict_judge - spam at or above the threshold */
static int verdict_judge(spam_verdict_t *v)
{
    v->status = v->score >= v->threshold ? SPAM_VERDICT_SPAM : SPAM_VERDICT_HAM;
    return v->status;
}

/* bayes_user - the database user for a recipient (NULL: the global one) */
static const char *bayes_user(const char *user)
{
    return user && config_bool("spam_bayes_per_user") ? user : NULL;
}

/* fd_remaining - bytes from the offset of fd to its end; -1 if unknown */
static long long fd_remaining(int fd)
{
    struct stat st;
    off_t at;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (at = lseek(fd, 0, SEEK_CUR)) < 0)
	return -1;
    return (long long)st.st_size - (long long)at;
}

/* tell_spamd - a TELL request for what fd holds */
static int tell_spamd(int fd, const char *user, int spam, int forget, spamd_result_t *res)
{
    spamd_request_t req = {.command = SPAMD_TELL, .user = user};
    spamd_conn_t *c;
    char *buf;
    ssize_t n;

    req.tell_spam = spam;
    req.tell_forget = forget;
    req.timeout = (int)config_time("spamd_timeout");
    if ((req.length = fd_remaining(fd)) < 0) {
	memset(res, 0, sizeof(*res));
	res->status = SPAMD_ERROR;
	snprintf(res->text, sizeof(res->text), "cannot tell the message size");
	return res->status;
    }
    if ((c = spamd_open(config_str("filterd_spamd_address"), &req, res)) == NULL)
	return res->status;
    buf = mr_alloc(READ_CHUNK);
    while ((n = read(fd, buf, READ_CHUNK)) != 0 && !(n < 0 && errno != EINTR))
	if (n > 0 && spamd_send(c, buf, (size_t)n) < 0)
	    break;
    mr_free(buf);
    spamd_finish(&c, res);
    if (n < 0) {
	res->status = SPAMD_ERROR;
	snprintf(res->text, sizeof(res->text), "cannot read the message");
    }
    return res->status;
}

struct spam_scan {
    int threshold;       /* tenths */
    const char *scanner; /* "spamd" or "builtin" */
    int failed;          /* fail_status and reason hold the verdict */
    int fail_status;     /* SPAM_VERDICT_* */
    char reason[SPAMD_TEXT_MAX];
    char *user;            /* copy of the policy's user */
    spamd_conn_t *conn;    /* spamd: the request in progress */
    spam_score_t score;    /* builtin: the rules */
    int bayes;             /* builtin: Bayes on */
    bayes_tokens_t tokens; /* builtin: the tokens */
    int ended;             /* spam_scan_end was called */
    str_t *rules;          /* builtin, after the end: the rules' names */
};

/* scan_fail - the scan has no verdict (the first reason stays) */
static void scan_fail(spam_scan_t *s, int status, const char *reason)
{
    if (s->failed)
	return;
    s->failed = 1;
    s->fail_status = status;
    snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

/* scan_start_spamd - open the SYMBOLS request */
static void scan_start_spamd(spam_scan_t *s, long long size)
{
    spamd_request_t req = {.command = SPAMD_SYMBOLS, .user = s->user, .length = size};
    spamd_result_t *res;

    if (size < 0)
	return scan_fail(s, SPAM_VERDICT_ERROR, "cannot tell the message size");
    req.timeout = (int)config_time("spamd_timeout");
    req.max_size = config_size("spamd_max_size");
    res = mr_alloc(sizeof(*res));
    if ((s->conn = spamd_open(config_str("filterd_spamd_address"), &req, res)) == NULL)
	scan_fail(s, res->status == SPAMD_TOOLONG ? SPAM_VERDICT_UNSCANNED : SPAM_VERDICT_ERROR,
		  res->text);
    mr_free(res);
}

/* spam_scan_start - begin one message */
spam_scan_t *spam_scan_start(const spam_policy_t *policy, long long size)
{
    spam_scan_t *s = mr_alloc(sizeof(*s));
    int spamd = *config_str("filterd_spamd_address") != 0;

    memset(s, 0, sizeof(*s));
    s->scanner = spamd ? "spamd" : "builtin";
    s->user = policy->user ? mr_strdup(policy->user) : NULL;
    s->threshold = policy->threshold;
    if (s->threshold == SPAM_POLICY_THRESHOLD_DEFAULT &&
	spam_parse_points(config_str("spam_threshold"), &s->threshold) < 0)
	scan_fail(s, SPAM_VERDICT_ERROR, "spam_threshold is not a number of points");
    if (spamd) {
	if (!s->failed)
	    scan_start_spamd(s, size);
	return s;
    }
    spam_score_init(&s->score);
    if ((s->bayes = config_bool("spam_bayes")) != 0)
	bayes_tokens_init(&s->tokens, (size_t)config_int("spam_bayes_max_tokens", 10, 1000000));
    return s;
}

/* spam_scan_feed - message bytes to the scorer */
void spam_scan_feed(spam_scan_t *s, const char *data, size_t len)
{
    if (s->conn) {
	spamd_send(s->conn, data, len);
    } else if (*s->scanner == 'b') {
	spam_score_feed(&s->score, data, len);
	if (s->bayes)
	    bayes_tokens_feed(&s->tokens, data, len);
    }
}

/* finish_spamd - spamd's reply */
static void finish_spamd(spam_scan_t *s, spam_verdict_t *v)
{
    spamd_result_t *res = mr_alloc(sizeof(*res));

    spamd_finish(&s->conn, res);
    if (res->status == SPAMD_HAM || res->status == SPAMD_SPAM) {
	v->score = res->score;
	snprintf(v->rules, sizeof(v->rules), "%s", res->symbols);
	verdict_judge(v);
    } else {
	scan_fail(s, res->status == SPAMD_TOOLONG ? SPAM_VERDICT_UNSCANNED : SPAM_VERDICT_ERROR,
		  res->text);
    }
    mr_free(res);
}

/* filter_bayes - add the Bayes vote, if there is a database and enough
 * learned in it; a database that cannot be read is logged, not fatal */
static void filter_bayes(const bayes_tokens_t *t, const char *user, spam_verdict_t *v, str_t *rules)
{
    bayes_t *b;
    bayes_result_t res = {0};
    const char *error;
    int rc;

    rc = bayes_reader_get(config_str("spam_bayes_directory"), bayes_user(user), &b, &error);
    if (rc > 0)
	rc = bayes_classify(b, t, config_int("spam_bayes_min_learned", 1, INT_MAX), &res, &error);
    if (rc < 0)
	bayes_close(&b);
    else
	bayes_reader_put(&b);
    if (rc < 0) {
	msg_warn("spam filter: Bayes database not used: %s", error);
	return;
    }
    if (rc == 0 && res.voted) {
	v->score += res.score;
	if (str_len(rules) > 0)
	    str_appendc(rules, ',');
	str_appends(rules, res.rule);
    }
}

/* builtin_end - the message is complete: the rules' score and names
 * stay in the scan for every user's verdict */
static void builtin_end(spam_scan_t *s)
{
    spam_score_end(&s->score);
    s->rules = str_new(128);
    spam_score_rules(s->score.rules, s->rules);
    if (s->bayes)
	bayes_tokens_end(&s->tokens);
}

/* builtin_verdict - the rules' score and user's Bayes vote */
static void builtin_verdict(spam_scan_t *s, const char *user, spam_verdict_t *v)
{
    str_t *rules = str_new(128);

    v->score = s->score.score;
    str_set(rules, str_data(s->rules));
    if (s->bayes)
	filter_bayes(&s->tokens, user, v, rules);
    snprintf(v->rules, sizeof(v->rules), "%s", str_data(rules));
    verdict_judge(v);
    str_free(&rules);
}

/* spam_scan_end - the verdict for the policy's user */
int spam_scan_end(spam_scan_t *s, spam_verdict_t *v)
{
    verdict_init(v, s->scanner, s->threshold);
    if (s->ended)
	msg_panic("spam_scan_end: called twice");
    s->ended = 1;
    if (s->conn) {
	finish_spamd(s, v);
    } else if (!s->failed && *s->scanner == 'b') {
	builtin_end(s);
	builtin_verdict(s, s->user, v);
    }
    if (s->failed)
	verdict_fail(v, s->fail_status, s->reason);
    return v->status;
}

/* scan_again - score the whole file fd again for policy, read with
 * pread (its offset may be another reader's) */
static int scan_again(int fd, const spam_policy_t *policy, spam_verdict_t *v)
{
    struct stat st;
    spam_scan_t *s = spam_scan_start(policy, fstat(fd, &st) < 0 ? -1 : (long long)st.st_size);
    char *buf = mr_alloc(READ_CHUNK);
    off_t off = 0;
    ssize_t n;

    while ((n = pread(fd, buf, READ_CHUNK, off)) != 0) {
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0) {
	    spam_scan_abort(s, "cannot read the message");
	    break;
	}
	spam_scan_feed(s, buf, (size_t)n);
	off += n;
    }
    mr_free(buf);
    return spam_scan_finish(&s, v);
}

/* spam_scan_other - another user's verdict after the end */
int spam_scan_other(spam_scan_t *s, const char *user, int fd, spam_verdict_t *v)
{
    spam_policy_t policy = {.user = user, .threshold = s->threshold};

    if (!s->ended)
	msg_panic("spam_scan_other: before spam_scan_end");
    if (*s->scanner == 's')
	return scan_again(fd, &policy, v);
    verdict_init(v, s->scanner, s->threshold);
    if (s->failed || s->rules == NULL)
	return verdict_fail(v, s->failed ? s->fail_status : SPAM_VERDICT_ERROR, s->reason);
    builtin_verdict(s, user, v);
    return v->status;
}

/* spam_scan_free - release a scan; sets *sp to NULL */
void spam_scan_free(spam_scan_t **sp)
{
    spam_scan_t *s = *sp;

    if (s == NULL)
	return;
    if (s->conn) {
	spamd_result_t *res = mr_alloc(sizeof(*res));

	spamd_finish(&s->conn, res); /* not ended: the reply is not wanted */
	mr_free(res);
    }
    if (*s->scanner == 'b' && s->bayes)
	bayes_tokens_free(&s->tokens);
    str_free(&s->rules);
    mr_free(s->user);
    mr_free(s);
    *sp = NULL;
}

/* spam_scan_finish - the verdict; frees the scan */
int spam_scan_finish(spam_scan_t **sp, spam_verdict_t *v)
{
    int status = spam_scan_end(*sp, v);

    spam_scan_free(sp);
    return status;
}

/* spam_filter_per_user - see spam_filter.h */
int spam_filter_per_user(void)
{
    if (*config_str("filterd_spamd_address") != 0)
	return config_bool("filterd_spamd_per_user");
    return config_bool("spam_bayes") && config_bool("spam_bayes_per_user");
}

/* spam_scan_abort - the message could not be read: an error */
void spam_scan_abort(spam_scan_t *s, const char *reason)
{
    scan_fail(s, SPAM_VERDICT_ERROR, reason);
}

/* spam_filter_fd - the scanner over a file */
int spam_filter_fd(int fd, const spam_policy_t *policy, spam_verdict_t *v)
{
    spam_scan_t *s = spam_scan_start(policy, fd_remaining(fd));
    char *buf = mr_alloc(READ_CHUNK);
    ssize_t n;

    while ((n = read(fd, buf, READ_CHUNK)) != 0) {
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0) {
	    char why[200];

	    snprintf(why, sizeof(why), "cannot read the message: %s", strerror(errno));
	    spam_scan_abort(s, why);
	    break;
	}
	spam_scan_feed(s, buf, (size_t)n);
    }
    mr_free(buf);
    return spam_scan_finish(&s, v);
}

/* headers_status - the X-Spam-Status line, folded at the rule commas */
static void headers_status(const spam_verdict_t *v, str_t *out)
{
    char sc[32], th[32];
    size_t line_start = str_len(out), i = 0, n;
    const char *r = v->rules;

    str_appendf(out, "X-Spam-Status: %s, score=%s required=%s scanner=%s tests=",
		v->status == SPAM_VERDICT_SPAM ? "Yes" : "No",
		spam_format_points(v->score, sc, sizeof(sc)),
		spam_format_points(v->threshold, th, sizeof(th)), v->scanner);
    while (r[i]) {
	n = strcspn(r + i, ",");
	if (str_len(out) - line_start + n > 76) {
	    str_appends(out, "\r\n\t");
	    line_start = str_len(out) - 1;
	}
	str_append(out, r + i, n);
	i += n;
	if (r[i] == ',')
	    str_appendc(out, r[i++]);
    }
    str_appends(out, "\r\n");
}

/* spam_filter_headers - the X-Spam-* lines of a verdict */
void spam_filter_headers(const spam_verdict_t *v, str_t *out)
{
    char sc[32];

    if (v->status != SPAM_VERDICT_HAM && v->status != SPAM_VERDICT_SPAM) {
	str_appendf(out, "X-Spam-Status: Unscanned (%s)\r\n",
		    v->status == SPAM_VERDICT_UNSCANNED ? "too large" : "error");
	return;
    }
    if (v->status == SPAM_VERDICT_SPAM)
	str_appends(out, "X-Spam-Flag: YES\r\n");
    str_appendf(out, "X-Spam-Score: %s\r\n", spam_format_points(v->score, sc, sizeof(sc)));
    headers_status(v, out);
}

/* learn_spamd - TELL spamd */
static int learn_spamd(int fd, const char *user, int is_spam, int forget, const char **text_r)
{
    static char text[SPAMD_TEXT_MAX + 32];
    spamd_result_t *res = mr_alloc(sizeof(*res));
    int rc;

    tell_spamd(fd, user, is_spam, forget, res);
    if (res->status == SPAMD_TOLD) {
	rc = res->learned ? 1 : 0;
	snprintf(text, sizeof(text), "%s",
		 !res->learned ? "spamd: nothing to do"
		 : forget      ? "spamd: forgotten"
		 : is_spam     ? "spamd: learned as spam"
			       : "spamd: learned as ham");
    } else {
	rc = -1;
	snprintf(text, sizeof(text), "%s", res->text);
    }
    mr_free(res);
    *text_r = text;
    return rc;
}

/* learn_bayes - the Bayes database, locked for writing */
static int learn_bayes(int fd, const char *user, int is_spam, int forget, const char **text_r)
{
    static char text[600];
    bayes_tokens_t t;
    bayes_t *b = NULL;
    char buf[READ_CHUNK];
    const char *error = NULL;
    ssize_t n;
    int rc = -1;

    bayes_tokens_init(&t, (size_t)config_int("spam_bayes_max_tokens", 10, 1000000));
    while ((n = read(fd, buf, sizeof(buf))) != 0 && !(n < 0 && errno != EINTR))
	if (n > 0)
	    bayes_tokens_feed(&t, buf, (size_t)n);
    bayes_tokens_end(&t);
    if (n < 0)
	snprintf(text, sizeof(text), "cannot read the message: %s", strerror(errno));
    else if (bayes_open(config_str("spam_bayes_directory"), bayes_user(user), 1, &b, &error) < 0)
	snprintf(text, sizeof(text), "%s", error);
    else if ((rc = bayes_learn(b, &t, is_spam, forget, &error)) < 0)
	snprintf(text, sizeof(text), "%s", error);
    else
	snprintf(text, sizeof(text), "%s",
		 rc == 0   ? "nothing to do"
		 : forget  ? "forgotten"
		 : is_spam ? "learned as spam"
			   : "learned as ham");
    bayes_close(&b);
    bayes_tokens_free(&t);
    *text_r = text;
    return rc;
}

/* spam_learn_fd - learn where the scoring happens */
int spam_learn_fd(int fd, const char *user, int is_spam, int forget, const char **text_r)
{
    if (*config_str("filterd_spamd_address") != 0)
	return learn_spamd(fd, user, is_spam, forget, text_r);
    return learn_bayes(fd, user, is_spam, forget, text_r);
}
