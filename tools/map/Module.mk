# tools/map - mailroom-map: build and query lookup tables
PROGS += mailroom-map
mailroom-map_SRCS := tools/map/map.c
