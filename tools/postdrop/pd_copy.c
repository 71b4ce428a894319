/*
 * pd_copy.c - postdrop's reading and checking of its input: every record
 * through the envelope validator (lib/queue/qenv.h, QENV_USER) and into
 * the maildrop file, stopping at the first one refused.
 */
#include <errno.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "queue/qenv.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/msg.h"
#include "util/str.h"
#include "util/stream.h"
#include "postdrop.h"

/* pd_refuse_why - the reason for a refusal, for the error line */
static void pd_refuse_why(const qenv_t *q, str_t *why)
{
    if (q->refused == QENV_TOO_BIG)
	str_printf(why,
		   "message too large (message_size_limit = %lld bytes, "
		   "envelope and record overhead included)",
		   q->limits.size);
    else if (q->refused == QENV_TOO_MANY)
	str_printf(why, "too many recipients (smtpd_recipient_limit = %zu)", q->limits.rcpts);
    else
	str_set(why, q->error);
}

/* pd_skipped - a record the checker passed over: say so for attributes */
static void pd_skipped(int type, const str_t *v)
{
    if (type == REC_TYPE_ATTR)
	msg_warn("uid=%ld: dropped attribute \"%.*s\"", (long)getuid(),
		 (int)qenv_attr_name(str_data(v), str_len(v)), str_data(v));
}

/*
 * pd_copy - read, check and write every record; stop at the first one
 * refused, so a hostile stream costs at most the limits. 0 ok, EX_* on
 * failure with the reason in why.
 */
int pd_copy(stream_t *in, qfile_out_t *qo, qenv_t *q, str_t *why)
{
    str_t *v = str_new(256);
    const char *error;
    int type, verdict, ret = 0;

    while (ret == 0 && !qenv_complete(q)) {
	if ((type = rec_get(in, v, &error)) <= 0) {
	    str_set(why, type == 0 ? "input ends before the END record" : error);
	    ret = stream_timedout(in) ? EX_TEMPFAIL : EX_DATAERR;
	} else if ((verdict = qenv_record(q, type, str_data(v), str_len(v))) == QENV_REFUSE) {
	    pd_refuse_why(q, why);
	    ret = EX_DATAERR;
	} else if (verdict == QENV_SKIP) {
	    pd_skipped(type, v);
	} else if (rec_put(qo->stream, type, str_data(v), str_len(v)) < 0) {
	    str_printf(why, "write: %s", strerror(errno));
	    ret = EX_TEMPFAIL;
	}
    }
    if (ret == 0 && rec_get(in, v, &error) != 0) {
	str_set(why, "data after the END record");
	ret = EX_DATAERR;
    }
    str_free(&v);
    return ret;
}
