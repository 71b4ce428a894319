#!/usr/bin/python3
"""local_bench.py - how fast the local agent delivers into Maildirs.

Starts an instance (smtpd, cleanup, local; no qmgr), queues one message
for RCPTS virtual mailboxes, then plays qmgr and hands it to private/local
in one request (the helpers of tests/integration/test_local.py), ROUNDS
times. Each delivery is a fork, a Maildir commit (two fsyncs) and the
recipient's done mark (one fsync). Prints one RESULT line per round.

    bench/local_bench.py BUILD [RCPTS] [ROUNDS]
"""
import os
import shutil
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
os.environ["MAILROOM_BUILD"] = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import conftest  # noqa: E402
import mkinstance  # noqa: E402
import test_local  # noqa: E402


def main():
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 150
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    conftest.ensure_mail_users()
    base = tempfile.mkdtemp(prefix="mailroom-bench-local-", dir="/tmp")
    os.chmod(base, 0o755)
    ports = {"smtp": conftest.free_port()}
    d = mkinstance.create(base, conftest.BIN, ports, {}, qmgr=False)
    with open(os.path.join(d, "etc", "vmailbox"), "a") as f:
        f.write("".join(f"b{i}@mailroom.test mailroom.test/b{i}/\n" for i in range(n)))
    inst = conftest.Instance(d, ports).start()
    try:
        for r in range(rounds):
            q = test_local.activate(inst, test_local.submit(
                inst, [f"b{i}@mailroom.test" for i in range(n)], test_local.MESSAGE))
            start = time.time()
            result = test_local.deliver(inst, q)
            secs = time.time() - start
            sent = sum(1 for v in result.values() if v[0] == "sent")
            print(f"RESULT local-maildir round={r} deliveries={sent}/{n} seconds={secs:.2f} "
                  f"per_second={sent / secs:.0f} ms_each={1000 * secs / n:.1f}")
    finally:
        inst.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
