"""Field updates: the box's side of RAUC (README "Field updates", DESIGN.md "Updates").

RAUC (Debian's `rauc`, `rauc-service`) does the updating: it checks a bundle's signature against
the office's keyring (/etc/rauc/keyring.pem), writes the root slot that is not running, and
tells U-Boot to try it for ONE boot (image/rootfs/rauc-system.conf: boot-attempts-primary=1;
image/boot.cmd is U-Boot's bootchooser). This module decides the rest:

- where a bundle comes from: a file, a URL the office sets in [update] (HTTPS with its CA,
  polled by lawline-update.timer), a USB stick (lawline-update-usb@.service);
- when: only while no call is up; by the poll only inside the office's night window; the box
  restarts only with the line idle, and answers no new call from then until the restart (the
  flag `no-new-calls` in the spool, which call/lines.py reads at each ring);
- the health gate on the new version's first boot (lawline-update-gate.service, before
  systemd's boot-complete.target): lawline.service READY, every modem answering, the trunk
  registered where one is configured, and `lawline check` without a FAIL the old version did
  not have. Then `rauc status mark-good`; otherwise `mark-bad` and a restart into the old slot;
  a version that never gets that far is left by U-Boot (its one try is spent) and marked bad
  from the old slot at its next boot (commands/update.py `retire_other_slot`);
- the record (record.json in [update] dir, on the data partition) of every attempt, which the
  running box reads (watch()) to show the office page an "update" part and to send the office
  head one SMS per failure.

Pure decisions come first (tests/unit/test_update.py); then the record, RAUC, downloads, and
the running box's side (watch, calls_held). The steps that hold the whole configuration
(install, poll, USB, boot, gate, commit) and `lawline update` are commands/update.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Collection, Protocol

from . import __version__, status as box_status
from .errors import ConfigError, LawlineError
from .settings import UpdateSection

log = logging.getLogger("lawline.update")

RAUC = "rauc"
VERSION_FILE = Path("/usr/lib/lawline/version")        # this root slot's version (image build)
BOOT_FILES = Path("/usr/lib/lawline/boot-firmware")    # this slot's files for the FAT partition
BOOT_PARTITION = Path("/boot/firmware")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
FLAG = "no-new-calls"          # in the spool: while it holds, the box answers no new call
RECORD = "record.json"
FLAG_HOLD = 900.0              # s: an older flag is ignored (a stuck updater never mutes a box)
KEEP = 20                      # attempts kept in the record
TELL_DAYS = 7                  # failures younger than this are told to the office once
FAILED = ("refused", "failed", "interrupted")

Attempt = dict[str, Any]      # one attempt in the record (JSON)


# -- pure decisions ------------------------------------------------------------------------

def parse_window(text: str) -> tuple[int, int]:
    """[update] window "HH:MM-HH:MM" (office time) -> (start, end) in minutes of the day. An
    end before the start runs past midnight; "00:00-24:00" (or equal ends) is all day."""
    m = re.fullmatch(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})", text or "")
    if m:
        h1, m1, h2, m2 = map(int, m.groups())
        if h1 < 24 and m1 < 60 and m2 < 60 and (h2 < 24 or (h2, m2) == (24, 0)):
            return h1 * 60 + m1, h2 * 60 + m2
    raise ConfigError(f"option 'window' in section [update]: {text!r} is not a time range "
                      "HH:MM-HH:MM of the office's clock, like \"02:00-05:00\"")


def in_window(window: tuple[int, int], now: dt.datetime) -> bool:
    start, end = window
    minute = now.hour * 60 + now.minute
    if start == end:
        return True
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def poll_due(last_poll: float | None, now: float, poll_hours: float) -> bool:
    return last_poll is None or now - last_poll >= poll_hours * 3600 or now < last_poll


def install_decision(*, bundle_version: str, running_version: str,
                     failed_versions: Collection[str], in_window_now: bool,
                     retry_failed: bool) -> tuple[str, str]:
    """What to do with a checked bundle: ("install", why) or ("skip", why) or ("wait", why).
    A version that failed on this box is not tried again from the URL or a USB stick left in
    (a bad release would otherwise be installed and rolled back every night, or every boot);
    `lawline update` by hand retries it. `in_window_now`: the poll's night window (always
    true by hand and from a stick: someone is there)."""
    if bundle_version == running_version:
        return "skip", f"version {bundle_version} is already running"
    if not retry_failed and bundle_version in failed_versions:
        return "skip", (f"version {bundle_version} failed here before; not tried again "
                        "(install it by hand with `lawline update` to retry)")
    if not in_window_now:
        return "wait", f"version {bundle_version} waits for the night window"
    return "install", f"version {bundle_version} replaces {running_version}"


def flag_text(boot_id: str, now: float, why: str) -> str:
    return json.dumps({"boot_id": boot_id, "since": now, "why": why}, ensure_ascii=False)


def flag_holds(text: str, boot_id: str, now: float) -> str | None:
    """Why new calls are refused, or None: only a flag of this boot, younger than FLAG_HOLD."""
    try:
        data = json.loads(text)
        since = float(data["since"])
    except (ValueError, TypeError, KeyError):
        return None
    if data.get("boot_id") != boot_id or not 0 <= now - since < FLAG_HOLD:
        return None
    return str(data.get("why") or "the box restarts for an update")


def health_missing(service_state: str, box_state: dict[str, Any] | None,
                   trunk_configured: bool) -> list[str]:
    """What keeps a new version from counting as healthy (empty: nothing): lawline.service
    READY (systemd says "active" only after READY=1), every modem answering (the supervisor's
    parts in spool/state.json), the trunk registered where one is configured."""
    if service_state != "active":
        return [f"lawline.service is {service_state or 'unknown'}, not READY"]
    if not box_state:
        return ["the box runs but reports no state (spool/state.json)"]
    parts = box_state.get("parts") or {}
    modems = {k: v for k, v in parts.items() if k == "modem" or k.startswith("modem ")}
    out: list[str] = [] if modems else ["no modem reported yet"]
    out += [f"{name}: {st.get('message')}" for name, st in sorted(modems.items())
            if st.get("state") != "ok"]
    if trunk_configured:
        st = parts.get("trunk")
        if not st or st.get("state") != "ok":
            out.append(f"trunk not registered ({st.get('message') if st else 'no state yet'})")
    return out


def check_failures(text: str | None) -> dict[str, str]:
    """{part: message} of each FAIL line of `lawline check` output ("[FAIL] part: message")."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        m = re.match(r"\[FAIL\] ([^:]+): ?(.*)", line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def new_check_failures(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    """FAILs the new version has that the old one did not (an upstream server that was down
    before the update is not the update's fault)."""
    return {part: msg for part, msg in after.items() if part not in before}


def health_verdict(missing: list[str], new_failures: dict[str, str], checked: bool,
                   elapsed: float, timeout: float) -> tuple[str, str]:
    """("good" | "wait" | "bad", why). `checked`: whether `lawline check` ran on this version
    yet (it runs once the rest is healthy)."""
    why = list(missing) + [f"lawline check: {part}: {msg}" for part, msg in
                           sorted(new_failures.items())]
    if not why and checked:
        return "good", "READY, modem answering, lawline check passed"
    if elapsed >= timeout:
        return "bad", "; ".join(why) or "not healthy in time"
    return "wait", "; ".join(why) or "lawline check to run"


def boot_outcome(attempt: Attempt | None, booted_slot: str | None) -> tuple[str, str] | None:
    """At boot, what the last attempt's state means: (new state, reason) or None (unchanged).
    U-Boot gives a new slot one try; booted anywhere else, that try is spent."""
    if not attempt:
        return None
    state, target = attempt.get("state"), attempt.get("target")
    if state in ("installing", "written"):
        if target and booted_slot == target:    # power cut after RAUC activated it
            return "trying", "first boot of the new version"
        return "interrupted", ("the install was cut off (power lost or restarted while "
                               f"{'writing' if state == 'installing' else 'activating'} "
                               "the new slot)")
    if state == "installed":
        if booted_slot == target:
            return "trying", "first boot of the new version"
        return "failed", "the new version did not start (U-Boot went back to the old slot)"
    if state == "trying" and booted_slot != target:
        return "failed", ("the new version never passed its health check (it hung, crashed "
                          "or lost power before the check)")
    if state == "rolling back" and booted_slot != target:
        return "failed", str(attempt.get("reason") or "the health check failed")
    return None


SIGNATURE = re.compile(r"signature|verif|certificate|keyring|cms|signer|unsigned", re.I)


def rauc_refusal(text: str) -> str:
    """Plain words for why RAUC refused a bundle (its own message follows in the log)."""
    if re.search(r"compatible", text, re.I):
        return "made for another kind of box (RAUC's compatible does not match)"
    if SIGNATURE.search(text):
        return "not signed with the office's key (signature check failed)"
    if re.search(r"squashfs|bundle|magic|format|size", text, re.I):
        return "not a valid RAUC bundle (damaged or not an update file)"
    return "RAUC refused it"


def office_text(attempt: Attempt) -> str:
    """The SMS to [office] head_mobile for a failed attempt: what, which version, and that the
    box still works on the old one."""
    v = attempt.get("version") or "未知版本"
    old = attempt.get("from") or "原版本"
    reason = attempt.get("reason") or ""
    state = attempt.get("state")
    if state == "refused":
        return (f"线路盒软件更新被拒绝：{attempt.get('source_words') or '更新包'}（{v}）"
                f"{_refusal_words(str(reason))}，未安装。线路照常工作（{old}）。")
    if state == "interrupted":
        return (f"线路盒软件更新中断：安装 {v} 时断电或重启，已继续使用 {old}，"
                "线路照常工作。可重新更新。")
    return (f"线路盒软件更新失败：新版本 {v} 开机自检未通过，已自动退回 {old}。"
            f"原因：{_failure_reason_words(str(reason))}。")


def _failure_reason_words(reason: str) -> str:
    """Why a new version failed, in the office's words; the technician's own words stay in
    the record, the log and `lawline update --status`."""
    if "never passed its health check" in reason:
        return "新版本开机后没有完成自检（死机、崩溃或自检前断电）"
    if "did not start" in reason:
        return "新版本没有启动"
    found = []
    if "not READY" in reason or "reports no state" in reason:
        found.append("电话服务没有就绪")
    if "modem" in reason:
        found.append("通信模块没有应答")
    if "trunk not registered" in reason:
        found.append("没有注册到中继线路")
    if "lawline check" in reason:
        found.append("设备自检发现新的错误")
    return "、".join(found) or "请技术人员查看设备上的更新记录"


def failure_words(attempt: Attempt) -> str:
    """A failed attempt in a few Chinese words, for the office page."""
    v = attempt.get("version") or "未知版本"
    state = attempt.get("state")
    if state == "refused":
        return f"更新包被拒绝（{v}）：{_refusal_words(str(attempt.get('reason') or ''))}"
    if state == "interrupted":
        return f"更新 {v} 安装中断（断电或重启），未生效"
    return f"新版本 {v} 开机自检未通过，已自动退回"


def _refusal_words(reason: str) -> str:
    if "another kind" in reason:
        return "不是本设备的更新包"
    if "signed" in reason:
        return "没有本办公室的有效签名"
    if "download" in reason:
        return "下载失败"
    return "无效或已损坏"


def part_state(record: dict[str, Any] | None, running_version: str,
               now: float) -> tuple[str, str]:
    """The office page's "update" part: (state, message)."""
    attempts = (record or {}).get("attempts") or []
    last = attempts[-1] if attempts else None
    here = f"运行版本 {running_version}"
    if last and last.get("state") in FAILED and now - last.get("started", 0) < TELL_DAYS * 86400:
        return "warn", f"{failure_words(last)}；{here}（{last.get('reason')}）"
    if last and last.get("state") in ("installing", "written", "installed", "trying",
                                      "healthy", "rolling back"):
        return "ok", f"正在更新到 {last.get('version')}（{last.get('state')}）；{here}"
    if last and last.get("state") == "waiting":
        return "ok", f"{here}；新版本 {last.get('version')} 等待夜间时段安装"
    return "ok", here


# -- the record ------------------------------------------------------------------------------

def read_record(directory: str | Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(directory) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(directory: str | Path, record: dict[str, Any]) -> None:
    """Atomically, and on disk before the next step (a power cut may follow at any moment)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    record["attempts"] = (record.get("attempts") or [])[-KEEP:]
    tmp = folder / (RECORD + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, folder / RECORD)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Record:
    """The attempts, newest last; each step saves before it acts."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.data = read_record(self.dir)

    @property
    def last(self) -> Attempt | None:
        attempts: list[Attempt] = self.data.get("attempts") or []
        return attempts[-1] if attempts else None

    def start(self, **fields: Any) -> Attempt:
        now = time.time()
        attempt: Attempt = {"id": time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{os.getpid()}",
                   "started": now, **fields}
        self.data.setdefault("attempts", []).append(attempt)
        self.save()
        return attempt

    def set(self, attempt: Attempt, **fields: Any) -> None:
        attempt.update(fields)
        attempt.setdefault("times", {})[fields.get("state", "note")] = time.time()
        self.save()

    def save(self) -> None:
        write_record(self.dir, self.data)

    def failed_versions(self) -> frozenset[str]:
        return frozenset(str(a.get("version")) for a in self.data.get("attempts") or []
                if a.get("state") in ("failed",) and a.get("version"))


# -- this box ------------------------------------------------------------------------------

def running_version() -> str:
    try:
        return VERSION_FILE.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return f"{__version__} (not an image)"


def boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def calls_held(spool: str | Path) -> str | None:
    """The box's side of the flag (call/lines.py asks at each ring): why it must not answer
    a new call now, or None."""
    try:
        text = (Path(spool) / FLAG).read_text(encoding="utf-8")
    except OSError:
        return None
    return flag_holds(text, boot_id(), time.time())


def calls_up(spool: str | Path) -> int:
    """Calls in progress, as the running box writes them to spool/state.json (0: none, or no
    box running)."""
    state = box_status.read(Path(spool) / "state.json")
    try:
        return int((state or {}).get("calls", 0))
    except (TypeError, ValueError):
        return 0


def wait_idle(spool: str | Path, why: str, hold: bool,
              sleep: Callable[[float], None] = time.sleep, poll: float = 5.0,
              settle: float = 3.0) -> None:
    """Return once no call is up. With `hold`, the flag then stays so that no new call is
    answered until the restart (a call that was being answered as the flag appeared shows
    in state.json within `settle`: then the flag goes and the wait goes on)."""
    flag = Path(spool) / FLAG
    said = False
    while True:
        busy = calls_up(spool)
        if busy:
            if not said:
                log.info("update: waiting for the line: %d call(s) in progress (%s)", busy, why)
                said = True
            sleep(poll)
            continue
        if not hold:
            return
        try:
            flag.write_text(flag_text(boot_id(), time.time(), why), encoding="utf-8")
            os.chmod(flag, 0o644)
        except OSError as exc:
            log.warning("update: cannot write %s (%s); restarting without it", flag, exc)
            return
        sleep(settle)
        if not calls_up(spool):
            log.info("update: line idle; new calls refused until the restart (%s)", flag)
            return
        flag.unlink(missing_ok=True)
        log.info("update: a call came in as the line was held; waiting for it to end")


def sync_journal() -> None:
    """Everything the journal holds so far onto LAWDATA now (journald writes it out every 5
    minutes): a power cut during the install must not take the lines before it with it."""
    try:
        subprocess.run(["journalctl", "--sync"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("update: journalctl --sync did not run: %s", exc)


def drop_flag(spool: str | Path) -> None:
    (Path(spool) / FLAG).unlink(missing_ok=True)


# -- RAUC ----------------------------------------------------------------------------------

def run(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise LawlineError(f"{argv[0]} is not installed (RAUC comes with the SD-card image; "
                           "`lawline update` runs on the box)") from None


def rauc_status() -> tuple[str | None, dict[str, dict[str, Any]]]:
    out = run([RAUC, "status", "--detailed", "--output-format=json"])
    if out.returncode != 0:
        raise LawlineError(f"rauc status failed: {out.stderr.strip()[-300:]}")
    data = json.loads(out.stdout)
    slots: dict[str, dict[str, Any]] = {}
    for entry in data.get("slots") or []:
        slots.update(entry)
    booted = data.get("booted")
    return (str(booted) if booted else None), slots


def other_slot(booted: str | None, slots: dict[str, dict[str, Any]]) -> str:
    for name, slot in sorted(slots.items()):
        if slot.get("class") == "rootfs" and slot.get("bootname") and \
                slot.get("bootname") != booted:
            return str(slot["bootname"])
    raise LawlineError(f"no second root slot beside {booted} in RAUC's system.conf")


def rauc_info(bundle: str | Path) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """The bundle's manifest, after RAUC checked its signature against the keyring: (info,
    None), or (None, (why in plain words, RAUC's message))."""
    out = run([RAUC, "info", "--output-format=json", str(bundle)], timeout=600)
    if out.returncode != 0:
        text = (out.stderr.strip() or out.stdout.strip())[-600:]
        return None, (rauc_refusal(text), text)
    try:
        info = json.loads(out.stdout)
    except ValueError:
        info = None
    if not isinstance(info, dict):
        return None, ("RAUC's answer could not be read", out.stdout[-300:])
    return info, None


def rauc_install(bundle: str | Path) -> tuple[bool, str]:
    """`rauc install`, its progress lines logged as they come. (ok, last lines)."""
    # stdbuf: RAUC's progress lines as they come, not in one block at its exit
    stdbuf = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
    proc = subprocess.Popen(stdbuf + [RAUC, "install", str(bundle)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if line:
            log.info("update: rauc: %s", line)
            tail = (tail + [line])[-6:]
    return proc.wait() == 0, "\n".join(tail)


def rauc_mark(what: str, slot: str = "booted") -> None:
    out = run([RAUC, "status", f"mark-{what}", slot])
    if out.returncode != 0:
        raise LawlineError(f"rauc status mark-{what} {slot} failed: "
                           f"{(out.stderr or out.stdout).strip()[-300:]}")
    log.info("update: rauc: %s", (out.stdout or out.stderr).strip().splitlines()[-1:])


# -- where bundles come from ---------------------------------------------------------------

def download(url: str, ca_file: str, dest: str | Path, meta: dict[str, Any]) -> bool:
    """Fetch `url` into `dest` unless the server says it has not changed since `meta`
    (ETag, Last-Modified). Returns True when a new file is there."""
    if not url.startswith("https://"):
        raise LawlineError(f"[update] url {url!r}: only https:// is accepted (the bundle is "
                           "signed, but the office's server should be who it says it is)")
    import urllib.error         # memory on a Pi: the box's process never downloads
    import urllib.request

    ctx = ssl.create_default_context(cafile=ca_file or None)
    req = urllib.request.Request(url, headers={"User-Agent": "lawline-update"})
    if meta.get("etag") and Path(dest).exists():
        req.add_header("If-None-Match", meta["etag"])
    if meta.get("modified") and Path(dest).exists():
        req.add_header("If-Modified-Since", meta["modified"])
    part = Path(str(dest) + ".part")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=60) as resp, \
                open(part, "wb") as f:
            shutil.copyfileobj(resp, f, 1 << 20)
            f.flush()
            os.fsync(f.fileno())
            meta.update(etag=resp.headers.get("ETag"), modified=resp.headers.get("Last-Modified"))
    except urllib.error.HTTPError as exc:
        part.unlink(missing_ok=True)
        if exc.code == 304:
            return False
        raise LawlineError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise LawlineError(f"download of {url} failed: {reason}") from None
    os.replace(part, dest)
    return True


def _digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def sync_boot_files(src: str | Path, dst: str | Path) -> list[str]:
    """Make the FAT partition's firmware stage (config.txt with the board's lines, U-Boot,
    boot.scr, Pi firmware, device trees) this committed slot's. Only changed files are
    written, each as NAME.new, synced, then renamed over NAME. Returns the changed names."""
    source, dest = Path(src), Path(dst)
    if not source.is_dir() or not dest.is_dir():
        return []
    changed = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = path.relative_to(source)
        target = dest / rel
        if target.is_file() and target.stat().st_size == path.stat().st_size \
                and _digest(target) == _digest(path):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        new = target.with_name(target.name + ".new")
        shutil.copyfile(path, new)
        with open(new, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(new, target)
        changed.append(str(rel))
    if changed:
        os.sync()
    return changed


# -- the running box's side ----------------------------------------------------------------

class _Cases(Protocol):
    def notice_once(self, key: str) -> bool: ...


class _Sms(Protocol):
    def queue(self, number: str, text: str, purpose: str) -> int | None: ...


class OfficeLike(Protocol):
    """What the update part needs of the office (records/office.py): its once-only notices
    and its SMS queue."""
    @property
    def cases(self) -> _Cases: ...

    @property
    def sms(self) -> _Sms: ...


def tell_office(status: box_status.Status, office: OfficeLike | None, head: str,
                record: dict[str, Any], version: str, now: float,
                shown: tuple[str, str] | None = None) -> tuple[str, str]:
    """One look at the record, in the box: the "update" part for the office page and `lawline
    check`, and one SMS to the office head for each failed attempt of the last TELL_DAYS
    (records/smsqueue.py; once, across restarts: cases.notice_once). Returns what the part
    shows now (pass it back next time)."""
    state, message = part_state(record, version, now)
    if (state, message) != shown:
        status.set("update", state, message)
    for attempt in record.get("attempts") or []:
        if attempt.get("state") not in FAILED or \
                now - attempt.get("started", 0) > TELL_DAYS * 86400:
            continue
        if office is None or not office.cases.notice_once(f"update:{attempt.get('id')}"):
            continue
        log.error("update: office told: %s %s: %s", attempt.get("version"),
                  attempt.get("state"), attempt.get("reason"))
        if head:
            office.sms.queue(head, office_text(attempt), "update failed")
    return state, message


async def watch(status: box_status.Status, office: OfficeLike | None, settings: UpdateSection,
                head: str, stop: asyncio.Event, every: float = 15.0) -> None:
    """The box's task: tell_office() every `every` seconds from [update] dir's record."""
    directory = Path(settings.dir)
    version = running_version()
    shown: tuple[str, str] | None = None
    while not stop.is_set():
        record = read_record(directory) if directory.is_dir() else {}
        shown = tell_office(status, office, head, record, version, time.time(), shown)
        try:
            await asyncio.wait_for(stop.wait(), every)
        except asyncio.TimeoutError:
            pass


