/*
 * params_filter.c - parameters of content filtering: the clamd client
 * (docs/mailroom-scan.md) and spam scoring and learning (docs/spam.md).
 */
#include <limits.h>

#include "config.h"

const param_def_t params_filter[] = {
    /* clamd's Unix socket (its LocalSocket) */
    PARAM_STR("clamd_socket", "/run/clamav/clamd.ctl", NULL),
    /* how long the connect and each read or write to clamd may take */
    PARAM_TIME("clamd_timeout", "60s", 1, 3600, NULL),
    /* the largest message sent to clamd; keep it at or below clamd's
     * StreamMaxLength: a larger message is "too long", not scanned */
    PARAM_SIZE("clamd_max_size", "25m", 1, LLONG_MAX, NULL),
    /* spamd to score with ("host:port", "unix:/path" or "/path"); empty:
     * the built-in scorer (and Bayes) */
    PARAM_STR("filterd_spamd_address", "", NULL),
    /* how long the connect and each read or write to spamd may take */
    PARAM_TIME("spamd_timeout", "60s", 1, 3600, NULL),
    /* the largest message sent to spamd; a larger one is not scanned */
    PARAM_SIZE("spamd_max_size", "512k", 1, LLONG_MAX, NULL),
    /* the score (points, one decimal) at or above which mail is spam */
    PARAM_STR("spam_threshold", "5.0", NULL),
    /* use the Bayes classifier in the built-in scorer */
    PARAM_BOOL("spam_bayes", "yes", NULL),
    /* where the Bayes token databases live */
    PARAM_STR("spam_bayes_directory", "$data_directory/bayes", NULL),
    /* one database per recipient (yes) or one for everybody (no) */
    PARAM_BOOL("spam_bayes_per_user", "no", NULL),
    /* spam and ham messages each that must be learned before Bayes votes */
    PARAM_INT("spam_bayes_min_learned", "20", 1, INT_MAX, NULL),
    /* distinct tokens of a message looked at, at most */
    PARAM_INT("spam_bayes_max_tokens", "3000", 10, 1000000, NULL),
    /* the report spool: messages users reported as spam or ham */
    PARAM_STR("spam_report_directory", "$data_directory/spam-reports", NULL),
    /* the largest reported message kept in the spool */
    PARAM_SIZE("spam_report_max_size", "10m", 1, LLONG_MAX, NULL),
    PARAM_END,
};
