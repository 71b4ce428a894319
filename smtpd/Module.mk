# smtpd - the SMTP server
PROGS += smtpd
smtpd_SRCS := smtpd/smtpd.c smtpd/smtpd_cmd.c smtpd/smtpd_data.c smtpd/smtpd_dot.c \
	smtpd/smtpd_addr.c smtpd/smtpd_check.c smtpd/smtpd_anvil.c smtpd/smtpd_tls.c smtpd/smtpd_guard.c
