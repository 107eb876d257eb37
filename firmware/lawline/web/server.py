"""`lawline web`: serve the office's page, and manage its accounts from the box's shell.

    lawline web [--config FILE] [--bind ADDR] [--port N] [--ready-file F]   serve (HTTPS)
    lawline web user add NAME --role head|clerk|duty [--display 名字] [--mobile 139...]
                              [--password-stdin]        (else asks twice on the terminal)
    lawline web user list
    lawline web user unlock NAME [--address A]   lift a name's lock (and an address's)
    lawline web user passwd NAME [--password-stdin]

The page is its own process (systemd/lawline-web.service): a crash or a slow page never
touches call answering, and the box answers calls with the page stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config as configuration
from ..errors import LawlineError

if TYPE_CHECKING:
    from ..config import Config
    from ..sdnotify import Notifier

log = logging.getLogger("lawline.web")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="/etc/lawline/lawline.toml")
    p.add_argument("--bind", help="address to listen on (default: [web] bind)")
    p.add_argument("--port", type=int, help="HTTPS port (default: [web] port; 0: any free)")
    p.add_argument("--ready-file", help="write the page's address here once it listens")
    sub = p.add_subparsers(dest="web_command")
    user = sub.add_parser("user", help="accounts of the office page")
    actions = user.add_subparsers(dest="user_command", required=True)
    q = actions.add_parser("add", help="create an account")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=("head", "clerk", "duty"))
    q.add_argument("--display", default="", help="the person's name as the page shows it")
    q.add_argument("--mobile", default="", help="their mobile (needed to take over cases)")
    q.add_argument("--password-stdin", action="store_true")
    actions.add_parser("list", help="list accounts")
    q = actions.add_parser("unlock", help="lift a lock-out after wrong passwords (locks end "
                           "by themselves too: 1 min, doubling up to 1 h)")
    q.add_argument("name")
    q.add_argument("--address", help="also lift the lock of this address (an IP)")
    q = actions.add_parser("passwd", help="set a new password")
    q.add_argument("name")
    q.add_argument("--password-stdin", action="store_true")


def data_dir(cfg: Config) -> Path:
    return Path(cfg.web.data_dir) if cfg.web.data_dir else cfg.spool_dir / "web"


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise LawlineError("the two passwords differ")
    return first


def main(args: argparse.Namespace) -> int:
    # web.db holds password hashes and the audit log: 0600 also when an admin runs
    # `lawline web user add` from a shell with umask 022 (the unit sets UMask=0077 itself)
    os.umask(0o077)
    cfg = configuration.load(args.config)
    if args.web_command == "user":
        return user_main(cfg, args)
    return serve(cfg, args.bind, args.port, args.ready_file)


def user_main(cfg: Config, args: argparse.Namespace) -> int:
    from .accounts import ROLES, AccountError, Accounts
    from .fmt import Formats
    formats = Formats(cfg.office.timezone)           # the office's clock, not the host's
    accounts = Accounts(data_dir(cfg) / "web.db")
    try:
        if args.user_command == "add":
            user = accounts.add_user(args.name, args.role, _password(args), args.display,
                                     args.mobile)
            accounts.audit("shell", "", "box", "user_added", user.name, user.role)
            print(f"user {user.name} added ({user.role})")
        elif args.user_command == "passwd":
            accounts.set_password(args.name, _password(args))
            accounts.audit("shell", "", "box", "password_set", args.name)
            print(f"password of {args.name} set")
        elif args.user_command == "unlock":
            accounts.unlock(args.name)
            accounts.audit("shell", "", "box", "user_unlocked", args.name)
            print(f"user {args.name} unlocked")
            if args.address:
                accounts.unlock_address(args.address)
                print(f"address {args.address} unlocked")
        else:
            for u in accounts.users():
                state = "locked until " + formats.when(u.locked) if u.locked else \
                    f"{u.failures} wrong password(s)" if u.failures else "ok"
                print(f"{u.name:16} {u.role:6} ({ROLES[u.role]}) {u.display or '-':10} "
                      f"{u.mobile or '-':14} {state}")
    except AccountError as exc:
        raise LawlineError(str(exc)) from None
    finally:
        accounts.close()
        _owned_like_the_data_dir(data_dir(cfg))
    return 0


def _owned_like_the_data_dir(directory: Path) -> None:
    """`lawline web user add` run as root must not leave web.db to root: the page runs as the
    lawline user and could no longer write it. Its files take the owner of the data
    directory that holds them (/var/lib/lawline, the service user's), when that is not root."""
    if os.geteuid() != 0:
        return
    try:
        owner = directory.parent.stat()
    except OSError:
        return
    if owner.st_uid == 0:
        return
    for path in [directory, *directory.glob("web.db*")]:
        try:
            os.chown(path, owner.st_uid, owner.st_gid)
        except OSError as exc:
            log.warning("web: could not give %s to the service user: %s", path, exc)


def serve(cfg: Config, bind: str | None = None, port: int | None = None,
          ready_file: str | None = None) -> int:
    import uvicorn
    from . import cert
    from .app import build
    directory = data_dir(cfg)
    directory.mkdir(parents=True, exist_ok=True)
    certfile, keyfile = cert.ensure(cfg, directory)
    app = build(cfg, directory)
    host = bind or cfg.web.bind
    port = cfg.web.port if port is None else port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise LawlineError(f"web: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(64)
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"https://{shown}:{port}/"
    config = uvicorn.Config(app, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile),
                            log_config=None, access_log=False, lifespan="off",
                            server_header=False, timeout_graceful_shutdown=3,
                            # no proxy in front: uvicorn would take X-Forwarded-For from
                            # 127.0.0.1 as the client, a fresh address for every guess
                            proxy_headers=False)
    server = uvicorn.Server(config)
    log.info("web: the office page is ready on %s (listening on %s:%d, certificate %s)",
             url, host, port, certfile)
    if ready_file:
        tmp = Path(ready_file).with_suffix(".tmp")
        tmp.write_text(url + "\n")
        tmp.replace(ready_file)
    notifier = _notifier()      # systemd/lawline-web.service is Type=notify
    notifier.ready(f"serving {url} on {host}:{port}")
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        notifier.stopping()
        notifier.close()
        app.state.web.box.close()
    log.info("web: stopped")
    return 0


class _NoNotifier:
    def ready(self, status: str) -> None:
        pass

    def stopping(self) -> None:
        pass

    def close(self) -> None:
        pass


def _notifier() -> Notifier | _NoNotifier:
    try:
        from ..sdnotify import Notifier
    except ImportError:      # a tree without sdnotify.py: nothing to tell systemd
        return _NoNotifier()
    return Notifier()
