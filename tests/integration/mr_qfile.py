"""mr_qfile.py - read Mailroom queue and maildrop files in tests.

A file is a sequence of records: one type byte, the value length as a
varint (7 bits a byte, least significant first, high bit = more), then the
value (lib/queue/record.h). parse() returns the records; envelope() and
content() give what a test asserts on.
"""
import os
import re

QID_RE = re.compile(r"^[0-9A-Z]{16}$")


def records(data):
    """[(type_char, bytes)] of a whole file; raises ValueError if malformed."""
    out, i = [], 0
    while i < len(data):
        rtype = chr(data[i])
        i += 1
        length, shift = 0, 0
        while True:
            if i >= len(data):
                raise ValueError("truncated length")
            b = data[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if i + length > len(data):
            raise ValueError("truncated value")
        out.append((rtype, data[i:i + length]))
        i += length
    return out


def read(path):
    with open(path, "rb") as f:
        return records(f.read())


def envelope(recs):
    """dict: sender, rcpts (list), attrs (dict) from the records before MESG."""
    env = {"sender": None, "rcpts": [], "attrs": {}}
    for rtype, value in recs:
        if rtype == "M":
            break
        if rtype == "F":
            env["sender"] = value.decode()
        elif rtype in "RD":
            env["rcpts"].append(value.decode())
        elif rtype == "A":
            k, _, v = value.decode().partition("=")
            env["attrs"][k] = v
    return env


def content(recs):
    """The message text (lines joined with LF) from the content records."""
    lines, cur, seen = [], b"", False
    for rtype, value in recs:
        if rtype == "M":
            seen = True
        elif seen and rtype == "C":
            cur += value
        elif seen and rtype == "L":
            lines.append(cur + value)
            cur = b""
    return b"\n".join(lines) + (b"\n" if lines else b"")


def files(spool, queue):
    """Absolute paths of committed files in a queue directory (any hash depth)."""
    out = []
    for root, _dirs, names in os.walk(os.path.join(spool, queue)):
        out += [os.path.join(root, n) for n in names if QID_RE.match(n)]
    return sorted(out)
