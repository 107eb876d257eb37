"""Where the boxes' uploads are: an S3-compatible bucket, or a plain directory (what the
HTTPS receiver or nginx's WebDAV writes). Both give the same two things: a listing of
objects (key, size, a version tag) and an object's bytes.

Keys are `{office}/{YYYY-MM-DD}/{item key}/{file}` under the source's root (a bucket and
prefix, or a folder). A listing names an office's days from a given day on (the incremental
run: what can be new since the last one) or all of them (the full sweep); the ingest
(ingest.py) compares it with what it has read.

The S3 side signs with the box's own SigV4 code (lawline.sync.s3.sign) over http.client,
one keep-alive connection per thread, path-style URLs (what rclone serve s3, Garage,
SeaweedFS and Ceph RGW all take).
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import os
import re
import socket
import ssl
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from lawline.sync.s3 import sign

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_OFFICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
READ_LIMIT = 256 * 1024 + 1     # a record larger than records.MAX_RECORD_BYTES is refused


class SourceError(OSError):
    """The source cannot be listed or read (unreachable, refused, wrong credentials): the
    run stops and is tried again; nothing is marked read."""


@dataclass(frozen=True)
class Obj:
    key: str        # office/day/item/file, relative to the source's root
    size: int
    tag: str        # ETag (S3) or mtime+size (directory): a changed object has a new tag

    @property
    def office(self):
        return self.key.split("/", 1)[0]

    @property
    def day(self):
        parts = self.key.split("/")
        return parts[1] if len(parts) > 1 else ""


class DirSource:
    """A folder holding one folder per office (the receiver's or nginx's upload root)."""

    def __init__(self, root, skip=()):
        self.root = Path(root)
        self.skip = set(skip)
        if not self.root.is_dir():
            raise SourceError(f"the upload folder {self.root} does not exist")

    def describe(self):
        return f"folder {self.root}"

    def offices(self):
        return sorted(e.name for e in os.scandir(self.root)
                      if e.is_dir(follow_symlinks=False) and _OFFICE.fullmatch(e.name)
                      and e.name not in self.skip)

    def days(self, office):
        try:
            return sorted(e.name for e in os.scandir(self.root / office)
                          if e.is_dir(follow_symlinks=False) and _DAY.fullmatch(e.name))
        except FileNotFoundError:
            return []

    def list(self, office, since_day=None):
        """Every object of `office` in day folders from `since_day` on (all: None)."""
        for day in self.days(office):
            if since_day and day < since_day:
                continue
            base = self.root / office / day
            try:
                items = list(os.scandir(base))
            except FileNotFoundError:
                continue
            for item in items:
                if not item.is_dir(follow_symlinks=False):
                    # a symlink or a stray file is listed as it is, and refused when read
                    yield Obj(f"{office}/{day}/{item.name}", 0, "stray")
                    continue
                for f in os.scandir(item.path):
                    if f.name.startswith("."):        # a receiver's temporary name
                        continue
                    try:
                        st = f.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    tag = f"{st.st_mtime_ns}-{st.st_size}" if f.is_file(
                        follow_symlinks=False) else "not-a-file"
                    yield Obj(f"{office}/{day}/{item.name}/{f.name}", st.st_size, tag)

    def read(self, obj):
        path = self.root / obj.key
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            return None, f"cannot open: {exc.strerror}"
        with os.fdopen(fd, "rb") as f:
            return f.read(READ_LIMIT), None

    def close(self):
        pass


class S3Source:
    """A bucket (and prefix) on an S3-compatible server."""

    def __init__(self, endpoint, bucket, access_key, secret, prefix="", region="us-east-1",
                 timeout=30.0, cafile=None, skip=()):
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"S3 endpoint {endpoint!r} must be an http:// or https:// URL")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.region = region
        self.timeout = timeout
        self.skip = set(skip)
        self._key, self._secret = access_key, secret
        self._netloc, self._host, self._port = parts.netloc, parts.hostname, parts.port
        self._ssl = ssl.create_default_context(cafile=cafile) if parts.scheme == "https" \
            else None
        self._local = threading.local()

    def describe(self):
        return f"bucket {self.bucket} on {self.endpoint}" + (f" under {self.prefix}"
                                                              if self.prefix else "")

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._ssl is not None:
                conn = http.client.HTTPSConnection(self._host, self._port,
                                                   timeout=self.timeout, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _request(self, uri, query="", limit=None):
        headers = sign("GET", uri, {"Host": self._netloc}, hashlib.sha256(b"").hexdigest(),
                       access_key=self._key, secret=self._secret, region=self.region,
                       now=datetime.datetime.now(datetime.timezone.utc), query=query)
        url = uri + ("?" + query if query else "")
        for attempt in (1, 2):     # a keep-alive link the server closed: once more, fresh
            conn = self._conn()
            try:
                conn.request("GET", url, headers=headers)
                response = conn.getresponse()
                body = response.read() if limit is None else response.read(limit)
                if limit is not None and response.length:
                    conn.close()        # the rest is not wanted: drop the link
                    self._local.conn = None
                return response.status, body
            except (http.client.HTTPException, ConnectionError, socket.timeout,
                    TimeoutError, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise SourceError(f"{self.describe()}: {type(exc).__name__}: "
                                      f"{exc}") from None

    def _list(self, prefix, delimiter=None, start_after=None):
        token = None
        while True:
            params = {"list-type": "2", "max-keys": "1000", "prefix": prefix}
            if delimiter:
                params["delimiter"] = delimiter
            if start_after:
                params["start-after"] = start_after
            if token:
                params["continuation-token"] = token
            query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                             for k, v in sorted(params.items()))
            status, body = self._request("/" + quote(self.bucket, safe=""), query)
            if status != 200:
                raise SourceError(f"{self.describe()}: listing {prefix!r} answered HTTP "
                                  f"{status}: {_s3_error(body)}")
            root = ET.fromstring(body)
            ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
            for c in root.findall(ns + "Contents"):
                yield "key", (c.findtext(ns + "Key"), int(c.findtext(ns + "Size") or 0),
                              (c.findtext(ns + "ETag") or "").strip('"'))
            for p in root.findall(ns + "CommonPrefixes"):
                yield "prefix", p.findtext(ns + "Prefix")
            if root.findtext(ns + "IsTruncated") != "true":
                return
            token = root.findtext(ns + "NextContinuationToken")
            if not token:
                return

    def offices(self):
        found = []
        for what, value in self._list(self.prefix, "/"):
            if what == "prefix":
                name = value[len(self.prefix):].rstrip("/")
                if _OFFICE.fullmatch(name) and name not in self.skip:
                    found.append(name)
        return sorted(found)

    def list(self, office, since_day=None):
        base = f"{self.prefix}{office}/"
        start = f"{base}{since_day}" if since_day else None
        for _what, (key, size, etag) in self._list(base, start_after=start):
            yield Obj(key[len(self.prefix):], size, etag)

    def read(self, obj):
        uri = "/" + quote(self.bucket, safe="") + "/" + quote(self.prefix + obj.key,
                                                               safe="/-_.~")
        status, body = self._request(uri, limit=READ_LIMIT)
        if status == 404:
            return None, "gone from the bucket before it was read"
        if status != 200:
            raise SourceError(f"{self.describe()}: reading {obj.key!r} answered HTTP "
                              f"{status}: {_s3_error(body)}")
        return body, None

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()


def _s3_error(body):
    text = body.decode("utf-8", "replace")
    found = re.findall(r"<(Code|Message)>([^<]*)</", text)
    return " ".join(v for _, v in found) or text[:200].strip() or "no details"
