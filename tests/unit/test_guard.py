"""The unit tier's guard (tests/unit/guard.py) stops what it must, names it, and fails the test
even where the code under test swallows the refusal; and no unit test imports a module that
loads pjsua2 (read from the imports, so it holds whatever another tier loaded first)."""

import ast
import asyncio
import functools
import os
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from .guard import WorldTouched

ROOT = Path(__file__).resolve().parents[2]
TRIES = {
    "a process": (lambda: subprocess.run(["true"]), r"subprocess\.Popen\(\['true'\]\)"),
    "a fork": (lambda: os.fork(), r"os\.fork\(\) \(a new process\)"),
    "a shell": (lambda: os.system("true"), r"os\.system\(\)"),
    "a socket": (lambda: socket.create_connection(("127.0.0.1", 9)), r"socket\.socket\("),
    "a pty": (lambda: os.openpty(), r"os\.openpty\(\) \(a pseudo-terminal\)"),
    "a wait": (lambda: time.sleep(1), r"time\.sleep\(1\) \(waiting in real time\)"),
    "an async wait": (lambda: asyncio.run(asyncio.sleep(2)), r"asyncio\.sleep\(2\)"),
    "pjsua2": (lambda: __import__("pjsua2").Endpoint(), r"pjsua2"),
}


@pytest.mark.parametrize("what", TRIES)
def test_each_refusal_names_what_was_tried_and_is_kept(what, pure):
    attempt, named = TRIES[what]
    with pytest.raises(WorldTouched, match=named):
        attempt()
    assert pure.attempts, "the attempt is kept for the test's end"
    pure.attempts.clear()          # this test wanted it: do not fail it at its end


def test_a_blink_and_a_socket_pair_are_not_the_world(pure):
    time.sleep(0.001)
    asyncio.run(asyncio.sleep(0))               # asyncio's own self-pipe is a socket pair
    a, b = socket.socketpair()
    a.close()
    b.close()
    assert pure.attempts == []


CONFTEST = """
from tests.unit.guard import _pure_module, pure, pytest_runtest_makereport  # noqa: F401
"""
TESTS = '''
import subprocess, time

def test_swallows_a_process():
    try:
        subprocess.run(["lawline", "sim"])
    except Exception:
        pass

def test_sleeps():
    time.sleep(0.5)

def test_is_pure():
    assert sum(range(4)) == 6
'''


def test_a_test_that_touches_the_world_fails_naming_what_it_tried(tmp_path):
    """A whole pytest run (in this process) of three tests under the guard: the one that
    swallowed its refusal fails anyway, the one that slept fails once, the pure one passes."""
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_tries.py").write_text(textwrap.dedent(TESTS))

    class Reports:
        def __init__(self):
            self.failed, self.passed = {}, []

        def pytest_runtest_logreport(self, report):
            name = report.nodeid.split("::")[-1]
            if report.failed:
                self.failed.setdefault(name, []).append((report.when, report.longreprtext))
            elif report.when == "call":
                self.passed.append(name)

    reports = Reports()
    code = pytest.main([str(tmp_path), "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                        "--rootdir", str(tmp_path)], plugins=[reports])
    assert code == pytest.ExitCode.TESTS_FAILED
    assert set(reports.failed) == {"test_swallows_a_process", "test_sleeps"}
    assert "test_is_pure" in reports.passed
    [(when, text)] = reports.failed["test_swallows_a_process"]
    assert when == "teardown" and "subprocess.Popen(['lawline', 'sim'])" in text, text
    [(when, text)] = reports.failed["test_sleeps"]   # once: the refusal said it already
    assert when == "call" and "time.sleep(0.5) (waiting in real time)" in text, text


# -- no unit test imports a module that loads pjsua2 -------------------------------------------

PACKAGES = {"lawline": ROOT / "firmware" / "lawline", "lawline_rig": ROOT / "rig" / "lawline_rig",
            "tests": ROOT / "tests"}


def module_file(name):
    top, _, rest = name.partition(".")
    base = PACKAGES.get(top)
    if base is None:
        return None
    path = base.joinpath(*rest.split(".")) if rest else base
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=None)
def imported_at_load(path, name, everywhere=False):
    """The modules `path` (module `name`) imports when it is loaded: its module-level
    imports (and class bodies', which run then too); with `everywhere`, those inside
    functions as well, and pytest.importorskip("x") (a test runs them all)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and \
                    not everywhere:
                continue
            if isinstance(node, ast.Import):
                found.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                found.append(base)
                found.extend(f"{base}.{a.name}" for a in node.names)
            elif everywhere and isinstance(node, ast.Call) and \
                    getattr(node.func, "attr", "") == "importorskip" and node.args and \
                    isinstance(node.args[0], ast.Constant):
                found.append(node.args[0].value)
            visit(ast.iter_child_nodes(node))
    visit(tree.body)
    return tuple(found)        # cached (each module is read once): not to be changed


def loads_pjsua2(name, seen, chain):
    """The chain of imports from `name` to pjsua2, or None."""
    if name == "pjsua2" or name.startswith("pjsua2."):
        return chain + [name]
    if name in seen:
        return None
    seen.add(name)
    path = module_file(name)
    if path is None:
        return None
    parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
    for child in [*parents, *imported_at_load(path, name)]:
        found = loads_pjsua2(child, seen, chain + [name])
        if found:
            return found
    return None


def test_no_unit_test_imports_a_module_that_loads_pjsua2():
    offenders = {}
    for path in sorted((ROOT / "tests" / "unit").glob("*.py")):
        name = f"tests.unit.{path.stem}"
        for imported in imported_at_load(path, name, everywhere=True):
            chain = loads_pjsua2(imported, set(), [])
            if chain:
                offenders[path.name] = " -> ".join(chain)
                break
    assert offenders == {}, ("unit tests must not load pjsua2 (tests/sip is its tier): " +
                             "; ".join(f"{k}: {v}" for k, v in offenders.items()))


def test_the_import_check_finds_pjsua2_behind_the_box():
    chain = loads_pjsua2("lawline.app", set(), [])
    assert chain[0] == "lawline.app" and chain[-1] == "pjsua2", chain
    assert loads_pjsua2("lawline.call.script", set(), []) is None
