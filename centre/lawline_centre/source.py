"""Where the boxes' uploads are: an S3-compatible bucket, or a plain directory (what the
HTTPS receiver or nginx's WebDAV writes). Both give the same two things: a listing of
objects (key, size, a version tag) and an object's bytes.

Keys are `{office}/{YYYY-MM-DD}/{item key}/{file}` under the source's root (a bucket and
prefix, or a folder). A listing names an office's days from a given day on (the incremental
run: what can be new since the last one) or all of them (the full sweep); the ingest
(ingest.py) compares it with what it has read.

The S3 side signs with the box's own SigV4 code (lawline.sync.s3.sign), path-style URLs
(what rclone serve s3, Garage, SeaweedFS and Ceph RGW all take). A listing is a few requests
per office (1,000 keys each) over http.client; the objects themselves, one GET each (the
boxes' layout), go through libcurl's multi interface (pycurl): many GETs at once on
keep-alive connections from one thread, the HTTP work in C with the GIL released. That is a
third of what http.client costs per GET in Python, and the ingest's GETs are most of its
work (a year of 100 counties is 780,000 of them).
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import io
import os
import re
import socket
import ssl
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pycurl
from lawline.sync.s3 import sign

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_OFFICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
READ_LIMIT = 256 * 1024 + 1     # a record larger than records.MAX_RECORD_BYTES is refused
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


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

    def read_many(self, objs, parallel=16):
        """[(bytes, None) or (None, why)] of each object in turn, `parallel` files at once
        (a cold disk answers several reads sooner than one after the other)."""
        if len(objs) < 2 or parallel < 2:
            return [self.read(obj) for obj in objs]
        with ThreadPoolExecutor(min(parallel, 8), thread_name_prefix="centre-file") as pool:
            return list(pool.map(self.read, objs))

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
        self._cafile = cafile
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
        return self.read_many([obj], 1)[0]

    def read_many(self, objs, parallel=16):
        """[(bytes, None) or (None, why)] of each object in turn: `parallel` GETs at once
        (libcurl's multi interface on keep-alive connections). An object gone (404) or over
        the size limit is refused by itself; a server that cannot be reached or refuses the
        request (after one more try of that object) stops the run: SourceError."""
        multi, free = self._multi(parallel)
        out = [None] * len(objs)
        todo = list(range(len(objs) - 1, -1, -1))   # popped from the end: in order
        tries = [0] * len(objs)
        active = 0
        while todo or active:
            while todo and free:
                i = todo.pop()
                tries[i] += 1
                self._start(multi, free.pop(), i, objs[i])
                active += 1
            while True:
                ret, _running = multi.perform()
                if ret != pycurl.E_CALL_MULTI_PERFORM:
                    break
            while True:
                queued, done, failed = multi.info_read()
                for curl in done:
                    multi.remove_handle(curl)
                    free.append(curl)
                    active -= 1
                    out[curl.index] = self._answer(objs[curl.index],
                                                   curl.getinfo(pycurl.RESPONSE_CODE),
                                                   curl.body.getvalue())
                for curl, errno, message in failed:
                    multi.remove_handle(curl)
                    free.append(curl)
                    active -= 1
                    i = curl.index
                    if errno == pycurl.E_FILESIZE_EXCEEDED:
                        out[i] = None, (f"record of more than {READ_LIMIT - 1} bytes "
                                        "(the server's size)")
                    elif tries[i] < 2:
                        todo.append(i)              # a dropped keep-alive link: once more
                    else:
                        self._drop_multi()
                        raise SourceError(f"{self.describe()}: reading {objs[i].key!r}: "
                                          f"{message or errno}")
                if not queued:
                    break
            if active:
                multi.select(1.0)
        return out

    def _answer(self, obj, status, body):
        if status == 404:
            return None, "gone from the bucket before it was read"
        if status != 200:
            self._drop_multi()
            raise SourceError(f"{self.describe()}: reading {obj.key!r} answered HTTP "
                              f"{status}: {_s3_error(body)}")
        return body, None

    def _start(self, multi, curl, index, obj):
        uri = "/" + quote(self.bucket, safe="") + "/" + quote(self.prefix + obj.key,
                                                               safe="/-_.~")
        headers = sign("GET", uri, {"Host": self._netloc}, _EMPTY_SHA256,
                       access_key=self._key, secret=self._secret, region=self.region,
                       now=datetime.datetime.now(datetime.timezone.utc))
        curl.setopt(pycurl.URL, self.endpoint + uri)
        curl.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in headers.items()])
        curl.index = index
        curl.body = io.BytesIO()
        curl.setopt(pycurl.WRITEDATA, curl.body)
        multi.add_handle(curl)

    def _multi(self, parallel):
        """This thread's libcurl multi handle and its easy handles (kept between calls, so
        their connections stay open)."""
        state = getattr(self._local, "multi", None)
        if state is None or len(state[1]) != parallel:
            self._drop_multi()
            multi = pycurl.CurlMulti()
            multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, parallel)
            state = multi, [self._easy() for _ in range(parallel)]
            self._local.multi = state
        return state

    def _easy(self):
        curl = pycurl.Curl()
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.PROXY, "")              # as http.client: no proxy from the env
        curl.setopt(pycurl.CONNECTTIMEOUT, max(1, int(self.timeout)))
        curl.setopt(pycurl.TIMEOUT, max(1, int(self.timeout)))
        curl.setopt(pycurl.MAXFILESIZE, READ_LIMIT - 1)
        if self._ssl is not None:
            cafile = self._cafile or ssl.get_default_verify_paths().cafile
            if cafile:
                curl.setopt(pycurl.CAINFO, str(cafile))
            capath = ssl.get_default_verify_paths().capath
            if not self._cafile and capath:
                curl.setopt(pycurl.CAPATH, capath)
        return curl

    def _drop_multi(self):
        state = getattr(self._local, "multi", None)
        self._local.multi = None
        if state is not None:
            multi, handles = state
            for curl in handles:
                try:
                    multi.remove_handle(curl)
                except pycurl.error:
                    pass
                curl.close()
            multi.close()

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._drop_multi()


def _s3_error(body):
    text = body.decode("utf-8", "replace")
    found = re.findall(r"<(Code|Message)>([^<]*)</", text)
    return " ".join(v for _, v in found) or text[:200].strip() or "no details"
