# smtpd - the SMTP server
PROGS += smtpd
smtpd_SRCS := smtpd/smtpd.c smtpd/smtpd_cmd.c smtpd/smtpd_data.c \
	smtpd/smtpd_check.c smtpd/smtpd_anvil.c smtpd/smtpd_tls.c \
	smtpd/smtpd_guard.c smtpd/smtpd_auth.c smtpd/smtpd_restrict.c smtpd/smtpd_peer.c

# unit tests of smtpd code link its objects (see Makefile)
test_smtpd_check_OBJS := $(BUILD)/obj/smtpd/smtpd_check.o \
	$(BUILD)/obj/smtpd/smtpd_restrict.o
