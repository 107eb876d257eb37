"""Reading a form's body only after the request may send one, and never more than its cap.

The page's guard (app.py) looks at the session and the CSRF token (carried in the form's
action URL, so it is known before the body) first; only then is the body read, here, and
counted as it streams: a request that says it is larger than its cap (Content-Length) is
answered without reading a byte of it, and one that streams past the cap (chunked) is cut
off there. What was read stays in memory, the cap bounds it; a file part is parsed into
memory too (the parser's spill-over file is never made), so nothing lands in the temporary
folder (the image's /tmp is a 128 MB tmpfs).

Caps are per route: log-in (the one form a stranger may send) is tiny.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.datastructures import FormData, Headers
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

Message = MutableMapping[str, Any]          # as starlette.types names an ASGI message
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

KIB = 1024
LOGIN_CAP = 2 * KIB            # a name, a password (at most 256), where to go next
FORM_CAP = 16 * KIB            # a case action, a new account: a few short fields
EXPIRED_CAP = 16 * KIB         # a form sent after its session ended, shown back as typed
UPLOAD_CAP = 2 * KIB * KIB + 64 * KIB   # the rota sheet (2 MB) and the multipart around it
MAX_FIELDS = 32


class TooLarge(Exception):
    def __init__(self, cap: int, seen: int | None) -> None:
        super().__init__(f"body over {cap} bytes ({seen} seen)")
        self.cap, self.seen = cap, seen


class BadForm(Exception):
    """Not a form this page can read (malformed multipart, too many fields)."""


class _InMemoryParts(MultiPartParser):
    # a file part stays in memory up to the cap; the body is never larger than that anyway
    spool_max_size = UPLOAD_CAP + 1


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The Content-Length a request declares, or None (chunked, or none given)."""
    value = headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 19 else -1


def too_large_before_reading(headers: Mapping[str, str], cap: int) -> bool:
    """True when the request says, before sending it, that its body is over `cap` (or
    gives a Content-Length that is no number)."""
    length = declared_length(headers)
    return length is not None and (length < 0 or length > cap)


async def read(receive: Receive, cap: int) -> bytes:
    """The whole body from an ASGI `receive`, or TooLarge as soon as more than `cap` bytes
    came (the rest is never read)."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadForm("the browser went away while sending the form")
        chunk: bytes = message.get("body", b"")
        seen += len(chunk)
        if seen > cap:
            raise TooLarge(cap, seen)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def form(headers: Headers, receive: Receive, cap: int, files: bool = False) -> FormData:
    """The form in a request's body, read within `cap`. Multipart only where a file may
    come (`files`); any other content type is an empty form."""
    if too_large_before_reading(headers, cap):
        raise TooLarge(cap, declared_length(headers))
    kind = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data") or \
            (kind == "multipart/form-data" and not files):
        return FormData()
    raw = await read(receive, cap)

    async def stream() -> AsyncGenerator[bytes, None]:
        yield raw
        yield b""
    try:
        if kind == "multipart/form-data":
            return await _InMemoryParts(headers, stream(), max_files=1, max_fields=MAX_FIELDS,
                                        max_part_size=cap).parse()
        return await FormParser(headers, stream(), max_fields=MAX_FIELDS,
                                max_part_size=cap).parse()
    except (MultiPartException, KeyError, ValueError) as exc:
        raise BadForm(getattr(exc, "message", str(exc))) from None


def _says_body(scope: Mapping[str, Any]) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class CloseUnread:
    """ASGI middleware: a response to a request whose body was not read to its end (a
    stranger's, a wrong token's, an unknown page's) says "Connection: close", so the server
    stops receiving it instead of taking in, and throwing away, the rest. The one exception
    is a known person's body over its cap (the guard sets request.state.drain): the server
    throws the rest away as it comes, and the browser, still sending, gets the 413 page
    rather than a reset connection."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        ended = {"body": not _says_body(scope)}

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                ended["body"] = True
            return message

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not ended["body"] and \
                    not scope.get("state", {}).get("drain"):
                message = dict(message, headers=[
                    *[(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"],
                    (b"connection", b"close")])
            await send(message)
        await self.app(scope, counted, closing)
