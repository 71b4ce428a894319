/*
 * postdrop.h - the parts of mailroom-postdrop (internal to tools/postdrop).
 *
 * postdrop.c  command line, configuration, the file, the answer
 * pd_copy.c   reading, checking and writing the records
 */
#ifndef MR_POSTDROP_H
#define MR_POSTDROP_H

#include "queue/qenv.h"
#include "queue/qfile.h"
#include "util/str.h"
#include "util/stream.h"

/* pd_copy - read records from in, check each with q (QENV_USER), write
 * the ones kept to qo; stop at the first refusal, at END (then nothing
 * may follow), or at a read error. Returns 0, or EX_DATAERR (input
 * refused) / EX_TEMPFAIL (timeout, write error) with the reason in why. */
int pd_copy(stream_t *in, qfile_out_t *qo, qenv_t *q, str_t *why);

#endif
