"""The office page's accounts (web/accounts.py) as the shell and the page use them, each in a
process of its own: `lawline web user add` keeps web.db private and, run as root, leaves it
to the service user; 16 log-ins at once never hash more than a few passwords at a time (the
memory of a fresh process measured). (The accounts' own rules: tests/unit/test_web_accounts.py.)"""


_MANY_LOGINS = r"""
import resource, sys, threading
from lawline.web.accounts import Accounts
a = Accounts(sys.argv[1], address_failures=1000)
a.add_user("wang", "head", "long-enough-1")
a.login("wang", "wrong", "10.0.0.1")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = threading.Barrier(16)
def one(i):
    start.wait()
    a.login("wang" if i % 2 else f"nobody{i}", "wrong", f"10.0.1.{i}")
threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_parallel_logins_never_hash_more_than_a_few_passwords_at_once(tmp_path):
    # 16 log-ins at the same moment (uvicorn's pool runs up to 40): scrypt takes 16 MiB
    # each, so unbounded they would need 256 MiB more; the page's unit allows 200M in all
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", _MANY_LOGINS, str(tmp_path / "web.db")],
                          capture_output=True, text=True, timeout=120, check=True)
    grown_mib = int(done.stdout.strip())
    assert grown_mib < 80, f"peak memory grew by {grown_mib} MiB during 16 parallel log-ins"


def test_lawline_web_user_add_from_a_shell_keeps_web_db_private(tmp_path):
    import os
    import stat
    import subprocess
    import sys
    from lawline import config as configuration
    spool = tmp_path / "spool"
    cfg = tmp_path / "lawline.toml"
    cfg.write_text(configuration.dump({"spool": {"dir": str(spool)}}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.umask(0o022); from lawline.cli import main; "
         "sys.argv = ['lawline'] + sys.argv[1:]; sys.exit(main())", "web", "--config", str(cfg),
         "user", "add", "wang", "--role", "head", "--password-stdin"],
        input="long-enough-1\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    made = [p for p in (spool / "web").iterdir() if p.name.startswith("web.db")]
    assert made
    for path in made + [spool / "web"]:
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, (path, oct(os.stat(path).st_mode))


def test_lawline_web_user_add_as_root_leaves_web_db_to_the_service_user(tmp_path):
    """Run as root (as an installer would, and as CI does), the account tool gives web.db to
    the owner of the data directory, so the page (user lawline) can still write it."""
    import os
    import subprocess
    import sys
    from lawline import config as configuration
    assert os.geteuid() == 0, "this test runs as root, as the box's installer does"
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chown(spool, 4242, 4243)                      # the service user's spool
    cfg = tmp_path / "lawline.toml"
    cfg.write_text(configuration.dump({"spool": {"dir": str(spool)}}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "lawline", "web", "--config", str(cfg), "user", "add", "wang",
         "--role", "head", "--password-stdin"],
        input="long-enough-1\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    made = [spool / "web", *(spool / "web").glob("web.db*")]
    assert len(made) >= 2
    assert {(os.stat(p).st_uid, os.stat(p).st_gid) for p in made} == {(4242, 4243)}
