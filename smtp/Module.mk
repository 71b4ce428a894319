# smtp/ - the SMTP and LMTP delivery agent (one program, two services).
PROGS += smtp
smtp_SRCS := smtp/smtp.c smtp/smtp_dest.c
