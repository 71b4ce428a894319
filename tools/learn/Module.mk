# tools/learn - mailroom-learn: teach the spam scorer, fill and drain the report spool
PROGS += mailroom-learn
mailroom-learn_SRCS := tools/learn/learn.c
