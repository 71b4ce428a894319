/*
 * load_stats.c - counters and latency samples of smtp-load, and the report.
 *
 * Each session thread fills its own load_stats_t (no locks on the hot
 * path); the main thread merges them after the threads have been joined.
 * Percentiles are nearest-rank over every sample (no histogram buckets,
 * no sampling): a run of a few thousand messages keeps a few thousand
 * doubles, which is nothing.
 *
 * The report is two parts: a few human lines, then one line that starts
 * with "RESULT " and holds key=value pairs separated by single spaces,
 * for scripts (bench/smtp-bench.sh parses it). Keys are never removed or
 * renamed, only added.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/mymalloc.h"
#include "load.h"

static const char *load_stage_names[LOAD_STAGES] = {
    "connect", "banner", "ehlo", "tls", "auth", "mail", "rcpt", "data", "eod", "io",
};

static const char *load_step_names[LOAD_STEPS] = {
    "connect", "ehlo", "mail", "rcpt", "data", "eod", "quit",
};

/* load_now_ms - monotonic clock */
double load_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* load_stats_init - start empty */
void load_stats_init(load_stats_t *st)
{
    memset(st, 0, sizeof(*st));
}

/* load_stats_free - release the sample arrays */
void load_stats_free(load_stats_t *st)
{
    for (int i = 0; i < LOAD_STEPS; i++) {
	mr_free(st->step[i].ms);
	memset(&st->step[i], 0, sizeof(st->step[i]));
    }
}

/* load_stats_add - append one sample of a step */
void load_stats_add(load_stats_t *st, load_step_t step, double ms)
{
    load_samples_t *s = &st->step[step];

    if (s->count == s->cap) {
	s->cap = s->cap ? s->cap * 2 : 256;
	s->ms = mr_reallocarray(s->ms, s->cap, sizeof(*s->ms));
    }
    s->ms[s->count++] = ms;
}

/* load_stats_fail - count a failure and its reply code */
void load_stats_fail(load_stats_t *st, load_stage_t stage, int code)
{
    st->stage_fail[stage]++;
    if (code > 0 && code < LOAD_CODES)
	st->codes[code]++;
}

/* load_stats_merge - add one session's figures to the total */
void load_stats_merge(load_stats_t *dst, const load_stats_t *src)
{
    size_t i;

    dst->accepted += src->accepted;
    dst->failed += src->failed;
    dst->connections += src->connections;
    dst->tls_reused += src->tls_reused;
    for (i = 0; i < LOAD_STAGES; i++)
	dst->stage_fail[i] += src->stage_fail[i];
    for (i = 0; i < LOAD_CODES; i++)
	dst->codes[i] += src->codes[i];
    for (int step = 0; step < LOAD_STEPS; step++)
	for (i = 0; i < src->step[step].count; i++)
	    load_stats_add(dst, step, src->step[step].ms[i]);
}

/* load_cmp_double - qsort order for doubles */
static int load_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* load_pct - nearest-rank percentile of sorted samples (0 if none) */
static double load_pct(const double *v, size_t n, double pct)
{
    size_t rank;

    if (n == 0)
	return 0;
    rank = (size_t)(pct / 100.0 * n + 0.999999);
    if (rank < 1)
	rank = 1;
    if (rank > n)
	rank = n;
    return v[rank - 1];
}

/* load_step_pct - percentile of a step's samples (sorted by the report) */
static double load_step_pct(const load_stats_t *st, load_step_t step, double pct)
{
    return load_pct(st->step[step].ms, st->step[step].count, pct);
}

/* load_steps_text - "connect:0.10,ehlo:0.05,..." the median of each step
 * that has samples, or "-" */
static void load_steps_text(const load_stats_t *st, str_t *out)
{
    for (int i = 0; i < LOAD_STEPS; i++)
	if (st->step[i].count)
	    str_appendf(out, "%s%s:%.3f", str_len(out) ? "," : "", load_step_names[i],
			load_step_pct(st, i, 50));
    if (str_len(out) == 0)
	str_appends(out, "-");
}

/* load_codes_text - "421:3,451:2" for unexpected reply codes, or "-" */
static void load_codes_text(const load_stats_t *st, str_t *out)
{
    int i;

    for (i = 0; i < LOAD_CODES; i++)
	if (st->codes[i])
	    str_appendf(out, "%s%d:%ld", str_len(out) ? "," : "", i, st->codes[i]);
    if (str_len(out) == 0)
	str_appends(out, "-");
}

/* load_print_human - the summary meant for people */
static void load_print_human(const load_conf_t *conf, const load_stats_t *st, double secs,
			     const double *pc, const char *steps)
{
    int i;

    printf("smtp-load: %s sessions=%d size=%zu rcpts=%d per_conn=%ld pipelining=%s\n", conf->server,
	   conf->sessions, conf->size, conf->rcpts, conf->per_conn,
	   conf->pipelining ? "yes" : "no");
    printf("accepted %ld of %ld messages in %.3f s: %.1f msg/s (%ld connections)\n", st->accepted,
	   st->accepted + st->failed, secs, secs > 0 ? st->accepted / secs : 0.0, st->connections);
    printf("end of data -> 250 ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", pc[0], pc[1], pc[2],
	   pc[3]);
    printf("connect -> 220 ms:     p50 %.2f  p99 %.2f  max %.2f\n", pc[4], pc[5], pc[6]);
    printf("median ms per step:    %s\n", steps);
    printf("failed %ld:", st->failed);
    for (i = 0; i < LOAD_STAGES; i++)
	printf(" %s %ld", load_stage_names[i], st->stage_fail[i]);
    printf("\n");
}

/* load_stats_report - sort the samples and print both report forms */
void load_stats_report(const load_conf_t *conf, load_stats_t *st, double secs, int quiet)
{
    double pc[7];
    str_t *codes = str_new(64), *steps = str_new(128);

    for (int i = 0; i < LOAD_STEPS; i++)
	qsort(st->step[i].ms, st->step[i].count, sizeof(double), load_cmp_double);
    pc[0] = load_step_pct(st, LOAD_STEP_EOD, 50);
    pc[1] = load_step_pct(st, LOAD_STEP_EOD, 90);
    pc[2] = load_step_pct(st, LOAD_STEP_EOD, 99);
    pc[3] = load_step_pct(st, LOAD_STEP_EOD, 100);
    pc[4] = load_step_pct(st, LOAD_STEP_CONNECT, 50);
    pc[5] = load_step_pct(st, LOAD_STEP_CONNECT, 99);
    pc[6] = load_step_pct(st, LOAD_STEP_CONNECT, 100);
    load_codes_text(st, codes);
    load_steps_text(st, steps);
    if (!quiet)
	load_print_human(conf, st, secs, pc, str_data(steps));
    printf("RESULT server=%s sessions=%d size=%zu rcpts=%d per_conn=%ld pipelining=%d"
	   " msgs=%ld accepted=%ld failed=%ld connections=%ld tls_reused=%ld secs=%.3f rate=%.1f"
	   " p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f"
	   " conn_p50_ms=%.2f conn_p99_ms=%.2f codes=%s steps_p50_ms=%s\n",
	   conf->label, conf->sessions, conf->size, conf->rcpts, conf->per_conn, conf->pipelining,
	   st->accepted + st->failed, st->accepted, st->failed, st->connections, st->tls_reused,
	   secs, secs > 0 ? st->accepted / secs : 0.0, pc[0], pc[1], pc[2], pc[3], pc[4], pc[5],
	   str_data(codes), str_data(steps));
    fflush(stdout);
    str_free(&codes);
    str_free(&steps);
}
