/*
 * spam_report.h - the report spool: messages that users reported as
 * spam or ham, waiting to be learned.
 *
 * A directory (spam_report_directory) with tmp/, new/ and bad/, written
 * like a queue: a report is created in tmp/ under a unique name with
 * O_EXCL, written, fsync'd, then renamed into new/ (and the directory
 * fsync'd), so a reader never sees half a report and a crash leaves at
 * worst a file in tmp/. A report file is
 *   mailroom-spam-report 1
 *   user=alice@example.org      (absent: the global database)
 *   verdict=spam                (or ham)
 *   <empty line>
 *   the message, as it was
 * mailroom-learn --report writes reports today; imapd will when a user
 * moves mail into or out of the Junk mailbox. The consumer learns each
 * report where the scoring happens (spam_learn_fd) and removes it; a
 * report it cannot read goes to bad/, a failure to learn (spamd down)
 * leaves it for the next run.
 */
#ifndef MR_SPAM_REPORT_H
#define MR_SPAM_REPORT_H

/* The first line of a report */
#define SPAM_REPORT_MAGIC "mailroom-spam-report 1"

/* The longest report head read */
#define SPAM_REPORT_HEAD_MAX 1024

#include <stddef.h>

/* spam_report_write - spool the len bytes of msg as reported by user
 * (NULL: none) as spam or ham. 0 ok, -1 error with text in *error_r
 * (static storage). */
int spam_report_write(const char *dir, const char *user, int is_spam, const char *msg, size_t len,
		      const char **error_r);

/* spam_report_unwrap - the message attached to a message, for a report
 * sent "as attachment": the body of the first message/rfc822 part of a
 * multipart top level. 1 found (*off_r, *len_r say where), 0 none */
int spam_report_unwrap(const char *msg, size_t len, size_t *off_r, size_t *len_r);

/* spam_report_stats_t - what a run of the consumer did */
typedef struct spam_report_stats {
    int learned; /* learned (or already known) and removed */
    int failed;  /* learning failed: left for the next run */
    int bad;     /* unreadable: moved to bad/ */
} spam_report_stats_t;

/* spam_report_run - learn at most limit reports from the spool, one log
 * line each. 0 ok (also when the spool does not exist yet), -1 the spool
 * cannot be read (text in *error_r). */
int spam_report_run(const char *dir, int limit, spam_report_stats_t *stats, const char **error_r);

#endif
