"""`make centre-demo`: an S3 server (rclone serve s3) holding the uploads of 100 generated
counties (the box's own code made them; kept in build/centre-demo/ and reused while the
counties and days are the same), the ingest, and the page with its scheduler; it prints the
page's address and the demo logins and runs until Ctrl-C."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from .generator import model

KEY, SECRET = "DEMOKEY00148", "demo-secret-0148"
LOGINS = (("zhuren", "head", "*", "zhuren-demo-1", "协调中心负责人：全市，完整号码（审计）"),
          ("wenyuan", "clerk", "*", "wenyuan-demo-1", "协调中心文员：全市，号码遮挡"),
          ("qingshan", "clerk", "county-001", "qingshan-demo-1", "青山县文员：只看本县"))


def main(args):
    base = Path(args.dir).resolve()
    boxes = base / "s3" / "boxes"
    truth_file = base / "truth.json"
    end = datetime.datetime.now(ZoneInfo("Asia/Shanghai")).date() - datetime.timedelta(days=1)
    days = [(end - datetime.timedelta(days=args.days - 1)).isoformat(), end.isoformat()]
    truth = json.loads(truth_file.read_text()) if truth_file.exists() else None
    if not truth or truth["days"] != days or truth["counties"] != args.counties:
        shutil.rmtree(base, ignore_errors=True)
        boxes.mkdir(parents=True)
        print(f"centre-demo: {args.counties} counties, {days[0]} to {days[1]}, made by the "
              "box's own code (a few minutes; kept for the next run) ...", flush=True)
        done = subprocess.run([sys.executable, "-m", "lawline_centre", "generate",
                               "--counties", str(args.counties), "--days", str(args.days),
                               "--end", days[1], "--workers", "2", "--out", str(boxes),
                               "--truth", str(truth_file)])
        if done.returncode != 0:
            return done.returncode
    from lawline_rig.probe.upstreams import RcloneS3
    server = RcloneS3(base / "rclone", KEY, SECRET)
    server.data = base / "s3"
    server.dir.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        return _serve(args, base, server)
    finally:
        server.stop()


def _serve(args, base, server):
    secret = base / "s3.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    config = base / "centre.toml"
    counties = "".join(f'[[county]]\nid = "{model.county_id(n)}"\nname = '
                       f'"{model.county_name(n)}"\n' for n in range(1, args.counties + 1))
    config.write_text(f"""[centre]
name = "示范市 0148 法律服务协调中心"
data_dir = "{base / 'data'}"
[source]
kind = "s3"
endpoint = "{server.url}"
bucket = "boxes"
access_key = "{KEY}"
secret_file = "{secret}"
[web]
bind = "127.0.0.1"
port = {args.port}
{counties}""", encoding="utf-8")
    from lawline.web.accounts import Accounts
    from .web import Scopes
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    accounts, scopes = Accounts(data / "web.db"), Scopes(data / "web.db")
    known = {u.name for u in accounts.users()}
    for name, role, county, password, _ in LOGINS:
        if name not in known:
            accounts.add_user(name, role, password)
        scopes.set(name, county)
    accounts.close()
    print(f"centre-demo: the boxes' bucket is s3://boxes on {server.url} (key {KEY}); "
          "ingesting ...", flush=True)
    done = subprocess.run([sys.executable, "-m", "lawline_centre", "ingest", "--config",
                           str(config)], capture_output=True, text=True)
    print(done.stdout.strip(), flush=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return done.returncode
    if args.exit_after_ingest:
        return 0
    ready = base / "ready"
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "lawline_centre", "serve", "--config",
                             str(config), "--ready-file", str(ready)])
    try:
        while not ready.exists():
            if proc.poll() is not None:
                return proc.returncode
            time.sleep(0.1)
        url = ready.read_text().strip()
        print(f"\ncentre-demo: the prefecture's page is {url} (self-signed certificate: accept "
              "it once)\nlogins:", flush=True)
        for name, _, _, password, what in LOGINS:
            print(f"  {name:10} {password:18} {what}")
        print("Ctrl-C stops the page and the S3 server.", flush=True)
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)
    return 0
