"""Upload target: HTTP PUT of each file of an item to `{base_url}/{layout}`.

The box's layout is `{day}/{key}/{file}` under `{url}/{office id}` (WebDAV-style folders by
county and date: `https://up.example/dav/county-0148/2026-01-12/260112001/voicemail.wav`);
`{key}/{file}` alone is the default for a bare target.

The upstream is WebDAV-style (nginx `dav_methods PUT`, see shared reference/test-servers.md):
PUT stores an object at its path, and a second PUT of the same path replaces it, so
at-least-once delivery leaves exactly one object per file. The `Idempotency-Key` header says
the same to upstreams that deduplicate by header instead of by path.

Media files go first and `record.json` last, so an upstream that sees the record can rely on
the media being there already.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from lawline import __version__
from lawline.errors import LawlineError

if TYPE_CHECKING:
    from lawline.sync.outbox import DueItem

CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
_TOKEN_CHARS = frozenset(chr(c) for c in range(0x21, 0x7f))
_BLOCK = 64 * 1024
_KEEP_BODY = 64 * 1024  # an error body larger than this is not worth reading to reuse the link


class UploadError(LawlineError, IOError):
    """A target did not accept an item. `status` is the HTTP status, or None when no HTTP
    answer came (refused, unreachable, timed out, TLS failure). The message names the target
    and the URL and never carries the token."""

    def __init__(self, target: str, url: str, reason: str, status: int | None = None,
                 whole_target: bool | None = None) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.url = url
        self.reason = reason
        self.status = status
        # True: the target as a whole is failing (wait before trying the next item); False:
        # only this item is refused; None: judge by the HTTP status (sync/worker.py).
        self.whole_target = whole_target


def remote_name(name: str, path: Path) -> str:
    """The upstream file name of an item file: its outbox name plus the spool file's suffix
    ("voicemail" + voicemail.wav -> voicemail.wav, "record" + 260112001.json -> record.json)."""
    suffix = Path(path).suffix
    return name if not suffix or name.endswith(suffix) else name + suffix


class HttpPutTarget:
    """One upstream that takes items by HTTP(S) PUT."""

    def __init__(self, name: str, base_url: str, token: str | None = None,
                 timeout: float = 20.0, *, cafile: str | Path | None = None,
                 username: str | None = None, password: str | None = None,
                 layout: str = "{key}/{file}") -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upload target {name}: base_url {base_url!r} must be an http:// "
                             "or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"upload target {name}: base_url must not carry credentials; "
                             "give the token separately")
        if parts.query or parts.fragment:
            raise ValueError(f"upload target {name}: base_url must not have a query or fragment")
        if token and not _TOKEN_CHARS.issuperset(token):
            # http.client would reject such a header with the value in its message; refuse
            # here with a message that does not carry it.
            raise ValueError(f"upload target {name}: the token must be printable ASCII without "
                             "spaces")
        if timeout <= 0:
            raise ValueError(f"upload target {name}: timeout must be above 0 seconds")
        if token and username:
            raise ValueError(f"upload target {name}: give a token or a user name, not both")
        if "{key}" not in layout or "{file}" not in layout:
            raise ValueError(f"upload target {name}: layout must contain {{key}} and {{file}}")
        self.layout = layout
        self._auth: str | None = None
        if token:
            self._auth = f"Bearer {token}"
        elif username:
            pair = f"{username}:{password or ''}".encode("utf-8")
            self._auth = "Basic " + base64.b64encode(pair).decode("ascii")
        self.name = name
        self.base_url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.timeout = float(timeout)
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            # Certificates are always checked; `cafile` adds the upstream's own CA (a
            # prefecture CA not in the system store) instead of turning checks off.
            try:
                self._ssl = ssl.create_default_context(cafile=str(cafile) if cafile else None)
            except (OSError, ssl.SSLError) as e:
                raise ValueError(f"upload target {name}: cannot use the CA file {cafile}: "
                                 f"{getattr(e, 'strerror', None) or e}") from None

    def __repr__(self) -> str:
        # The token stays out of reprs too: they end up in logs and tracebacks.
        return f"HttpPutTarget({self.name!r}, {self.base_url!r})"

    def relative(self, key: str, filename: str, day: str = "") -> str:
        return self.layout.format(key=quote(key, safe=""), file=quote(filename, safe=""),
                                  day=quote(day or "undated", safe=""))

    def url_for(self, key: str, filename: str, day: str = "") -> str:
        return f"{self.base_url}/{self.relative(key, filename, day)}"

    def put_item(self, item: DueItem) -> None:
        """PUT every file of `item` (a DueItem); return when upstream accepted all of them.

        Raises UploadError on an HTTP status other than 2xx or on a network failure, and
        OSError when a spool file cannot be read (a local fault, not an upstream one).
        """
        files = [(remote_name(name, path), Path(path)) for name, path in item.files.items()
                 if name != "record"]
        if "record" in item.files:
            files.append((remote_name("record", item.files["record"]), Path(item.files["record"])))
        conn = self._connect()
        try:
            for filename, path in files:
                self._put_file(conn, item, filename, path)
        finally:
            conn.close()

    def probe(self) -> int:
        """One HEAD of the base URL with the target's own CA and credentials (for `lawline
        check`): the HTTP status. Network and TLS failures raise UploadError."""
        headers = {"User-Agent": f"lawline/{__version__}"}
        if self._auth:
            headers["Authorization"] = self._auth
        conn = self._connect()
        try:
            conn.request("HEAD", self._prefix + "/", headers=headers)
            return conn.getresponse().status
        except (socket.timeout, TimeoutError):
            raise UploadError(self.name, self.base_url, f"no answer within {self.timeout:g} s") \
                from None
        except ssl.SSLError as e:
            raise UploadError(self.name, self.base_url, f"TLS failure: {e.reason or e}") from None
        except (OSError, http.client.HTTPException) as e:
            raise UploadError(self.name, self.base_url, _describe(e)) from None
        finally:
            conn.close()

    def _connect(self) -> http.client.HTTPConnection:
        if self._ssl is not None:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                               context=self._ssl, blocksize=_BLOCK)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout,
                                          blocksize=_BLOCK)

    def _put_file(self, conn: http.client.HTTPConnection, item: DueItem, filename: str,
                  path: Path) -> None:
        key, day = item.key, getattr(item, "day", "")
        url = self.url_for(key, filename, day)
        path_in_url = f"{self._prefix}/{self.relative(key, filename, day)}"
        headers = {
            "Content-Type": CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
            "Idempotency-Key": f"{key}/{filename}",
            "User-Agent": f"lawline/{__version__}",
        }
        if self._auth:
            headers["Authorization"] = self._auth
        with open(path, "rb") as body:  # a missing spool file raises here, as OSError
            headers["Content-Length"] = str(os.fstat(body.fileno()).st_size)
            try:
                try:
                    conn.request("PUT", path_in_url, body=body, headers=headers)
                except (BrokenPipeError, ConnectionResetError):
                    # The server may have answered early (401, 413) and stopped reading the
                    # body; its answer says more than the broken pipe, when it is there.
                    pass
                response = conn.getresponse()
                status, phrase = response.status, response.reason
                length = response.getheader("Content-Length")
                if length is not None and length.isdigit() and int(length) <= _KEEP_BODY:
                    response.read()
                else:
                    response.close()
                    conn.close()
            except (socket.timeout, TimeoutError):
                raise UploadError(self.name, url, f"no answer from {url} within "
                                  f"{self.timeout:g} s") from None
            except ssl.SSLError as e:
                raise UploadError(self.name, url, f"TLS failure with {url}: "
                                  f"{e.reason or e}") from None
            except ConnectionRefusedError:
                raise UploadError(self.name, url, f"connection refused by {url}") from None
            except (OSError, http.client.HTTPException) as e:
                raise UploadError(self.name, url, f"network error with {url}: "
                                  f"{_describe(e)}") from None
        if not 200 <= status < 300:
            status_text = f"HTTP {status} {phrase}" if phrase else f"HTTP {status}"
            raise UploadError(self.name, url, f"{status_text} from {url}", status=status)


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.gaierror):
        return f"cannot resolve host ({error.strerror or error})"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
