"""A real upstream on this machine: stores HTTP PUTs under a directory, serves them by GET.

It stands in for the prefecture's upload endpoint in the demo and the tests, speaking the
same contract as the nginx WebDAV target (shared reference/test-servers.md): PUT stores the
body at its path (creating directories) and replaces what was there; GET returns it. Bodies
land under a temporary name and are renamed into place, so a reader never sees half a file.

    lawline receiver --dir /tmp/upstream --port 8080 --token-file /run/lawline/upstream.token
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import signal
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

log = logging.getLogger("lawline.receiver")

_BLOCK = 64 * 1024
# Read at most this much of a refused body, so the client gets to see the answer.
_DISCARD_LIMIT = 1024 * 1024


class ReceiverServer(ThreadingHTTPServer):
    """The HTTP server. Per stored path ("260112001/voicemail.wav"), `put_counts` counts the
    PUTs and `put_headers` keeps the last PUT's headers, without Authorization."""

    daemon_threads = True

    def __init__(self, address, root: Path, token: str | None = None):
        self.root = Path(root).resolve()
        self.token = token
        self.put_counts = {}
        self.put_headers = {}
        self.changed = threading.Condition()
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def wait_for_put(self, path: str, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until `path` was stored `count` times; False when `timeout` passed first."""
        with self.changed:
            return self.changed.wait_for(lambda: self.put_counts.get(path, 0) >= count, timeout)

    def handle_error(self, request, client_address):
        # A client that hangs up mid-body is routine for an upload target, not a traceback.
        log.warning("request from %s failed: %s", client_address[0], sys.exc_info()[1])

    def _stored(self, rel, headers):
        with self.changed:
            self.put_counts[rel] = self.put_counts.get(rel, 0) + 1
            self.put_headers[rel] = {k: v for k, v in headers.items()
                                     if k.lower() != "authorization"}
            self.changed.notify_all()


class _Handler(BaseHTTPRequestHandler):
    server_version = "lawline-receiver"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 (the base class names it so)
        log.debug("%s %s", self.address_string(), format % args)

    def _authorized(self):
        token = self.server.token
        if token is None:
            return True
        offered = self.headers.get("Authorization", "")
        expected = f"Bearer {token}"
        return hmac.compare_digest(offered.encode("utf-8", "replace"), expected.encode("utf-8"))

    def _target(self):
        """The stored file's path relative to the root, or None when the path is not one."""
        parts = unquote(urlsplit(self.path).path).split("/")
        segments = [p for p in parts if p]
        if not segments or any(p in (".", "..") or p.startswith(".") or "\\" in p or "\0" in p
                                for p in segments):
            return None
        return "/".join(segments)

    def _answer(self, status, text=""):
        body = (text + "\n").encode("utf-8") if text else b""
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _discard_body(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit() or int(length) > _DISCARD_LIMIT:
            self.close_connection = True
            return
        remaining = int(length)
        while remaining:
            chunk = self.rfile.read(min(_BLOCK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)

    def do_PUT(self):  # noqa: N802 (http.server's naming)
        if not self._authorized():
            self._discard_body()
            return self._answer(401, "missing or wrong bearer token")
        rel = self._target()
        if rel is None:
            self._discard_body()
            return self._answer(400, "bad path")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            return self._answer(411, "Content-Length required")
        path = self.server.root / rel
        if path.is_dir():
            self._discard_body()
            return self._answer(409, "path is a directory")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self._discard_body()
            return self._answer(409, f"cannot create the directory: {e.strerror}")
        existed = path.exists()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".put")
        try:
            with os.fdopen(fd, "wb") as out:
                remaining = int(length)
                while remaining:
                    chunk = self.rfile.read(min(_BLOCK, remaining))
                    if not chunk:
                        raise ConnectionError("client closed before sending the whole body")
                    out.write(chunk)
                    remaining -= len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            self.close_connection = True
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        self.server._stored(rel, self.headers)
        log.info("stored %s (%s bytes)", rel, length)
        self._answer(204 if existed else 201)

    def do_GET(self):  # noqa: N802
        self._get(send_body=True)

    def do_HEAD(self):  # noqa: N802
        self._get(send_body=False)

    def _get(self, send_body):
        if not self._authorized():
            return self._answer(401, "missing or wrong bearer token")
        rel = self._target()
        path = None if rel is None else self.server.root / rel
        if path is None or not path.is_file():
            return self._answer(404, "not found")
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if send_body:
                while True:
                    chunk = f.read(_BLOCK)
                    if not chunk:
                        break
                    self.wfile.write(chunk)


def serve(root: Path, host: str = "127.0.0.1", port: int = 0, token: str | None = None):
    """Start a receiver in a daemon thread; return (server, thread, url). Stop it with
    `server.shutdown(); server.server_close()`."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    server = ReceiverServer((host, port), root, token)
    # A short poll interval keeps shutdown() quick: tests start and stop many receivers.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="lawline-receiver", daemon=True)
    thread.start()
    return server, thread, server.url


# -- command line ---------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", required=True, type=Path,
                        help="directory the received files are stored under")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                        "127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port (default 0: any free port; see --ready-file)")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--token", help="require 'Authorization: Bearer TOKEN' (visible in ps; "
                      "prefer --token-file)")
    auth.add_argument("--token-file", type=Path, help="read the bearer token from this file")
    parser.add_argument("--ready-file", type=Path,
                        help="once listening, write the receiver's URL to this file")


def main(args=None) -> int:
    """Serve until SIGTERM or SIGINT. `args` is a parsed namespace (from lawline's cli.py) or
    a list of command-line words."""
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(prog="lawline receiver",
                                         description="store HTTP PUTs under a directory")
        add_arguments(parser)
        args = parser.parse_args(args)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    token = args.token
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            print(f"lawline receiver: cannot read --token-file {args.token_file}: {e.strerror}",
                  file=sys.stderr)
            return 2
    try:
        server, thread, url = serve(args.dir, args.host, args.port, token)
    except OSError as e:
        print(f"lawline receiver: cannot listen on {args.host}:{args.port}: {e.strerror}",
              file=sys.stderr)
        return 1

    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
    try:
        if args.ready_file is not None:
            _write_atomically(args.ready_file, url + "\n")
        log.info("receiving on %s, storing under %s%s", url, args.dir,
                 " (bearer token required)" if token else "")
        while not stopping.wait(3600):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    return 0


def _write_atomically(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
