"""The centre's tables, on an engine someone else keeps: DuckDB in one file (the default), or
DuckLake (the catalog in PostgreSQL, the data as Parquet files in the same bucket as the
boxes' uploads) once one machine is not enough. The same SQL runs on both.

Extensions come from PyPI packages (duckdb-ext-httpfs, -ducklake, -postgres, pinned with
duckdb 1.4.4) and are LOADed from their installed files; automatic install and load are off,
so the centre never downloads anything at run time (an office network may have no
internet; tests/test_engines.py runs it with no network at all).

Tables (all times in office time, Asia/Shanghai, naive):
  objects      every object the ingest has seen: key, size, tag, kind, status (read,
               refused, media, other), why refused, the run that took it. Written in the
               same transaction as the rows an object gave, so an object is counted once.
  calls, cases_log, voicemails, health, audit, callbacks   one row per record (records.py)
  runs         one row per ingest run: when, what was listed, read, refused
The table `case_facts` is each case as its journal says (rebuilt after each run).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import duckdb

log = logging.getLogger("lawline.centre")

COLUMNS = {
    "objects": {"key": "VARCHAR", "office": "VARCHAR", "day": "VARCHAR", "size": "BIGINT",
                "tag": "VARCHAR", "kind": "VARCHAR", "status": "VARCHAR",
                "reason": "VARCHAR", "run": "BIGINT", "seen": "TIMESTAMP"},
    "calls": {"office": "VARCHAR", "day": "VARCHAR", "item": "VARCHAR", "format": "INTEGER",
              "call_id": "VARCHAR", "caller": "VARCHAR", "line": "VARCHAR",
              "started": "TIMESTAMP", "answered": "TIMESTAMP", "ended": "TIMESTAMP",
              "duration_s": "DOUBLE", "branch": "VARCHAR", "outcome": "VARCHAR",
              "bridged_to": "VARCHAR", "seconds_to_person": "DOUBLE", "bridged_s": "DOUBLE",
              "rating": "INTEGER", "case_number": "VARCHAR", "voicemail_s": "DOUBLE",
              "queued": "BOOLEAN", "legs": "INTEGER", "wait_s": "DOUBLE", "topic": "VARCHAR",
              "error": "VARCHAR", "wanted_person": "BOOLEAN", "abandoned_in": "VARCHAR",
              "abandoned_after_s": "DOUBLE", "callback": "VARCHAR",
              "ring_started": "TIMESTAMP"},
    "cases_log": {"office": "VARCHAR", "day": "VARCHAR", "item": "VARCHAR",
                  "format": "INTEGER", "case_number": "VARCHAR", "event": "VARCHAR",
                  "kind": "VARCHAR", "state": "VARCHAR", "caller": "VARCHAR",
                  "owner": "VARCHAR", "owner_name": "VARCHAR", "call_id": "VARCHAR",
                  "opened": "TIMESTAMP", "due": "TIMESTAMP", "at": "TIMESTAMP",
                  "steps": "INTEGER", "topic": "VARCHAR", "rating": "INTEGER",
                  "detail": "VARCHAR"},
    "voicemails": {"office": "VARCHAR", "day": "VARCHAR", "item": "VARCHAR",
                   "format": "INTEGER", "case_number": "VARCHAR", "caller": "VARCHAR",
                   "box": "VARCHAR", "call_id": "VARCHAR", "started": "TIMESTAMP",
                   "duration_s": "DOUBLE", "interrupted": "BOOLEAN", "short": "BOOLEAN"},
    "health": {"office": "VARCHAR", "day": "VARCHAR", "item": "VARCHAR", "format": "INTEGER",
               "at": "TIMESTAMP", "signal_dbm": "INTEGER", "signal_trend": "VARCHAR",
               "trunk": "BOOLEAN", "backlog": "INTEGER", "oldest_hours": "DOUBLE",
               "disk_free_mb": "DOUBLE", "reason": "VARCHAR"},
    "audit": {"office": "VARCHAR", "day": "VARCHAR", "item": "VARCHAR", "format": "INTEGER",
              "at": "TIMESTAMP", "user": "VARCHAR", "role": "VARCHAR", "action": "VARCHAR",
              "target": "VARCHAR"},
    "callbacks": {"office": "VARCHAR", "day": "VARCHAR", "item": "VARCHAR",
                  "format": "INTEGER", "caller": "VARCHAR", "listed_day": "DATE",
                  "calls": "INTEGER", "first_missed": "TIMESTAMP", "done": "TIMESTAMP",
                  "done_by": "VARCHAR", "how": "VARCHAR"},
    "runs": {"run": "BIGINT", "started": "TIMESTAMP", "ended": "TIMESTAMP",
             "full_sweep": "BOOLEAN", "source": "VARCHAR", "listed": "BIGINT",
             "new": "BIGINT", "refused": "BIGINT", "seconds": "DOUBLE"},
}
TABLES = {"call": "calls", "case": "cases_log", "voicemail": "voicemails", "health": "health",
          "audit": "audit", "callback": "callbacks"}



# Derived, rebuilt after every ingest run that brought case rows (Store.refresh): one row per
# case with its first opening, its first closing, its newest state, kind, owner and topic.
CASE_FACTS = """CREATE OR REPLACE TABLE {schema}case_facts AS
SELECT office, case_number,
       arg_max(kind, steps) AS kind, arg_max(state, steps) AS state,
       arg_max(coalesce(topic, ''), steps) AS topic, min(opened) AS opened,
       arg_max(due, steps) AS due,
       min("at") FILTER (WHERE state IN ('resolved', 'caller_informed')) AS closed_at,
       bool_or(state = 'caller_informed') AS informed,
       arg_max(owner, steps) AS owner, arg_max(owner_name, steps) AS owner_name,
       arg_max(caller, steps) AS caller, arg_max(call_id, steps) AS call_id,
       max(steps) AS steps
FROM cases_log GROUP BY office, case_number"""


class StoreError(RuntimeError):
    """The store cannot be opened or written (its file in use by another process, the
    PostgreSQL catalog unreachable, an extension missing)."""


def extension_file(name: str) -> Path:
    """The installed file of DuckDB extension `name` (PyPI duckdb-ext-NAME)."""
    import duckdb_ext
    base = Path(list(duckdb_ext.__path__)[0]) / "extensions" / f"v{duckdb.__version__}"
    platforms = sorted(base.glob("*")) if base.is_dir() else []
    for platform in platforms:
        found = platform / f"{name}.duckdb_extension"
        if found.is_file():
            return found
    raise StoreError(f"DuckDB extension {name!r} is not installed for duckdb "
                     f"{duckdb.__version__} (pip install duckdb-ext-{name.split('_')[0]} "
                     f"matching duckdb {duckdb.__version__}); looked in {base}")


def connect(path=":memory:", read_only=False):
    """A DuckDB connection that never downloads: automatic install and load are off, and the
    extension directory is a fresh empty folder nothing is ever written to."""
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false",
              "allow_community_extensions": "false"}
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        raise StoreError(f"the centre's database {path} cannot be opened: {exc} (is another "
                         "lawline-centre using it? the page ingests by itself while it runs)") \
            from None
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    return con


def load(con, *names):
    for name in names:
        con.execute(f"LOAD '{extension_file(name)}'")


class Store:
    """Open with `Store.duckdb(path)` or `Store.ducklake(catalog, data_path, s3=...)`."""

    def __init__(self, con, engine, where):
        self.con = con
        self.engine = engine
        self.where = where
        self._setup()

    @classmethod
    def duckdb(cls, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(connect(path), "duckdb", str(path))

    @classmethod
    def ducklake(cls, catalog, data_path, s3=None):
        """`catalog`: a PostgreSQL connection string ("dbname=centre host=/run/postgresql")
        or, for a lake on one machine, a DuckDB file path; `data_path`: where the Parquet
        files go, a folder or s3://bucket/prefix/ (then `s3` gives endpoint, key, secret,
        region)."""
        con = connect()
        load(con, "ducklake")
        if s3 is not None:
            load(con, "httpfs")
            endpoint = s3["endpoint"].split("://", 1)
            con.execute(
                "CREATE SECRET centre_s3 (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, "
                "URL_STYLE 'path', USE_SSL ?)",
                [s3["access_key"], s3["secret"], s3.get("region", "us-east-1"), endpoint[1],
                 endpoint[0] == "https"])
        if catalog.startswith("postgres:") or "dbname=" in catalog:
            load(con, "postgres_scanner")
            target = "ducklake:postgres:" + catalog.removeprefix("postgres:")
        else:
            target = "ducklake:" + catalog
        if not str(data_path).startswith("s3://"):
            Path(data_path).mkdir(parents=True, exist_ok=True)
        try:
            con.execute(f"ATTACH '{_quote(target)}' AS lake (DATA_PATH '{_quote(data_path)}')")
        except duckdb.Error as exc:
            raise StoreError(f"DuckLake catalog {catalog!r} cannot be attached: {exc}") \
                from None
        con.execute("USE lake")
        # derived tables live in this process's memory, rebuilt from the lake at start
        con.execute("SET search_path = 'lake.main,memory.main'")
        return cls(con, "ducklake", f"{catalog} (data in {data_path})")

    def _setup(self):
        for table, columns in COLUMNS.items():
            cols = ", ".join(f'"{c}" {t}' for c, t in columns.items())
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
            # a store made by an older centre: the columns added since, empty (NULL) in
            # the rows it holds
            have = {r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()}
            for column, kind in columns.items():
                if column not in have:
                    log.info("centre store: table %s gains column %s", table, column)
                    self.con.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {kind}')
        self.refresh()

    def refresh(self):
        """Rebuild the derived tables (case_facts) from the rows."""
        schema = "memory.main." if self.engine == "ducklake" else ""
        self.con.execute(CASE_FACTS.format(schema=schema))

    def cursor(self):
        """A cursor for one thread (the page's requests, the ingest's lister): the same
        database, with the same catalog in use."""
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'Asia/Shanghai'")
        if self.engine == "ducklake":
            cur.execute("USE lake")
            cur.execute("SET search_path = 'lake.main,memory.main'")
        return cur

    def close(self):
        self.con.close()

    # -- the ingest's side ------------------------------------------------------------------

    def known(self, office=None, since_day=None, cursor=None):
        """{key: (tag, status)} of objects already taken (of one office, from a day on);
        `cursor` for a thread of its own."""
        query, args = "SELECT key, tag, status FROM objects", []
        where = []
        if office is not None:
            where.append("office = ?")
            args.append(office)
        if since_day:
            where.append("day >= ?")
            args.append(since_day)
        if where:
            query += " WHERE " + " AND ".join(where)
        con = cursor if cursor is not None else self.con
        return {k: (t, s) for k, t, s in con.execute(query, args).fetchall()}

    def next_run(self):
        return (self.con.execute("SELECT max(run) FROM runs").fetchone()[0] or 0) + 1

    def write(self, run, objects, rows, before_commit=None):
        """One transaction: the rows `objects` gave (rows: {kind: [row, ...]}) and the
        objects themselves. An object taken before (a retried batch after a kill) is left
        out with its rows, so nothing is counted twice. `objects` rows carry "retry": True
        when they replace a refused object's earlier entry."""
        with tempfile.TemporaryDirectory(prefix=f"centre-batch-{os.getpid()}-") as tmp:
            files = {}
            for kind, table_rows in rows.items():
                if table_rows:
                    files[TABLES[kind]] = _ndjson(Path(tmp) / f"{kind}.json", table_rows)
            files["objects"] = _ndjson(Path(tmp) / "objects.json", objects)
            con = self.con
            con.execute("BEGIN TRANSACTION")
            try:
                retried = [o["key"] for o in objects if o.get("retry")]
                if retried:
                    con.execute("DELETE FROM objects WHERE key IN (SELECT unnest(?))",
                                [retried])
                con.execute(f"CREATE OR REPLACE TEMP TABLE batch_objects AS "
                            f"SELECT * FROM {_reader(files['objects'], 'objects')}")
                taken = con.execute("SELECT count(*) FROM batch_objects b JOIN objects o "
                                    "USING (key)").fetchone()[0]
                for table, path in files.items():
                    if table == "objects":
                        continue
                    cols = ", ".join(f'r."{c}"' for c in COLUMNS[table])
                    con.execute(f"INSERT INTO {table} SELECT {cols} FROM "
                                f"{_reader(path, table)} r WHERE NOT EXISTS (SELECT 1 FROM "
                                f"objects o WHERE o.key = r.office || '/' || r.day || '/' || "
                                f"r.item || '/record.json')")
                cols = ", ".join(f'"{c}"' for c in COLUMNS["objects"])
                con.execute(f"INSERT INTO objects SELECT {cols} FROM batch_objects b WHERE "
                            "NOT EXISTS (SELECT 1 FROM objects o WHERE o.key = b.key)")
                if before_commit is not None:
                    before_commit()
                con.execute("COMMIT")
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
            finally:
                try:
                    con.execute("DROP TABLE IF EXISTS batch_objects")
                except duckdb.Error:
                    pass
        return taken

    def add_run(self, row):
        path = None
        with tempfile.TemporaryDirectory(prefix=f"centre-batch-{os.getpid()}-") as tmp:
            path = _ndjson(Path(tmp) / "run.json", [row])
            cols = ", ".join(f'"{c}"' for c in COLUMNS["runs"])
            self.con.execute(f"INSERT INTO runs SELECT {cols} FROM {_reader(path, 'runs')}")

    def counts(self):
        out = {}
        for table in ("objects", "calls", "cases_log", "voicemails", "health", "audit"):
            out[table] = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return out


def _quote(text):
    return str(text).replace("'", "''")


def _ndjson(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=_default))
            f.write("\n")
    return path


def _default(value):
    return value.isoformat(sep=" ")


def _reader(path, table):
    columns = ", ".join(f"'{c}': '{t}'" for c, t in COLUMNS[table].items())
    return (f"read_json('{_quote(path)}', format='newline_delimited', "
            f"columns={{{columns}}})")
