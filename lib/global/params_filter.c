/*
 * params_filter.c - parameters of content filtering: the clamd client
 * (docs/mailroom-scan.md), spam scoring and learning (docs/spam.md) and
 * filterd (docs/filterd.md).
 */
#include <limits.h>

#include "config.h"

const param_def_t params_filter[] = {
    /* clamd's socket: a Unix socket path (its LocalSocket, also
     * "unix:/path"), or "host:port" (its TCPSocket) */
    PARAM_STR("clamd_socket", "/run/clamav/clamd.ctl", NULL),
    /* hand clamd on a Unix socket the message file's descriptor (FILDES)
     * instead of streaming the message (INSTREAM) */
    PARAM_BOOL("clamd_pass_descriptor", "yes", NULL),
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
    /* filterd: ask spamd with each recipient as User (its own preferences
     * and Bayes data), one scan per distinct recipient up to
     * filterd_spam_user_limit; no: one scan without User for everyone */
    PARAM_BOOL("filterd_spamd_per_user", "no", NULL),
    /* filterd: distinct users a message is scored for (spamd with
     * filterd_spamd_per_user, Bayes with spam_bayes_per_user); a message
     * for more is scored once for all, as without per-user scoring */
    PARAM_INT("filterd_spam_user_limit", "5", 1, 1000, NULL),
    /* filterd: clients a filterd process serves before it is replaced
     * (its max_use: the pool of workers, their kept re-injection sessions
     * and the spool files go with the process); 0: no limit */
    PARAM_INT("filterd_max_use", "1000", 0, 1000000, NULL),
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
    /* filterd: the clamd it asks */
    PARAM_STR("filterd_clamd_socket", "$clamd_socket", NULL),
    /* filterd: the scanners every message goes through, in order */
    PARAM_LIST("filterd_scanners", "clamd, spam", NULL),
    /* filterd: pass mail a virus scanner could not scan (with a header
     * saying so) instead of deferring it */
    PARAM_BOOL("filterd_pass_unscanned", "no", NULL),
    /* filterd: where scanned mail goes back in (host:port or unix:/path) */
    PARAM_STR("filterd_reinject_nexthop", "127.0.0.1:10025", NULL),
    /* filterd: connect and reply timeout of the re-injection */
    PARAM_TIME("filterd_reinject_timeout", "300s", 1, 3600, NULL),
    /* filterd: how long a worker keeps its idle session with the
     * re-injection server (0: a new session per message) */
    PARAM_TIME("filterd_reinject_cache_time", "2s", 0, 3600, NULL),
    /* filterd: the networks its clients may connect from (qmgr's filter
     * transport); anyone else is refused at connect: filterd passes mail
     * to the re-injection port, which does not check relaying again */
    PARAM_LIST("filterd_client_networks", "127.0.0.0/8 [::1]/128", NULL),
    /* filterd: a client silent for this long is dropped */
    PARAM_TIME("filterd_timeout", "300s", 1, 3600, NULL),
    /* filterd: a session has this long from its connect, or from the end
     * of its last message, to the end of the next message's DATA (NOOP,
     * RSET and a trickle of bytes do not extend it) */
    PARAM_TIME("filterd_message_timeout", "60s", 1, 3600, NULL),
    /* filterd: sessions one client may hold at once, across the service's
     * processes (anvil); a local client is counted by its uid, the mail
     * owner and root are not counted; 0: no limit */
    PARAM_INT("filterd_client_connection_limit", "10", 0, 100000, NULL),
    /* filterd: connections one client may open per anvil_rate_time_unit
     * (counted as above); 0: no limit */
    PARAM_INT("filterd_client_connection_rate_limit", "60", 0, 1000000000, NULL),
    /* filterd: recipients per transaction */
    PARAM_INT("filterd_recipient_limit", "1000", 1, 1000000, NULL),
    /* filterd: messages scanned at once by one filterd process */
    PARAM_INT("filterd_worker_limit", "20", 1, 10000, NULL),
    /* filterd: quarantine (and the unnamed spool files of messages being
     * received); the mail owner's, mode 0700 */
    PARAM_STR("filterd_quarantine_directory", "$queue_directory/quarantine", NULL),
    /* filterd: a temporary file of a killed filterd (".tPID.ID",
     * ".spool.*" in the quarantine directory) unchanged for this long is
     * removed; the sweep runs at start and at this interval */
    PARAM_TIME("filterd_temp_file_max_age", "3600s", 1, 2592000, NULL),
    /* filterd: a spam score at or above this gets X-Spam-Flag: YES and
     * the subject tag (points, one decimal) */
    PARAM_STR("filterd_spam_tag_level", "$spam_threshold", NULL),
    /* filterd: a spam score at or above this is refused */
    PARAM_STR("filterd_spam_kill_level", "20.0", NULL),
    /* filterd: what happens to a message clamd found a virus in:
     * quarantine (kept, not delivered) or reject (554 5.7.0) */
    PARAM_STR("filterd_virus_action", "quarantine", NULL),
    /* filterd: what happens to a message at filterd_spam_kill_level:
     * quarantine or reject (554 5.7.1) */
    PARAM_STR("filterd_spam_action", "quarantine", NULL),
    /* filterd: per-recipient policies (docs/filterd.md): tag=, kill=,
     * virus=, spam=, bypass= */
    PARAM_TABLE("filterd_policy_maps", "", NULL),
    /* filterd: put in front of the Subject of tagged spam */
    PARAM_STR("filterd_spam_subject_tag", "[SPAM]", NULL),
    PARAM_END,
};
