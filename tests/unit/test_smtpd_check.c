/*
 * test_smtpd_check.c - relay and recipient policy, table-driven: each
 * row is a client address, a recipient, and the exact reply expected
 * ("" for acceptance).
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "../../smtpd/smtpd.h"

const char *var_myhostname = "mx.example.com";

static const struct {
    const char *client;
    const char *rcpt;
    const char *reply;
} check_cases[] = {
    /* virtual mailbox domain */
    {"192.0.2.1", "alice@virt.example", ""},
    {"192.0.2.1", "Alice@VIRT.example.", ""},
    {"192.0.2.1", "alice+tag@virt.example", ""},
    {"192.0.2.1", "nobody@virt.example",
     "550 5.1.1 <nobody@virt.example>: Recipient address rejected: User unknown in virtual mailbox "
     "table"},
    {"192.0.2.1", "sales@virt.example", ""}, /* via virtual_alias_maps */
    /* virtual alias domain */
    {"192.0.2.1", "info@alias.example", ""},
    {"192.0.2.1", "other@alias.example",
     "550 5.1.1 <other@alias.example>: Recipient address rejected: User unknown in virtual alias "
     "table"},
    /* local: aliases, system users, postmaster, bare local part */
    {"192.0.2.1", "abuse@mx.example.com", ""},
    {"192.0.2.1", "root@localhost", ""},
    {"192.0.2.1", "root+x@localhost", ""},
    {"192.0.2.1", "postmaster@localhost", ""},
    {"192.0.2.1", "postmaster", ""},
    {"192.0.2.1", "no-such-user-here@localhost",
     "550 5.1.1 <no-such-user-here@localhost>: Recipient address rejected: User unknown in local "
     "recipient table"},
    /* relay */
    {"192.0.2.1", "x@relay.example", ""},
    {"192.0.2.1", "x@sub.relay.example", "554 5.7.1 <x@sub.relay.example>: Relay access denied"},
    {"192.0.2.1", "x@elsewhere.example", "554 5.7.1 <x@elsewhere.example>: Relay access denied"},
    {"192.0.2.1", "x@[192.0.2.9]", "554 5.7.1 <x@[192.0.2.9]>: Relay access denied"},
    {"10.1.2.3", "x@elsewhere.example", ""},
    {"10.255.255.255", "x@elsewhere.example", ""},
    {"11.0.0.1", "x@elsewhere.example", "554 5.7.1 <x@elsewhere.example>: Relay access denied"},
    {"172.16.5.5", "x@elsewhere.example", ""},
    {"172.16.5.6", "x@elsewhere.example", "554 5.7.1 <x@elsewhere.example>: Relay access denied"},
    {"::1", "x@elsewhere.example", ""},
    {"2001:db8::77", "x@elsewhere.example", ""},
    {"2001:db9::1", "x@elsewhere.example", "554 5.7.1 <x@elsewhere.example>: Relay access denied"},
    {"local", "x@elsewhere.example", "554 5.7.1 <x@elsewhere.example>: Relay access denied"},
};

/* setup - a configuration with one of each kind of domain */
static int setup(void **state)
{
    const char *error;
    str_t *conf = str_new(512);
    const char *dir = unit_tmpdir();

    msg_target(unit_write_file("check.log", ""));
    unit_write_file("vmailbox", "alice@virt.example virt.example/alice/\n");
    unit_write_file("virtual", "sales@virt.example alice@virt.example\n"
			       "info@alias.example alice@virt.example\n");
    unit_write_file("aliases", "abuse: root\n");
    str_printf(conf,
	       "myhostname = mx.example.com\n"
	       "mydestination = $myhostname, localhost\n"
	       "mynetworks = 10.0.0.0/8, 172.16.5.5, [::1]/128 [2001:db8::]/32\n"
	       "relay_domains = relay.example\n"
	       "virtual_mailbox_domains = virt.example\n"
	       "virtual_mailbox_maps = texthash:%s/vmailbox\n"
	       "virtual_alias_maps = texthash:%s/virtual\n"
	       "alias_maps = texthash:%s/aliases\n",
	       dir, dir, dir);
    if (config_find("virtual_alias_domains"))
	str_appends(conf, "virtual_alias_domains = alias.example\n");
    unit_write_file(CONFIG_FILE, str_data(conf));
    str_free(&conf);
    assert_int_equal(config_load(dir, &error), 0);
    smtpd_check_init();
    return 0;
}

/* test_policy - every row of check_cases */
static void test_policy(void **state)
{
    str_t *reply = str_new(128);
    smtpd_state_t st;

    for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
	if (strstr(check_cases[i].rcpt, "alias.example") && !config_find("virtual_alias_domains"))
	    continue;
	memset(&st, 0, sizeof(st));
	st.in_mynetworks = smtpd_check_mynetworks(check_cases[i].client);
	str_reset(reply);
	(void)smtpd_check_rcpt(&st, check_cases[i].rcpt, reply);
	if (strcmp(str_data(reply), check_cases[i].reply) != 0)
	    fail_msg("client %s rcpt %s: got \"%s\", want \"%s\"", check_cases[i].client,
		     check_cases[i].rcpt, str_data(reply), check_cases[i].reply);
    }
    str_free(&reply);
}

/* table_error_reply - in a child (the tables opened there stay behind
 * when it exits): the reply with virtual_mailbox_maps unreadable */
static int table_error_reply(const char *want)
{
    str_t *reply = str_new(128);
    smtpd_state_t st = {0};

    config_override("virtual_mailbox_maps", "cdb:/nonexistent/vmailbox");
    smtpd_check_init();
    (void)smtpd_check_rcpt(&st, "alice@virt.example", reply);
    return strcmp(str_data(reply), want) == 0;
}

/* test_table_error - an unreadable table is a temporary failure */
static void test_table_error(void **state)
{
    int status;
    pid_t pid;

    if ((pid = fork()) == 0)
	_exit(table_error_reply("451 4.3.0 <alice@virt.example>: Temporary lookup failure") ? 0
											    : 1);
    assert_true(waitpid(pid, &status, 0) == pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* test_relay_restrictions - authenticated clients relay; lists decide */
static void test_relay_restrictions(void **state)
{
    str_t *reply = str_new(128);
    smtpd_state_t st = {0};

    st.namaddr = "unknown[192.0.2.1]";
    assert_int_equal(smtpd_check_rcpt(&st, "x@elsewhere.example", reply), SMTPD_CHECK_REJECT);
    st.sasl_username = "alice";
    str_reset(reply);
    assert_int_equal(smtpd_check_rcpt(&st, "x@elsewhere.example", reply), SMTPD_CHECK_OK);
    config_override("smtpd_relay_restrictions", "permit_mynetworks, reject");
    assert_int_equal(smtpd_check_rcpt(&st, "x@elsewhere.example", reply), SMTPD_CHECK_REJECT);
    config_override("smtpd_relay_restrictions", "permit_mynetworks, nonsense");
    str_reset(reply);
    assert_int_equal(smtpd_check_rcpt(&st, "x@elsewhere.example", reply), SMTPD_CHECK_REJECT);
    assert_string_equal(str_data(reply), "451 4.3.5 Server configuration error");
    config_override("smtpd_relay_restrictions",
		    "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination");
    /* client restrictions: the submission port's "only after AUTH" */
    config_override("smtpd_client_restrictions", "permit_sasl_authenticated, reject");
    str_reset(reply);
    assert_int_equal(smtpd_restrict_client(&st, reply), SMTPD_CHECK_OK);
    st.sasl_username = NULL;
    assert_int_equal(smtpd_restrict_client(&st, reply), SMTPD_CHECK_REJECT);
    assert_string_equal(str_data(reply),
			"554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied");
    config_override("smtpd_client_restrictions", "");
    str_free(&reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_relay_restrictions),
	cmocka_unit_test(test_policy),
	cmocka_unit_test(test_table_error),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
