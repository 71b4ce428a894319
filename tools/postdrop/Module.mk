# mailroom-postdrop - setgid helper that writes into maildrop/
PROGS += mailroom-postdrop
mailroom-postdrop_SRCS := tools/postdrop/postdrop.c
