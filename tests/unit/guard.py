"""The unit tier cannot touch the world (STYLE.md, "A unit tier that cannot touch the world").

While a unit test (or one of its fixtures) runs, starting a process (subprocess, fork, spawn,
os.system), opening a socket, opening a pseudo-terminal, using pjsua2 or sleeping longer than a
blink is refused: the call raises `WorldTouched` naming what was tried, and the attempt is kept
so the test fails even where the code under test swallows the error (`except Exception`).
A test that needs any of these belongs in the tier that has the part: tests/line (the loopback
line, ptys), tests/sip (a real pjsua2 endpoint), tests/scenarios (a whole box), tests/sync,
tests/servers, tests/web, tests/systemd, rig/tests (the rig's own parts).

Threads that were already running when the test started (an xdist worker's own, or one left by
a test of another tier in the same worker) are not the test's doing and pass through.
"""

import _posixsubprocess
import asyncio
import importlib.abc
import os
import socket
import subprocess
import sys
import threading
import time
import types

import pytest

# Sleeping up to this long is a yield, not a wait (a retry loop's first tiny back-off).
SLEEP_BOUND = 0.02
WHERE = ("tests/line, tests/sip, tests/scenarios, tests/sync, tests/servers, tests/web, "
         "tests/systemd or rig/tests")


class WorldTouched(AssertionError):
    """A unit test tried to start a process, open a socket or pty, use pjsua2 or sleep."""


class _RefusedModule(types.ModuleType):
    """Stands for pjsua2 inside a unit test: any use of it is refused."""

    def __init__(self, guard, name):
        super().__init__(name)
        self._guard = guard

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        self._guard.refuse(f"pjsua2.{attr} (the SIP and media core)")


class _RefusePjsua2(importlib.abc.MetaPathFinder):
    def __init__(self, guard):
        self.guard = guard

    def find_spec(self, name, path=None, target=None):
        if name == "pjsua2" or name.startswith("pjsua2."):
            self.guard.refuse(f"import {name} (the SIP and media core)")
        return None


class Guard:
    """Installs the refusals with a pytest MonkeyPatch (undone with it) and keeps what a test
    tried in `attempts`."""

    def __init__(self, sleep_bound=SLEEP_BOUND):
        self.sleep_bound = sleep_bound
        self.attempts = []
        self.bystanders = set()     # idents of threads running before the test began

    # -- what a test tried --------------------------------------------------------------

    def mine(self):
        """Is the calling thread the test's (the main thread, or one the test started)?"""
        current = threading.current_thread()
        return current is threading.main_thread() or current.ident not in self.bystanders

    def refuse(self, what):
        self.attempts.append(what)
        raise WorldTouched(f"the unit tier is pure, and this test tried {what}: a test that "
                           f"needs real parts belongs in {WHERE} (tests/unit/guard.py)")

    def begin(self):
        """A test begins: forget the last one's attempts and who was already running."""
        self.attempts = []
        main = threading.main_thread()
        self.bystanders = {t.ident for t in threading.enumerate() if t is not main}

    # -- the refusals -------------------------------------------------------------------

    def install(self, patch):
        guard = self
        popen_init = subprocess.Popen.__init__

        def popen(self, args, *a, **kw):
            if not guard.mine():
                return popen_init(self, args, *a, **kw)
            self._child_created = False      # so Popen.__del__ has nothing to clean up
            guard.refuse(f"subprocess.Popen({args!r})")

        patch.setattr(subprocess.Popen, "__init__", popen)
        fork_exec = _posixsubprocess.fork_exec

        def forked(*a, **kw):
            if not guard.mine():
                return fork_exec(*a, **kw)
            guard.refuse(f"_posixsubprocess.fork_exec({a[0]!r}) (a new process)")

        patch.setattr(_posixsubprocess, "fork_exec", forked)
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "openpty"):
            if hasattr(os, name):
                patch.setattr(os, name, self._refusing(getattr(os, name), f"os.{name}"))
        import pty
        patch.setattr(pty, "openpty", self._refusing(pty.openpty, "pty.openpty"))
        patch.setattr(pty, "fork", self._refusing(pty.fork, "pty.fork"))

        socket_init = socket.socket.__init__

        def opened(self, family=-1, type=-1, proto=-1, fileno=None):
            # fileno given: wrapping a descriptor made in this process (socket.socketpair,
            # asyncio's self-pipe), which reaches nothing outside it
            if fileno is None and guard.mine():
                guard.refuse(f"socket.socket(family={family!r}, type={type!r}) (a socket)")
            socket_init(self, family, type, proto, fileno)

        patch.setattr(socket.socket, "__init__", opened)

        sleep = time.sleep

        def sleeping(seconds):
            if seconds > guard.sleep_bound and guard.mine():
                guard.refuse(f"time.sleep({seconds!r}) (waiting in real time)")
            sleep(seconds)

        patch.setattr(time, "sleep", sleeping)
        async_sleep = asyncio.sleep

        async def async_sleeping(delay, result=None):
            if delay > guard.sleep_bound and guard.mine():
                guard.refuse(f"asyncio.sleep({delay!r}) (waiting in real time)")
            return await async_sleep(delay, result)

        patch.setattr(asyncio, "sleep", async_sleeping)
        patch.setattr(asyncio.tasks, "sleep", async_sleeping)

        finder = _RefusePjsua2(self)
        patch.setattr(sys, "meta_path", [finder, *sys.meta_path])
        real = sys.modules.get("pjsua2")
        if real is not None:
            stub = _RefusedModule(self, "pjsua2")
            patch.setitem(sys.modules, "pjsua2", stub)
            # modules that did `import pjsua2 as pj` before the test hold the real one
            for name, module in list(sys.modules.items()):
                if not name.startswith(("lawline", "tests")) or module is None:
                    continue
                for attr, value in list(vars(module).items()):
                    if value is real:
                        patch.setattr(module, attr, stub)
        return self

    def _refusing(self, real, name):
        guard = self

        def refused(*a, **kw):
            if not guard.mine():
                return real(*a, **kw)
            guard.refuse(f"{name}() ({'a pseudo-terminal' if 'pty' in name else 'a new process'})")
        refused.__name__ = getattr(real, "__name__", name)
        return refused


# -- the fixtures and the hook (tests/unit/conftest.py imports them) ------------------------

_TOLD = pytest.StashKey[bool]()


@pytest.fixture(autouse=True, scope="module")
def _pure_module():
    """The refusals stand for the whole module, so module-scoped fixtures are held too."""
    guard = Guard()
    with pytest.MonkeyPatch.context() as patch:
        guard.begin()
        guard.install(patch)
        yield guard


@pytest.fixture(autouse=True)
def pure(request, _pure_module):
    """Each test starts with a clean slate and fails if it tried to touch the world, even
    where the code under test caught the refusal (`except Exception`)."""
    guard = _pure_module
    guard.begin()
    yield guard
    tried, guard.attempts = guard.attempts, []
    if tried and not request.node.stash.get(_TOLD, False):
        pytest.fail("the unit tier is pure, and this test tried " + "; ".join(tried) +
                    f": a test that needs real parts belongs in {WHERE} (tests/unit/guard.py)",
                    pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that failed on the refusal itself has said what it tried: no second report."""
    report = yield
    if call.when == "call" and call.excinfo is not None and \
            call.excinfo.errisinstance(WorldTouched):
        item.stash[_TOLD] = True
    return report
