"""test_qmgr.py - the queue manager with a real delivery agent.

The agent is `testagent` (qmgr/testagent.c), a small agent written on the
same delivery request library as the real ones; it acts on each recipient
as its local part says (defer..., bounce..., retry..., slow..., else
deliver) and writes each delivery to its own file under
data/testagent/NEXTHOP/ADDRESS/, so duplicates are visible. Mail reaches it
through transport_maps ("*" -> testagent), over SMTP into a real instance.
"""
import email
import email.policy
import os
import re
import signal
import smtplib
import subprocess
import time

import pytest

import qrecords

AGENT = "testagent      unix  y       y      n      -      20      testagent"
FAST_RETRY = {
    "queue_run_delay": "1s",
    "minimal_backoff_time": "1s",
    "maximal_backoff_time": "2s",
}


def agent_instance(mailroom, extra=None, agent=AGENT, smtpd_opts="", more_services=()):
    conf = {"transport_maps": "inline:{*=testagent:}"}
    conf.update(FAST_RETRY)
    conf.update(extra or {})
    inst = mailroom(extra=conf, start=False, qmgr=True, services=[agent, *more_services])
    if smtpd_opts:
        path = os.path.join(inst.conf_dir, "master.conf")
        text = open(path).read()
        text = re.sub(r"(inet n y [yn] - 100 smtpd)", r"\1 " + smtpd_opts, text, count=1)
        open(path, "w").write(text)
    top = os.path.join(inst.dir, "data", "testagent")
    os.makedirs(top, exist_ok=True)
    os.chmod(top, 0o777)
    return inst.start()


def delivered(inst, rcpt, nexthop=None):
    """Files the agent wrote for rcpt (any next hop unless given)."""
    top = os.path.join(inst.dir, "data", "testagent")
    out = []
    for hop in sorted(os.listdir(top)) if os.path.isdir(top) else []:
        if nexthop is not None and hop != nexthop:
            continue
        d = os.path.join(top, hop, rcpt)
        if os.path.isdir(d):
            out += [os.path.join(d, f) for f in sorted(os.listdir(d)) if not f.endswith(".tmp")]
    return out


def send(inst, rcpts, body="Subject: test\r\n\r\nhello\r\n", sender="s@example.org",
         port=None, **kw):
    with smtplib.SMTP("127.0.0.1", port or inst.ports["smtp"], timeout=30) as s:
        s.sendmail(sender, rcpts, body, **kw)
        return s.noop()


def queue_id_of(inst, rcpt):
    m = inst.wait_log(rf"mailroom/\w+\[\d+\]: ([0-9A-Z]{{16}}): to=<{re.escape(rcpt)}>")
    return m.group(1)


def wait_until(cond, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_deferred(inst, qid):
    wait_until(lambda: any(p.endswith(qid) for p in qrecords.files(inst.spool, "deferred")),
               what="deferred file")


SLOW_RETRY = {"minimal_backoff_time": "1h", "maximal_backoff_time": "1h", "queue_run_delay": "1h"}


def test_delivery_removes_file(mailroom):
    inst = agent_instance(mailroom)
    body = "Subject: one\r\nX-Test: yes\r\n\r\nline 1\r\nline 2\r\n"
    send(inst, ["a@x.example", "b@y.example"], body)
    qid = queue_id_of(inst, "a@x.example")
    inst.wait_log(rf"{qid}: removed")
    files_a = delivered(inst, "a@x.example", "x.example")
    files_b = delivered(inst, "b@y.example", "y.example")
    assert len(files_a) == 1 and len(files_b) == 1
    data = open(files_a[0], "rb").read()
    assert b"\nSubject: one\nX-Test: yes\n" in data
    assert data.endswith(b"\n\nline 1\nline 2\n")
    log = inst.log_text()
    assert re.search(rf"{qid}: to=<a@x\.example>, relay=testagent, delay=[\d.]+, "
                     r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, status=sent "
                     r"\(test agent: delivered\)", log)
    wait_until(lambda: qrecords.queues_empty(inst.spool), what="empty queue")


def test_deferral_then_retry(mailroom):
    inst = agent_instance(mailroom)
    send(inst, ["retry1@x.example", "now@x.example"])
    qid = queue_id_of(inst, "now@x.example")
    inst.wait_log(rf"{qid}: to=<retry1@x\.example>, relay=testagent, .*dsn=4\.2\.0, "
                  r"status=deferred \(test agent: deferred as asked\)")
    inst.wait_log(rf"{qid}: to=<retry1@x\.example>, .*status=sent", timeout=20)
    inst.wait_log(rf"{qid}: removed")
    assert len(delivered(inst, "retry1@x.example")) == 1
    assert len(delivered(inst, "now@x.example")) == 1


def test_deferred_reason_in_mailq_and_flush(mailroom):
    inst = agent_instance(mailroom, SLOW_RETRY)
    send(inst, ["retry2@x.example"])
    qid = queue_id_of(inst, "retry2@x.example")
    wait_deferred(inst, qid)
    r = inst.run(["mailroom-queue", "-p"])
    assert r.returncode == 0, r.stderr
    assert f"{qid} ".encode() in r.stdout
    assert b"(test agent: deferred as asked)" in r.stdout
    assert b"retry2@x.example" in r.stdout
    r = inst.run(["mailroom-queue", "-j"])
    assert b'"delay_reason": "test agent: deferred as asked"' in r.stdout
    # the next attempt is an hour away: a flush brings it forward
    time.sleep(1)
    assert delivered(inst, "retry2@x.example") == []
    r = inst.run(["mailroom-queue", "-f"])
    assert r.returncode == 0, r.stderr
    inst.wait_log(rf"{qid}: removed")
    assert len(delivered(inst, "retry2@x.example")) == 1


def test_requeue_resolves_again(mailroom):
    inst = agent_instance(mailroom, SLOW_RETRY)
    send(inst, ["defer1@x.example"])
    qid = queue_id_of(inst, "defer1@x.example")
    wait_deferred(inst, qid)
    # route x.example elsewhere, then requeue: the new route is used
    path = os.path.join(inst.conf_dir, "mailroom.conf")
    inst.set_conf(transport_maps="inline:{x.example=error:moved away, *=testagent:}")
    inst.stop()
    inst.start()
    r = inst.run(["mailroom-queue", "-r", qid])
    assert r.returncode == 0, r.stderr
    inst.wait_log(rf"{qid}: to=<defer1@x\.example>, relay=none, .*dsn=5\.0\.0, "
                  r"status=bounced \(moved away\)")
    assert os.path.exists(path)


def test_content_filter_recorded_and_honoured(mailroom):
    inst = agent_instance(mailroom, smtpd_opts="-o content_filter=testagent:[127.0.0.1]:10024",
                          extra={}, more_services=())
    send(inst, ["f@x.example"])
    qid = queue_id_of(inst, "f@x.example")
    inst.wait_log(rf"{qid}: removed")
    # sent to the filter's next hop, not resolved
    assert len(delivered(inst, "f@x.example", "[127.0.0.1]:10024")) == 1
    assert delivered(inst, "f@x.example", "x.example") == []


def test_content_filter_attribute_in_queue_file(mailroom):
    inst = mailroom(extra={"content_filter": "scan:[127.0.0.1]:10024"})
    send(inst, ["alice@mailroom.test"])
    wait_until(lambda: qrecords.files(inst.spool, "incoming"), what="queue file")
    path = qrecords.files(inst.spool, "incoming")[0]
    recs = qrecords.parse(open(path, "rb").read())
    attrs = [v for t, v in recs if t == qrecords.ATTR]
    assert b"content_filter=scan:[127.0.0.1]:10024" in attrs


def test_reinjected_mail_delivered_normally(mailroom):
    """Mail that comes back from the filter (a listener without the option)
    is resolved as usual."""
    inst = agent_instance(mailroom, smtpd_opts="-o content_filter=testagent:[filter]")
    reinject = os.path.join(inst.conf_dir, "master.conf")
    # a second smtpd without the filter, like the 10025 re-injection port
    from conftest import free_port, wait_port
    port = free_port()
    with open(reinject, "a") as f:
        f.write(f"127.0.0.1:{port}  inet n y n - 10 smtpd\n")
    inst.stop()
    inst.start()
    assert wait_port(port)
    send(inst, ["back@x.example"], port=port)
    qid = queue_id_of(inst, "back@x.example")
    inst.wait_log(rf"{qid}: removed")
    assert len(delivered(inst, "back@x.example", "x.example")) == 1


def test_slow_destination_does_not_starve_others(mailroom):
    inst = agent_instance(mailroom, {"initial_destination_concurrency": "2",
                                     "default_destination_concurrency_limit": "2"})
    # 6 slow deliveries (2 s each) to one destination, then one to another
    for i in range(6):
        send(inst, [f"slow{i}@slow.example"])
    t0 = time.time()
    send(inst, ["quick@fast.example"])
    qid = queue_id_of(inst, "quick@fast.example")
    inst.wait_log(rf"{qid}: removed", timeout=20)
    assert time.time() - t0 < 4, "the fast destination waited behind the slow one"


def lmtp_agent_instance(mailroom, extra, transport="lmtp"):
    """The test agent serving the lmtp transport (a transport with its own
    declared limits; or another one of those), every recipient sent to it."""
    conf = {"transport_maps": f"inline:{{*={transport}:}}"}
    conf.update(FAST_RETRY)
    conf.update(extra)
    inst = mailroom(extra=conf, start=False, qmgr=True)
    path = os.path.join(inst.conf_dir, "master.conf")
    text = open(path).read()
    text, n = re.subn(rf"(?m)^{transport}\s+unix.*$",
                      f"{transport:14} unix  y       y      n      -      20      testagent", text)
    assert n == 1
    open(path, "w").write(text)
    top = os.path.join(inst.dir, "data", "testagent")
    os.makedirs(top, exist_ok=True)
    os.chmod(top, 0o777)
    return inst.start()


def test_reply_for_a_message_the_agent_never_got(mailroom):
    """A reply names the queue ID it answers (a batch's replies come in any
    order). One that names a message not in the delivery used to count for
    the first message still waiting: its recipients were taken as sent and
    its queue file removed, undelivered. The test agent serves the local
    transport (which has batches) and, for stray... recipients, first
    sends such a reply: now the connection ends as a protocol error, the
    messages are deferred and delivered on the next attempt, each once."""
    inst = lmtp_agent_instance(mailroom, {}, transport="local")
    for i in range(3):
        send(inst, ["stray@x.example"], body=f"Subject: stray {i}\r\n\r\nhello\r\n")
    wait_until(lambda: len(delivered(inst, "stray@x.example")) >= 3
               and qrecords.queues_empty(inst.spool), timeout=60, what="three deliveries")
    assert len(delivered(inst, "stray@x.example")) == 3
    inst.wait_log(r"qmgr\[\d+\]: warning: \w+: local agent answered for \w+, which waits for "
                  r"no answer in this delivery")


def delivery_times(inst, rcpts, count):
    """Modification times of the agent's files for rcpts, once there are
    count of them and the queue is empty (each written after the 2 s pause
    of a slow... recipient)"""
    def files():
        return [p for r in rcpts for p in delivered(inst, r)]
    wait_until(lambda: len(files()) >= count and qrecords.queues_empty(inst.spool), timeout=60,
               what=f"{count} deliveries")
    return sorted(os.stat(p).st_mtime for p in files())


def test_transport_concurrency_limit(mailroom):
    """lmtp_destination_concurrency_limit 1 overrides the default (20,
    initial window 5): three slow deliveries to one destination go one
    after the other, 2 s apart."""
    inst = lmtp_agent_instance(mailroom, {"lmtp_destination_concurrency_limit": "1"})
    for i in range(3):
        send(inst, ["slow@one.example"], f"Subject: {i}\r\n\r\nbody {i}\r\n")
    times = delivery_times(inst, ["slow@one.example"], 3)
    assert times[1] - times[0] >= 1.9 and times[2] - times[1] >= 1.9, times


def test_transport_recipient_limit_one(mailroom):
    """lmtp_destination_recipient_limit 1: each recipient is a destination
    of its own, so three slow recipients of one message are delivered at
    once although a destination may have one delivery at a time (with the
    default limit of 50 they would be one request, 6 s end to end)."""
    inst = lmtp_agent_instance(mailroom, {"lmtp_destination_recipient_limit": "1",
                                          "lmtp_destination_concurrency_limit": "1"})
    rcpts = ["slowa@d.example", "slowb@d.example", "slowc@d.example"]
    send(inst, rcpts)
    times = delivery_times(inst, rcpts, 3)
    assert times[2] - times[0] < 1.9, times


def test_restart_recovery_exactly_once(mailroom):
    """kill -9 of qmgr during delivery of many messages with several
    recipients: after master restarts it, every recipient has every
    message exactly once (counted by Message-ID)."""
    inst = agent_instance(mailroom)
    n = 30
    rcpts = ["slowa@one.example", "b@two.example", "c@three.example"]
    for i in range(n):
        send(inst, rcpts, f"Message-ID: <m{i}@test>\r\nSubject: {i}\r\n\r\nbody {i}\r\n")
    # wait for deliveries to be under way, then kill qmgr hard
    inst.wait_log(r"to=<slowa@one\.example>.*status=sent", timeout=30)
    out = subprocess.run(["pgrep", "-f", f"qmgr -c {inst.conf_dir}"], capture_output=True,
                         text=True).stdout.split()
    assert out, "qmgr not running"
    for pid in out:
        os.kill(int(pid), signal.SIGKILL)

    def done():
        return all(len(delivered(inst, r)) >= n for r in rcpts) and qrecords.queues_empty(inst.spool)
    wait_until(done, timeout=120, what="all deliveries after the restart")
    for r in rcpts:
        ids = []
        for path in delivered(inst, r):
            m = re.search(rb"^Message-ID: <(m\d+)@test>", open(path, "rb").read(), re.M)
            ids.append(m.group(1))
        assert sorted(ids) == sorted(f"m{i}".encode() for i in range(n)), r


def notices(inst, to, nexthop):
    """Parsed notices the agent delivered to `to`."""
    return [email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default)
            for p in delivered(inst, to, nexthop)]


def report_parts(msg):
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts][:2] == ["text/plain", "message/delivery-status"]
    # the per-message and per-recipient fields of message/delivery-status
    status = parts[1].get_payload()
    fields = [dict(b.items()) for b in status]
    return parts, fields


def test_bounce_is_multipart_report_with_message(mailroom):
    inst = agent_instance(mailroom)
    body = "Subject: will bounce\r\nMessage-ID: <b1@test>\r\n\r\nthe body\r\n"
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.ehlo()
        s.mail("s@example.org", ["RET=FULL", "ENVID=env-1"])
        s.rcpt("bounce1@x.example", ["NOTIFY=FAILURE", "ORCPT=rfc822;orig@x.example"])
        s.data(body)
    qid = queue_id_of(inst, "bounce1@x.example")
    inst.wait_log(rf"{qid}: sender non-delivery notification: [0-9A-Z]{{16}}")
    inst.wait_log(rf"{qid}: removed")
    wait_until(lambda: notices(inst, "s@example.org", "example.org"), what="bounce delivered")
    (msg,) = notices(inst, "s@example.org", "example.org")
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["To"].addresses[0].addr_spec == "s@example.org"
    parts, fields = report_parts(msg)
    assert fields[0]["Reporting-MTA"] == "dns; mx.mailroom.test"
    assert fields[0]["Original-Envelope-Id"] == "env-1"
    rcpt = fields[1]
    assert rcpt["Final-Recipient"] == "rfc822; bounce1@x.example"
    assert rcpt["Original-Recipient"] == "rfc822;orig@x.example"
    assert rcpt["Action"] == "failed" and rcpt["Status"] == "5.1.1"
    assert "test agent: no such user" in rcpt["Diagnostic-Code"]
    assert parts[2].get_content_type() == "message/rfc822"
    original = parts[2].get_payload()[0]
    assert original["Message-ID"] == "<b1@test>"
    assert original.get_payload().strip() == "the body"
    # the notice itself came from <>
    text = open(delivered(inst, "s@example.org", "example.org")[0], "rb").read()
    assert text.startswith(b"Received:") or b"From: MAILER-DAEMON@mx.mailroom.test" in text


def test_bounce_ret_hdrs_and_notify_never(mailroom):
    inst = agent_instance(mailroom)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.ehlo()
        s.mail("h@example.org", ["RET=HDRS"])
        s.rcpt("bounce2@x.example")
        s.rcpt("bounce3@x.example", ["NOTIFY=NEVER"])
        s.data("Subject: hdrs\r\n\r\nsecret body\r\n")
    qid = queue_id_of(inst, "bounce2@x.example")
    inst.wait_log(rf"{qid}: removed")
    wait_until(lambda: notices(inst, "h@example.org", "example.org"), what="bounce")
    (msg,) = notices(inst, "h@example.org", "example.org")
    parts, fields = report_parts(msg)
    assert [f.get("Final-Recipient") for f in fields[1:]] == ["rfc822; bounce2@x.example"]
    assert parts[2].get_content_type() == "text/rfc822-headers"
    raw = open(delivered(inst, "h@example.org", "example.org")[0], "rb").read()
    assert b"secret body" not in raw and b"Subject: hdrs" in raw


def test_success_notice_on_notify_success(mailroom):
    inst = agent_instance(mailroom)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.ehlo()
        s.mail("ok@example.org")
        s.rcpt("fine@x.example", ["NOTIFY=SUCCESS"])
        s.data("Subject: success\r\n\r\nx\r\n")
    wait_until(lambda: notices(inst, "ok@example.org", "example.org"), what="success notice")
    (msg,) = notices(inst, "ok@example.org", "example.org")
    assert msg["Subject"] == "Successful Mail Delivery Report"
    _, fields = report_parts(msg)
    assert fields[1]["Action"] == "delivered" and fields[1]["Status"] == "2.0.0"


def test_queue_lifetime_expiry_bounces(mailroom):
    inst = agent_instance(mailroom, {"maximal_queue_lifetime": "2s"})
    send(inst, ["defer9@x.example"], sender="late@example.org")
    qid = queue_id_of(inst, "defer9@x.example")
    inst.wait_log(rf"{qid}: to=<defer9@x\.example>, relay=none, .*dsn=5\.4\.7, status=bounced "
                  r"\(message expired after \d+ seconds in the queue: test agent: deferred as asked\)",
                  timeout=30)
    inst.wait_log(rf"{qid}: removed")
    wait_until(lambda: notices(inst, "late@example.org", "example.org"), what="expiry bounce")
    (msg,) = notices(inst, "late@example.org", "example.org")
    _, fields = report_parts(msg)
    assert fields[1]["Action"] == "failed" and fields[1]["Status"] == "5.4.7"


def test_delay_warning(mailroom):
    inst = agent_instance(mailroom, {"delay_warning_time": "1s"})
    send(inst, ["defer7@x.example"], sender="wait@example.org")
    wait_until(lambda: notices(inst, "wait@example.org", "example.org"), timeout=30,
               what="delay warning")
    time.sleep(3)
    msgs = notices(inst, "wait@example.org", "example.org")
    assert len(msgs) == 1, "one warning only"
    assert msgs[0]["Subject"] == "Delayed Mail (still being retried)"
    _, fields = report_parts(msgs[0])
    assert fields[1]["Action"] == "delayed" and fields[1]["Status"] == "4.2.0"


def test_double_bounce_goes_to_postmaster_once(mailroom):
    inst = agent_instance(mailroom)
    send(inst, ["bounce5@x.example"], sender="")
    qid = queue_id_of(inst, "bounce5@x.example")
    inst.wait_log(rf"{qid}: postmaster non-delivery notification: [0-9A-Z]{{16}}")
    wait_until(lambda: notices(inst, "postmaster@mx.mailroom.test", "mx.mailroom.test"),
               what="postmaster notice")
    (msg,) = notices(inst, "postmaster@mx.mailroom.test", "mx.mailroom.test")
    _, fields = report_parts(msg)
    assert fields[1]["Final-Recipient"] == "rfc822; bounce5@x.example"


def test_undeliverable_postmaster_notice_is_discarded(mailroom):
    inst = agent_instance(mailroom, {"bounce_notice_recipient": "bounce-pm@x.example"})
    send(inst, ["bounce6@x.example"], sender="")
    qid = queue_id_of(inst, "bounce6@x.example")
    m = inst.wait_log(rf"{qid}: postmaster non-delivery notification: ([0-9A-Z]{{16}})")
    second = m.group(1)
    inst.wait_log(rf"{second}: undeliverable postmaster notification discarded")
    inst.wait_log(rf"{second}: removed")
    time.sleep(1)
    wait_until(lambda: qrecords.queues_empty(inst.spool), what="no loop")
    assert len(re.findall(r"notification: ", inst.log_text())) == 1


def test_sendmail_bv_reports_without_delivering(mailroom):
    inst = agent_instance(mailroom)
    r = inst.run(["sendmail", "-bv", "-f", "verify@example.org", "vbob@x.example",
                  "bounce-v@x.example"], input=b"")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: notices(inst, "verify@example.org", "example.org"), timeout=30,
               what="verification report")
    (msg,) = notices(inst, "verify@example.org", "example.org")
    assert msg["Subject"] == "Mail Delivery Status Report"
    _, fields = report_parts(msg)
    by_rcpt = {f["Final-Recipient"]: f for f in fields[1:]}
    assert by_rcpt["rfc822; vbob@x.example"]["Action"] == "deliverable"
    assert by_rcpt["rfc822; bounce-v@x.example"]["Action"] == "undeliverable"
    assert by_rcpt["rfc822; bounce-v@x.example"]["Status"] == "5.1.1"
    # nothing was delivered, and the log says what would have happened
    assert delivered(inst, "vbob@x.example") == []
    inst.wait_log(r"to=<vbob@x\.example>, relay=testagent, .*status=deliverable")
