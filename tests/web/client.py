"""A browser's requests without a browser: plain HTTPS to the real `lawline web`, from a
chosen loopback source address, keeping its cookies. Also the raw socket a stranger uses to
send a body the page must not read."""

import http.client
import re
import select
import socket
import ssl
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit


def _tls():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE       # the page's own self-signed certificate
    return context


class Client:
    """One browser's cookies, from a chosen loopback source address."""

    def __init__(self, url, source="127.0.0.1"):
        parts = urlsplit(url)
        self.host, self.port, self.source = parts.hostname, parts.port, source
        self.cookies = {}
        self.headers = {}

    def request(self, method, path, form=None, headers=None, body=None):
        conn = http.client.HTTPSConnection(self.host, self.port, context=_tls(), timeout=30,
                                           source_address=(self.source, 0))
        head = dict(headers or {})
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode(form)
            head["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=head)
        answer = conn.getresponse()
        text = answer.read().decode("utf-8", "replace")
        self.headers = dict(answer.headers)
        self.take_cookies(answer.headers.get_all("set-cookie") or [])
        conn.close()
        return answer.status, text

    def take_cookies(self, lines):
        for line in lines:
            for key, morsel in SimpleCookie(line).items():
                if morsel.value:
                    self.cookies[key] = morsel.value
                else:
                    self.cookies.pop(key, None)

    def login(self, name, password, headers=None, code=None):
        self.request("GET", "/login")
        form = {"name": name, "password": password, "next": "/"}
        if code:
            form["code"] = code
        return self.request("POST", "/login?" + urlencode({"csrf": self.cookies["lawline_login"]}),
                            form, headers)

    def ask_code(self, name, password):
        """Press 发送解锁码 on the log-in page."""
        self.request("GET", "/login")
        return self.request("POST", "/login?" + urlencode({"csrf": self.cookies["lawline_login"]}),
                            {"name": name, "password": password, "want": "code", "next": "/"})

    def action(self, page, form_id):
        """The action URL (with its CSRF token) of the form `form_id` on `page`."""
        found = re.search(rf'<form method="post" action="([^"]+)"[^>]*id="{form_id}"', page)
        return found[1].replace("&amp;", "&")

    def stream(self, method, path, headers, chunks, answer_within=10.0):
        """Send the head of a request, then `chunks` of its body for as long as the page
        takes them, while waiting for its answer (one thread, non-blocking: an SSL socket
        is not to be used from two): (status, text, body bytes the page took before it
        answered; status None: it closed before its answer arrived). The page must answer
        without reading what it must not."""
        raw = socket.create_connection((self.host, self.port), timeout=answer_within,
                                       source_address=(self.source, 0))
        conn = _tls().wrap_socket(raw, server_hostname=self.host)
        head = dict(headers)
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"] + \
                [f"{k}: {v}" for k, v in head.items()]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        conn.setblocking(False)
        body, pending, sent, data = iter(chunks), b"", 0, b""
        sending, answered = True, None
        deadline = time.monotonic() + answer_within
        try:
            while answered is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer within {answer_within:g} s; {sent} body "
                                       "bytes taken so far (the page is reading a body it "
                                       "should refuse)")
                if sending and not pending:
                    pending = next(body, b"")
                    sending = bool(pending)
                readable, writable, _ = select.select([conn], [conn] if sending else [], [],
                                                      0.2)
                if readable or conn.pending():
                    try:
                        part = conn.recv(65536)
                    except ssl.SSLWantReadError:
                        part = None
                    except (ConnectionResetError, ssl.SSLError):
                        part = b""
                    if part == b"":
                        break
                    data += part or b""
                    answered = _complete(data)
                if writable and sending:
                    try:
                        n = conn.send(pending)
                        sent, pending = sent + n, pending[n:]
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                        pass
                    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                        sending = False
            # the page closes its end (it answers a body it will not read with "Connection:
            # close"); wait for that before closing ours
            until = time.monotonic() + 5
            while time.monotonic() < until:
                select.select([conn], [], [], 0.2)
                try:
                    if conn.recv(65536) == b"":
                        break
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                except (OSError, ssl.SSLError):
                    break
        finally:
            conn.close()
        if answered is None:
            # The page closed before its answer reached us: a server that stops reading a
            # body and closes may have its answer overtaken by the reset that our bytes still
            # in flight cause (Linux drops unread data on a reset). For a stranger's body
            # that is the page doing its job; callers say which answers they accept.
            self.closed = True
            return None, "", sent
        head_end = data.find(b"\r\n\r\n")
        head_lines = data[:head_end].split(b"\r\n")
        self.closed = any(line.lower() == b"connection: close" for line in head_lines)
        self.take_cookies([line.split(b":", 1)[1].strip().decode()
                           for line in head_lines if line.lower().startswith(b"set-cookie:")])
        status = int(head_lines[0].split(b" ", 2)[1])
        return status, data[head_end + 4:answered].decode("utf-8", "replace"), sent


def _complete(data):
    """The end of a whole HTTP response in `data` (with a Content-Length), or None."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    length = re.search(rb"(?im)^content-length: *(\d+)", data[:head_end])
    end = head_end + 4 + int(length[1]) if length else None
    return end if end is not None and len(data) >= end else None


def zeros(total, chunk=64 * 1024):
    """`total` bytes of body, in chunks, made as they are sent (never all in memory)."""
    left = total
    while left > 0:
        n = min(chunk, left)
        yield b"0" * n
        left -= n
