"""smtpsink.py - a small SMTP/LMTP server for the smtp agent's tests.

It records every session's commands and every message's raw DATA bytes
(dot-unstuffed), and answers from a script: `replies` maps a verb
("MAIL", "RCPT", "DATA", "DOT") to a list of replies used one per use
(the last one repeats), so a test can say "451 first, then 250".
Listens on TCP (host, port) or a Unix socket path (LMTP).
"""
import os
import socket
import ssl
import socketserver
import threading


class Sink:
    def __init__(self, host="127.0.0.1", port=0, path=None, lmtp=False, ehlo=None,
                 replies=None, rcpt_replies=None, tls=None):
        self.lmtp = lmtp
        # tls: (certfile, keyfile) to offer STARTTLS
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
        self.tls_sessions = 0
        self.ehlo = ehlo if ehlo is not None else ["PIPELINING", "SIZE 10240000", "8BITMIME",
                                                    "DSN", "ENHANCEDSTATUSCODES"]
        self.replies = {k: list(v) for k, v in (replies or {}).items()}
        # LMTP: per-recipient reply after the dot, by address
        self.rcpt_replies = rcpt_replies or {}
        self.sessions = []      # list of command lists
        self.messages = []      # (mail_from_line, [rcpt lines], data bytes)
        self.lock = threading.Lock()
        self.count = 0
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                sink.session(self.rfile, self.wfile, self.request)

        if path:
            if os.path.exists(path):
                os.unlink(path)
            self.server = socketserver.ThreadingUnixStreamServer(path, Handler)
            os.chmod(path, 0o777)
        else:
            socketserver.ThreadingTCPServer.allow_reuse_address = True
            self.server = socketserver.ThreadingTCPServer((host, port), Handler)
            self.port = self.server.server_address[1]
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, verb, default):
        with self.lock:
            lst = self.replies.get(verb)
            if not lst:
                return default
            return lst.pop(0) if len(lst) > 1 else lst[0]

    def session(self, rfile, wfile, sock=None):
        cmds = []
        with self.lock:
            self.sessions.append(cmds)
        send = lambda text: (wfile.write(text.encode() + b"\r\n"), wfile.flush())
        send("220 sink.test ESMTP")
        mail, rcpts, accepted = None, [], []
        while True:
            line = rfile.readline()
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            cmds.append(cmd)
            verb = cmd.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb in ("EHLO", "LHLO"):
                lines = ["sink.test"] + self.ehlo
                if self.tls and not isinstance(sock, ssl.SSLSocket):
                    lines.append("STARTTLS")
                for i, ext in enumerate(lines):
                    wfile.write(f"250{'-' if i < len(lines) - 1 else ' '}{ext}\r\n".encode())
                wfile.flush()
            elif verb == "HELO":
                send("250 sink.test")
            elif verb == "MAIL":
                mail, rcpts, accepted = cmd, [], []
                send(self.reply("MAIL", "250 2.1.0 Ok"))
            elif verb == "RCPT":
                r = self.reply("RCPT", "250 2.1.5 Ok")
                rcpts.append(cmd)
                if r.startswith("2"):
                    accepted.append(cmd.split("<", 1)[1].split(">", 1)[0])
                send(r)
            elif verb == "DATA" and not accepted:
                # as a real server: no DATA without a recipient (a client
                # that pipelines DATA after refused RCPTs sees this)
                send("554 5.5.1 Error: no valid recipients")
            elif verb == "DATA":
                send("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while True:
                    l = rfile.readline()
                    if not l or l == b".\r\n":
                        break
                    data += l[1:] if l.startswith(b".") else l
                with self.lock:
                    self.count += 1
                    n = self.count
                    self.messages.append((mail, rcpts, data))
                if self.lmtp:
                    for a in accepted:
                        send(self.rcpt_replies.get(a, f"250 2.0.0 <{a}> Ok: SINK{n}"))
                else:
                    send(self.reply("DOT", f"250 2.0.0 Ok: queued as SINK{n}"))
            elif verb == "STARTTLS" and self.tls:
                send("220 2.0.0 Ready to start TLS")
                sock = self.tls.wrap_socket(sock, server_side=True)
                rfile, wfile = sock.makefile("rb"), sock.makefile("wb")
                send = lambda text: (wfile.write(text.encode() + b"\r\n"), wfile.flush())
                with self.lock:
                    self.tls_sessions += 1
            elif verb == "RSET":
                send("250 2.0.0 Ok")
            elif verb == "QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 Error: command not recognized")

    def close(self):
        self.server.shutdown()
        self.server.server_close()
