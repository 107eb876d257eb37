"""The centre's tests: a few counties' records made by the box's own code (the generator, in
a process of its own: it runs the box on a simulated clock), real servers (rclone serve s3,
PostgreSQL 15, aiosmtpd, Chromium), and the lawline-centre command as a process where a
process is what is tested (the kill test, the page)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
S3_KEY, S3_SECRET = "CENTREKEY001", "centre-s3-secret-77"
COUNTIES = 3
DAYS = 21


def office_today():
    return datetime.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def generate(out, counties=COUNTIES, days=DAYS, end=None, first=1, seed=1, extra=(),
             truth=None):
    """Run `lawline-centre generate` into the folder `out` (None: `extra` names the S3
    target); return its truth.json."""
    end = end or office_today() - datetime.timedelta(days=1)
    truth = Path(truth) if truth else Path(out).parent / f"truth-{Path(out).name}-{first}.json"
    done = subprocess.run(
        [sys.executable, "-m", "lawline_centre", "generate", "--counties", str(counties),
         "--days", str(days), "--end", end.isoformat(), "--first", str(first),
         "--seed", str(seed), "--workers", "1", "--truth", str(truth),
         *(["--out", str(out)] if out else []), *extra],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(truth.read_text())


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """Three counties, three weeks ending yesterday (office time), in an upload folder."""
    base = tmp_path_factory.mktemp("generated")
    truth = generate(base / "up")
    truth["root"] = base / "up"
    return truth


def centre_cli(*args, check=True, timeout=300, env=None, stdin=None):
    done = subprocess.run([sys.executable, "-m", "lawline_centre", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, input=stdin)
    if check:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def write_config(path, *, source, data_dir, store=None, mail=None, counties=(), web=None):
    lines = ["[centre]", 'name = "测试市 0148 法律服务协调中心"', f'data_dir = "{data_dir}"',
             "ingest_every_s = 2.0", "[source]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in source.items()]
    if store:
        lines += ["[store]"] + [f"{k} = {json.dumps(v)}" for k, v in store.items()]
    if mail:
        lines += ["[mail]"] + [f"{k} = {json.dumps(v)}" for k, v in mail.items()]
    lines += ["[web]", 'bind = "127.0.0.1"', "port = 0"] + \
        [f"{k} = {json.dumps(v)}" for k, v in (web or {}).items()]
    for cid, name in counties:
        lines += ["[[county]]", f'id = "{cid}"', f'name = "{name}"']
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def uploaded_records(root):
    """Every record.json under an upload folder: {object key: parsed JSON} (the tests'
    own reading, independent of the centre's)."""
    root = Path(root)
    out = {}
    for path in root.glob("*/*/*/record.json"):
        out[path.relative_to(root).as_posix()] = json.loads(path.read_text(encoding="utf-8"))
    return out


@pytest.fixture(scope="session")
def rclone(tmp_path_factory):
    from lawline_rig.probe.upstreams import RcloneS3
    server = RcloneS3(tmp_path_factory.mktemp("rclone"), S3_KEY, S3_SECRET).start()
    yield server
    server.stop()


os.environ.setdefault("PYTHONHASHSEED", "0")


class Postgres:
    """A throw-away PostgreSQL 15 cluster (Debian's postgresql-15) on a Unix socket in a
    temporary folder; as root, its commands run as the postgres user (runuser)."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self):
        import tempfile
        assert (self.BIN / "initdb").exists(), \
            "Debian's postgresql-15 is missing: tools/bootstrap.sh installs it"
        self.dir = Path(tempfile.mkdtemp(prefix="centre-pg-"))
        self.data = self.dir / "data"
        self.port = 5432
        self.root = os.geteuid() == 0
        if self.root:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *argv):
        argv = [str(a) for a in argv]
        if self.root:
            # in /usr/sbin, which a clean PATH (env -i ... make test) may lack
            runuser = shutil.which("runuser", path=os.environ.get("PATH", "") +
                                   ":/usr/sbin:/sbin") or "/usr/sbin/runuser"
            argv = [runuser, "-u", "postgres", "--"] + argv
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, " ".join(argv[-4:]) + ": " + done.stderr[-2000:]
        return done.stdout

    def start(self):
        self._run(self.BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        self._run(self.BIN / "pg_ctl", "-D", self.data, "-l", self.dir / "pg.log", "-w",
                  "-o", f"-k {self.dir} -c listen_addresses='' -p {self.port} -c fsync=off",
                  "start")
        self._run(self.BIN / "createdb", "-h", self.dir, "-p", self.port, "-U", "postgres",
                  "centre")
        return self

    @property
    def catalog(self):
        return f"postgres:dbname=centre host={self.dir} port={self.port} user=postgres"

    def database(self, name):
        """A further database in the cluster; its DuckLake catalog string."""
        self._run(self.BIN / "createdb", "-h", self.dir, "-p", self.port, "-U", "postgres",
                  name)
        return f"postgres:dbname={name} host={self.dir} port={self.port} user=postgres"

    def stop(self):
        import shutil
        try:
            self._run(self.BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    server = Postgres().start()
    yield server
    server.stop()
