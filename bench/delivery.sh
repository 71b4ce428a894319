#!/bin/bash
# delivery.sh - end-to-end delivery rate and delay (SMTP in, Maildir out),
# and qmgr's memory with a large blocked queue. See bench/delivery.py.
cd "$(dirname "$0")/.." || exit 1
exec /usr/bin/python3 bench/delivery.py "${1:-build}" all
