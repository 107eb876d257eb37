"""The centre's settings: one TOML file (/etc/lawline-centre/centre.toml), read strictly.

    [centre]
    name = "某某市 0148 法律服务协调中心"
    data_dir = "/var/lib/lawline-centre"   # the DuckDB file, the page's accounts, reports
    silent_hours = 26                      # a box not heard from this long is listed silent
    ingest_every_s = 60                    # the page ingests this often while it runs
    full_every_hours = 24                  # and lists every day of every box this often
    rescan_days = 7                        # otherwise each box's days from this long before
                                           # the newest it has

    [source]                               # where the boxes upload
    kind = "s3"                            # or "dir"
    endpoint = "http://127.0.0.1:9000"     # kind s3
    bucket = "lawline"
    prefix = ""
    region = "us-east-1"
    access_key = "..."
    secret_file = "/etc/lawline-centre/s3.secret"
    path = "/srv/upload"                   # kind dir: the folder holding one folder per box

    [store]
    engine = "duckdb"                      # or "ducklake"
    path = ""                              # duckdb: default data_dir/centre.duckdb
    catalog = ""                           # ducklake: "postgres:dbname=centre host=..."
    data_path = ""                         # ducklake: s3://bucket/_centre/lake/ or a folder

    [web]
    bind = "0.0.0.0"
    port = 8444
    session_minutes = 30
    cert_file = ""
    key_file = ""

    [mail]                                 # the weekly/monthly report and the overdue list
    host = "127.0.0.1"
    port = 587
    security = "starttls"                  # or "tls", or "none" (only to 127.0.0.1)
    username = ""
    password_file = ""
    ca_file = ""
    sender = "centre@example.org"
    leadership = ["..."]                   # the weekly and monthly report
    coordinator = ["..."]                  # the daily overdue list

    [[county]]                             # names the page shows (default: the box's id)
    id = "county-001"
    name = "青山县"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace

SCHEMA = {
    "centre": {"name": "0148 法律服务协调中心", "data_dir": "/var/lib/lawline-centre",
               "silent_hours": 26.0, "ingest_every_s": 60.0, "full_every_hours": 24.0,
               "rescan_days": 7},
    "source": {"kind": "dir", "endpoint": "", "bucket": "", "prefix": "",
               "region": "us-east-1", "access_key": "", "secret_file": "", "ca_file": "",
               "path": ""},
    "store": {"engine": "duckdb", "path": "", "catalog": "", "data_path": ""},
    "web": {"bind": "127.0.0.1", "port": 8444, "session_minutes": 30.0, "max_failures": 5,
            "address_failures": 20, "cert_file": "", "key_file": ""},
    "mail": {"host": "", "port": 587, "security": "starttls", "username": "",
             "password_file": "", "ca_file": "", "sender": "", "leadership": [],
             "coordinator": [], "timeout": 30.0},
}


class CentreConfigError(ValueError):
    """A setting that cannot work; the message names the section and option."""


def load(path):
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CentreConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CentreConfigError(f"{path} is not valid TOML: {exc}") from None
    return from_dict(data, base=path.parent)


def from_dict(data, base=Path(".")):
    unknown = set(data) - set(SCHEMA) - {"county"}
    if unknown:
        raise CentreConfigError(f"unknown section(s): {', '.join(sorted(unknown))}")
    sections = {}
    for name, defaults in SCHEMA.items():
        given = data.get(name, {})
        if not isinstance(given, dict):
            raise CentreConfigError(f"[{name}] must be a table")
        extra = set(given) - set(defaults)
        if extra:
            raise CentreConfigError(f"[{name}]: unknown option(s) {', '.join(sorted(extra))}")
        values = {}
        for option, default in defaults.items():
            value = given.get(option, default)
            if isinstance(default, float) and isinstance(value, int) and \
                    not isinstance(value, bool):
                value = float(value)
            if type(value) is not type(default):
                raise CentreConfigError(f"option '{option}' in section [{name}] must be "
                                        f"{type(default).__name__}, not {value!r}")
            values[option] = value
        sections[name] = SimpleNamespace(**values)
    counties = data.get("county", [])
    if not isinstance(counties, list) or not all(
            isinstance(c, dict) and isinstance(c.get("id"), str) for c in counties):
        raise CentreConfigError("[[county]] tables need an id (the box's [office] id)")
    sections["counties"] = {c["id"]: str(c.get("name") or c["id"]) for c in counties}
    cfg = SimpleNamespace(**sections)
    if cfg.source.kind not in ("s3", "dir"):
        raise CentreConfigError("option 'kind' in section [source] must be \"s3\" or \"dir\"")
    if cfg.store.engine not in ("duckdb", "ducklake"):
        raise CentreConfigError("option 'engine' in section [store] must be \"duckdb\" or "
                                "\"ducklake\"")
    if cfg.store.engine == "ducklake" and not (cfg.store.catalog and cfg.store.data_path):
        raise CentreConfigError("[store] engine \"ducklake\" needs 'catalog' and 'data_path'")
    if cfg.source.kind == "s3" and not (cfg.source.endpoint and cfg.source.bucket):
        raise CentreConfigError("[source] kind \"s3\" needs 'endpoint' and 'bucket'")
    if cfg.source.kind == "dir" and not cfg.source.path:
        raise CentreConfigError("[source] kind \"dir\" needs 'path'")
    for section, option in (("source", "secret_file"), ("mail", "password_file"),
                            ("source", "path"), ("centre", "data_dir"), ("store", "path"),
                            ("store", "catalog_file")):
        obj = getattr(cfg, section)
        value = getattr(obj, option, "")
        if value and not value.startswith(("s3:", "postgres:")) and not Path(value).is_absolute():
            setattr(obj, option, str(base / value))
    return cfg


def secret(path, what):
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CentreConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None


def open_source(cfg):
    from .source import DirSource, S3Source
    s = cfg.source
    skip = {"_centre"}
    if s.kind == "dir":
        return DirSource(s.path, skip=skip)
    return S3Source(s.endpoint, s.bucket, s.access_key,
                    secret(s.secret_file, "[source] secret_file"), prefix=s.prefix,
                    region=s.region, cafile=s.ca_file or None, skip=skip)


def open_store(cfg):
    from .store import Store
    st = cfg.store
    if st.engine == "duckdb":
        return Store.duckdb(st.path or Path(cfg.centre.data_dir) / "centre.duckdb")
    s3 = None
    if st.data_path.startswith("s3://"):
        s = cfg.source
        s3 = {"endpoint": s.endpoint, "access_key": s.access_key,
              "secret": secret(s.secret_file, "[source] secret_file"), "region": s.region}
    return Store.ducklake(st.catalog, st.data_path, s3=s3)
