"""S3-compatible object storage: PUT Object with AWS Signature Version 4.

Written with hashlib and hmac rather than boto3: boto3 and botocore are ~100 MB of Python on
a Pi's SD card for one signed request type, and their import alone takes seconds there. The
signing follows the public SigV4 description (canonical request, string to sign, HMAC key
chain); the tests check it against `rclone serve s3`, which refuses a wrong signature.

Objects go to `{prefix}{office}/{day}/{key}/{file}` in the bucket (path-style requests,
which every S3-compatible server takes). A PUT of the same object replaces it, so a retried
upload leaves one object. The body's MD5 goes in Content-MD5, so the server refuses a body
damaged on the way, and the SHA-256 is signed.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.client
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from lawline import __version__
from lawline.sync.http import CONTENT_TYPES, UploadError, remote_name

if TYPE_CHECKING:
    from lawline.sync.outbox import DueItem

ALGORITHM = "AWS4-HMAC-SHA256"
_BLOCK = 64 * 1024


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str, service: str = "s3") -> bytes:
    """The SigV4 key for one day, region and service (an HMAC chain from the secret)."""
    key = _hmac(("AWS4" + secret).encode("utf-8"), day)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def sign(method: str, path: str, headers: dict[str, str], payload_hash: str, *,
         access_key: str, secret: str, region: str, now: datetime.datetime,
         query: str = "") -> dict[str, str]:
    """Headers for a signed request: `headers` plus x-amz-date, x-amz-content-sha256 and
    Authorization. `path` is already URI-encoded; `headers` must include Host."""
    stamp = now.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    signed = dict(headers)
    signed["x-amz-date"] = stamp
    signed["x-amz-content-sha256"] = payload_hash
    canonical_headers = {k.lower(): " ".join(str(v).split()) for k, v in signed.items()}
    names = sorted(canonical_headers)
    canonical = "\n".join([
        method, path, query,
        "".join(f"{n}:{canonical_headers[n]}\n" for n in names),
        ";".join(names), payload_hash])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    signature = hmac.new(signing_key(secret, day, region), to_sign.encode("utf-8"),
                         hashlib.sha256).hexdigest()
    signed["Authorization"] = (f"{ALGORITHM} Credential={access_key}/{scope}, "
                               f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return signed


class S3Target:
    """One bucket on an S3-compatible server."""

    def __init__(self, name: str, endpoint: str, bucket: str, access_key: str, secret: str, *,
                 region: str = "us-east-1", prefix: str = "", timeout: float = 30.0,
                 cafile: str | Path | None = None, layout: str = "{key}/{file}") -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"S3 target {name}: endpoint {endpoint!r} must be an http:// or "
                             "https:// URL with a host")
        if parts.path.strip("/") or parts.query:
            raise ValueError(f"S3 target {name}: endpoint must be the server only; the bucket "
                             "and prefix are separate options")
        self.name = name
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.region = region
        self.timeout = float(timeout)
        self.layout = layout
        self._access_key = access_key
        self._secret = secret
        self._host = parts.hostname
        self._port = parts.port
        self._netloc = parts.netloc
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            try:
                self._ssl = ssl.create_default_context(cafile=str(cafile) if cafile else None)
            except (OSError, ssl.SSLError) as e:
                raise ValueError(f"S3 target {name}: cannot use the CA file {cafile}: "
                                 f"{getattr(e, 'strerror', None) or e}") from None

    def __repr__(self) -> str:
        return f"S3Target({self.name!r}, {self.endpoint}/{self.bucket}/{self.prefix})"

    def object_key(self, key: str, filename: str, day: str = "") -> str:
        return self.prefix + self.layout.format(key=key, file=filename, day=day or "undated")

    def put_item(self, item: DueItem) -> None:
        files = [(remote_name(n, p), Path(p)) for n, p in item.files.items() if n != "record"]
        if "record" in item.files:
            files.append((remote_name("record", item.files["record"]),
                          Path(item.files["record"])))
        for filename, path in files:
            self.put_object(self.object_key(item.key, filename, getattr(item, "day", "")),
                            path, item.key)

    def put_object(self, object_key: str, path: Path, item_key: str = "") -> None:
        data = Path(path).read_bytes()  # a missing spool file raises OSError: a local fault
        uri = "/" + quote(self.bucket, safe="") + "/" + quote(object_key, safe="/-_.~")
        url = self.endpoint + uri
        headers = {
            "Host": self._netloc,
            "Content-Type": CONTENT_TYPES.get(Path(path).suffix.lower(),
                                              "application/octet-stream"),
            "Content-Length": str(len(data)),
            "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode("ascii"),
        }
        if item_key:
            headers["x-amz-meta-lawline-key"] = item_key
        headers = sign("PUT", uri, headers, hashlib.sha256(data).hexdigest(),
                       access_key=self._access_key, secret=self._secret, region=self.region,
                       now=datetime.datetime.now(datetime.timezone.utc))
        headers["User-Agent"] = f"lawline/{__version__}"
        conn = self._connect()
        try:
            conn.request("PUT", uri, body=data, headers=headers)
            response = conn.getresponse()
            body = response.read(64 * 1024)
            status = response.status
            etag = (response.getheader("ETag") or "").strip('"')
        except (socket.timeout, TimeoutError):
            raise UploadError(self.name, url, f"no answer from {url} within "
                              f"{self.timeout:g} s") from None
        except ssl.SSLError as e:
            raise UploadError(self.name, url, f"TLS failure with {url}: {e.reason or e}") \
                from None
        except ConnectionRefusedError:
            raise UploadError(self.name, url, f"connection refused by {url}") from None
        except (OSError, http.client.HTTPException) as e:
            raise UploadError(self.name, url, f"network error with {url}: "
                              f"{getattr(e, 'strerror', None) or e or type(e).__name__}") \
                from None
        finally:
            conn.close()
        if not 200 <= status < 300:
            detail = _s3_error(body)
            # A missing bucket fails every item alike: wait on the target, not per item.
            raise UploadError(self.name, url, f"HTTP {status} from {url}: {detail}",
                              status=status,
                              whole_target=True if "NoSuchBucket" in detail else None)
        if len(etag) == 32 and etag != hashlib.md5(data).hexdigest():
            raise UploadError(self.name, url, f"{url} stored different bytes (ETag {etag})",
                              status=None, whole_target=False)

    def make_bucket(self) -> None:
        """Create the bucket (an installer's step, and the tests'); one that exists is fine."""
        uri = "/" + quote(self.bucket, safe="")
        headers = sign("PUT", uri, {"Host": self._netloc, "Content-Length": "0"},
                       hashlib.sha256(b"").hexdigest(), access_key=self._access_key,
                       secret=self._secret, region=self.region,
                       now=datetime.datetime.now(datetime.timezone.utc))
        conn = self._connect()
        try:
            conn.request("PUT", uri, body=b"", headers=headers)
            response = conn.getresponse()
            body = response.read(64 * 1024)
        finally:
            conn.close()
        if not 200 <= response.status < 300 and b"BucketAlreadyOwnedByYou" not in body:
            raise UploadError(self.name, self.endpoint + uri, f"cannot create bucket "
                              f"{self.bucket}: HTTP {response.status} {_s3_error(body)}",
                              status=response.status)

    def _connect(self) -> http.client.HTTPConnection:
        if self._ssl is not None:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                               context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)


def _s3_error(body: bytes) -> str:
    """The <Code> and <Message> of an S3 error document, in one line."""
    text = body.decode("utf-8", "replace")
    found = []
    for tag in ("Code", "Message"):
        start, end = text.find(f"<{tag}>"), text.find(f"</{tag}>")
        if 0 <= start < end:
            found.append(text[start + len(tag) + 2:end])
    return " ".join(found) or text[:200].strip() or "no details"
