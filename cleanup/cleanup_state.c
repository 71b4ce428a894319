/*
 * cleanup_state.c - the state of one message in cleanup and the dispatch
 * of each client record: first through the envelope validator
 * (lib/queue/qenv.h), then to the envelope (cleanup_env.c) or the content
 * (cleanup_msg.c). cleanup.c reads the records and commits the file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "cleanup.h"
#include "global/config.h"
#include "queue/cleanup_client.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/mymalloc.h"

/* cleanup_fail - remember the first problem */
void cleanup_fail(cleanup_state_t *cs, int status, const char *fmt, ...)
{
    va_list ap;

    if (cs->status)
	return;
    cs->status = status;
    va_start(ap, fmt);
    str_reset(cs->reason);
    str_vappendf(cs->reason, fmt, ap);
    va_end(ap);
}

/* cleanup_state_new - state for one message */
cleanup_state_t *cleanup_state_new(qfile_out_t *qo)
{
    cleanup_state_t *cs = mr_calloc(1, sizeof(*cs));

    cs->qo = qo;
    cs->id = qo->id;
    cs->reason = str_new(100);
    cs->line = str_new(100);
    cs->size_limit = config_size("message_size_limit");
    return cs;
}

/* cleanup_state_free - release, removing the temp file if not committed */
void cleanup_state_free(cleanup_state_t **csp)
{
    cleanup_state_t *cs = *csp;

    cleanup_env_free(cs);
    qfile_discard(&cs->qo);
    str_free(&cs->reason);
    str_free(&cs->line);
    mr_free(cs);
    *csp = NULL;
}

/* cleanup_begin_file - SIZE placeholder (at a known offset), TIME, and
 * the queue ID (qfile_recycle.c: a recycled file's name and content must
 * agree) */
void cleanup_begin_file(cleanup_state_t *cs)
{
    struct timeval tv;
    char buf[64];

    snprintf(buf, sizeof(buf), "%0*d", CLEANUP_SIZE_WIDTH, 0);
    cleanup_write(cs, REC_TYPE_SIZE, buf, CLEANUP_SIZE_WIDTH);
    cs->size_offset = (long)rec_wire_size(CLEANUP_SIZE_WIDTH) - CLEANUP_SIZE_WIDTH;
    gettimeofday(&tv, NULL);
    snprintf(buf, sizeof(buf), "%ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
    cleanup_write(cs, REC_TYPE_TIME, buf, strlen(buf));
    snprintf(buf, sizeof(buf), "%s=%s", QFILE_ID_ATTR, cs->qo->id);
    cleanup_write(cs, REC_TYPE_ATTR, buf, strlen(buf));
}

/* cleanup_record - validate, then dispatch one client record by message
 * part; 1 at END. After a refusal records are only read until END. */
int cleanup_record(cleanup_state_t *cs, int type, const str_t *value)
{
    int verdict;

    if (cs->check.refused)
	return type == REC_TYPE_END;
    verdict = qenv_record(&cs->check, type, str_data(value), str_len(value));
    if (verdict == QENV_REFUSE) {
	cleanup_fail(cs, CLEANUP_STAT_BAD, "%s", cs->check.error);
	return type == REC_TYPE_END;
    }
    if (verdict == QENV_SKIP)
	return 0;
    if (cs->part == CLEANUP_PART_ENV) {
	if (type == REC_TYPE_MESG || type == REC_TYPE_END)
	    cleanup_env_finish(cs);
	else
	    cleanup_envelope(cs, type, value);
    } else if (type == REC_TYPE_NORM || type == REC_TYPE_CONT) {
	cleanup_content(cs, type, value);
    } else if (type != REC_TYPE_END) {
	cleanup_fail(cs, CLEANUP_STAT_BAD, "unexpected %s record in content", rec_type_name(type));
    }
    if (type == REC_TYPE_END)
	cleanup_content_end(cs);
    cs->last_type = type;
    return type == REC_TYPE_END;
}
