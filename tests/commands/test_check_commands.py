"""`lawline check` and `lawline run` as the installer runs them, in a child Python: pjsua2
missing (as on a Pi where the wheel was never installed) is a FAIL with the fix, and neither
the box nor the check loads numpy. (Each check's own logic: tests/unit/test_check.py.)"""

import subprocess
import sys

# pjsua2 hidden from a child Python, as on a Pi where the wheel was never installed
HIDE_PJSUA2 = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "pjsua2":
            raise ModuleNotFoundError("No module named 'pjsua2'", name="pjsua2")
sys.meta_path.insert(0, Hide())
from lawline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def lawline_without_pjsua2(*args):
    return subprocess.run([sys.executable, "-c", HIDE_PJSUA2, *args], capture_output=True,
                          text=True, timeout=60)


def test_missing_pjsua2_is_fail_with_the_fix(tmp_path):
    conf = tmp_path / "lawline.toml"
    conf.write_text(f'[spool]\ndir = "{tmp_path / "spool"}"\n')
    out = lawline_without_pjsua2("check", "--config", str(conf), "--no-modem")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "[FAIL] pjsua2: pjsua2 (the SIP and media core) is not installed" in out.stdout
    assert "tools/build-pjsua2.sh" in out.stdout


def test_run_without_pjsua2_says_so(tmp_path):
    conf = tmp_path / "lawline.toml"
    conf.write_text(f'[spool]\ndir = "{tmp_path / "spool"}"\n')
    out = lawline_without_pjsua2("run", "--config", str(conf))
    assert out.returncode == 1
    assert "cannot run the box: pjsua2 (the SIP and media core) is not installed" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_box_and_the_check_do_not_load_numpy():
    code = "import sys, lawline.app, lawline.check; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "False"
