"""qrecords.py - the queue-file record format (docs/queue.md) in Python.

A record is one type byte, the value length as a varint (7 bits per byte,
low group first, high bit = more), then the value. Tests use this to write
maildrop files by hand, to speak the cleanup protocol, and to read queue
files back.
"""

import os
import re
import stat

QID_RE = re.compile(r"^[0-9B-DF-HJ-NP-TV-Z]{16}$")

TIME, SIZE, SENDER, RCPT, DONE = b"T", b"S", b"F", b"R", b"D"
ORCPT, NOTIFY, ATTR, MESG, NORM, CONT, END = b"O", b"N", b"A", b"M", b"L", b"C", b"E"
MAX_LEN = 1024 * 1024


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def rec(rtype, value=b""):
    if isinstance(value, str):
        value = value.encode()
    return rtype + varint(len(value)) + value


def message(sender, rcpts, lines, attrs=None, time_rec=True):
    """A complete maildrop/queue file image."""
    out = bytearray()
    if time_rec:
        out += rec(TIME, "1700000000.000000")
    out += rec(SENDER, sender)
    for r in rcpts:
        out += rec(RCPT, r)
    for k, v in (attrs or {}).items():
        out += rec(ATTR, f"{k}={v}")
    out += rec(MESG)
    for line in lines:
        out += rec(NORM, line)
    out += rec(END)
    return bytes(out)


def parse(data):
    """List of (type, value bytes); raises ValueError on anything malformed."""
    out, i = [], 0
    while i < len(data):
        t = data[i:i + 1]
        i += 1
        n, shift = 0, 0
        while True:
            if i >= len(data):
                raise ValueError("truncated length")
            b = data[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if n > MAX_LEN or i + n > len(data):
            raise ValueError("bad length")
        out.append((t, data[i:i + n]))
        i += n
    if not out or out[-1][0] != END:
        raise ValueError("no end record")
    return out


def content(records):
    """The message text (lines joined with \\n) of parsed records."""
    lines, cur, in_content = [], b"", False
    for t, v in records:
        if t == MESG:
            in_content = True
        elif in_content and t == CONT:
            cur += v
        elif in_content and t == NORM:
            lines.append(cur + v)
            cur = b""
    return b"\n".join(lines) + b"\n"


def envelope(records):
    """dict: sender, rcpts (list of (addr, done)), attrs, size, time."""
    env = {"sender": None, "rcpts": [], "attrs": {}, "size": None, "time": None}
    for t, v in records:
        if t == MESG:
            break
        if t == SENDER:
            env["sender"] = v.decode()
        elif t in (RCPT, DONE):
            env["rcpts"].append((v.decode(), t == DONE))
        elif t == ATTR:
            k, _, val = v.decode().partition("=")
            env["attrs"][k] = val
        elif t == SIZE:
            env["size"] = int(v)
        elif t == TIME:
            env["time"] = v.decode()
        elif t == ORCPT:
            env.setdefault("orcpt", []).append(v.decode())
    return env


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), written here apart from lib/util/crc32c.c."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC32C[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def seal_sum(records):
    """The checksum a queue file's END seal carries: every record before END
    as it sits in the file, a DONE type byte counted as RCPT (docs/queue.md,
    "Seal")."""
    body = b"".join(rec(RCPT if t == DONE else t, v) for t, v in records if t != END)
    return crc32c(body)


def seal(records):
    """(queue ID, sum) of the END record's seal, or None for an empty END."""
    v = records[-1][1]
    if v == b"":
        return None
    qid, sum_hex = v.decode().split(" ")
    return qid, int(sum_hex, 16)


def unseal(data):
    """The same file with an empty END record: a file from before seals."""
    records = parse(data)
    return b"".join(rec(t, v) for t, v in records[:-1]) + rec(END)


def read_attrs(sock_file):
    """One attribute list (name=value lines, empty line ends) as a dict."""
    attrs = {}
    while True:
        line = sock_file.readline()
        if not line:
            raise EOFError("connection closed")
        line = line.rstrip(b"\n").decode()
        if line == "":
            return attrs
        k, _, v = line.partition("=")
        attrs.setdefault(k, v.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%"))


def ready(path):
    """True if path is a committed queue file: the owner-execute bit is the
    ready mark; readers skip files without it (docs/queue.md)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & stat.S_IXUSR)


def reservation(path):
    """True if path is a queue file reserved ahead of use and not used yet:
    a queue-ID name, empty, not ready."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    return (QID_RE.match(os.path.basename(path)) is not None and stat.S_ISREG(st.st_mode)
            and st.st_size == 0 and not st.st_mode & stat.S_IXUSR)


def files(spool, queue):
    """Absolute paths of committed (ready) files in a queue directory (any
    hash depth), as the daemons' readers see them; in defer/ and bounce/
    (delivery logs, appended to, never marked ready) every log file."""
    logs = queue in ("defer", "bounce")
    out = []
    for root, _dirs, names in os.walk(os.path.join(spool, queue)):
        out += [os.path.join(root, n) for n in names
                if QID_RE.match(n) and (logs or ready(os.path.join(root, n)))]
    return sorted(out)


def queues_empty(spool, queues=("incoming", "active", "deferred", "defer", "bounce")):
    """True if no queue directory of queues holds a committed file (or,
    in defer/ and bounce/, a log): every message has left the queue."""
    return all(files(spool, q) == [] for q in queues)


def fnv1a(text):
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def hashed_path(spool, queue, qid, depth=1):
    """Where a queue file with this ID lives (hash_queue_depth levels)."""
    h = fnv1a(qid)
    parts = ["0123456789ABCDEF"[(h >> (4 * i)) & 0xF] for i in range(depth)]
    return os.path.join(spool, queue, *parts, qid)


def fake_qid(n=0):
    """A well-formed queue ID no real file has (the time part is from 1970)."""
    return "0000001" + "0000" + f"{n:05d}"[-5:]
