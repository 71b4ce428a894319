/*
 * testtrigd - a test helper, not a mail service: logs its wake-ups.
 *
 * Used by tests/integration/test_master.py to exercise master and the
 * trigger-server skeleton. Each wake-up is logged as "trigger: N bytes"
 * (N is 0 for the -w timer). Input is untrusted; only its length is
 * used. Runs as mail_owner (-u). Reads no parameters beyond the
 * skeleton's.
 */
#include "master/mail_server.h"
#include "util/msg.h"

/* trig_trigger - one wake-up */
static void trig_trigger(const char *buf, size_t len, const char *service)
{
    msg_info("trigger: %zu bytes", len);
}

int main(int argc, char **argv)
{
    static const server_params_t params = {.trigger = trig_trigger};

    return trigger_server_main(argc, argv, &params);
}
