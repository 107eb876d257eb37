"""Errors of the box. Each derives from LawlineError and from the built-in it resembles,
so callers can catch either (the gpiozero habit)."""

from __future__ import annotations

from typing import Iterable


class LawlineError(Exception):
    """Root of every error the box raises on purpose."""


class ConfigError(LawlineError, ValueError):
    """The configuration file is wrong; the message names the section and option."""


class ModemError(LawlineError, IOError):
    """The modem did something the driver cannot work with."""


class ModemTimeout(ModemError, TimeoutError):
    """The modem did not finish a command in time; `partial` holds what it did say."""

    def __init__(self, message: str, partial: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.partial = list(partial)


class CommandError(ModemError):
    """The modem answered ERROR, +CME ERROR or +CMS ERROR."""

    def __init__(self, command: str, final: str, lines: Iterable[str] = ()) -> None:
        super().__init__(f"{command!r} failed: {final}")
        self.command = command
        self.final = final
        self.lines = list(lines)
        self.code: int | str | None = None
        for prefix in ("+CME ERROR:", "+CMS ERROR:"):
            if final.startswith(prefix):
                value = final[len(prefix):].strip()
                self.code = int(value) if value.isdigit() else value


class SmsError(CommandError):
    """Sending or reading an SMS failed; `code` is the +CMS ERROR number (27.005 3.2.5), or
    None when the modem said plain ERROR or nothing."""

    MEANINGS = {300: "ME failure", 302: "operation not allowed", 304: "invalid PDU mode "
                "parameter", 305: "invalid text mode parameter", 310: "SIM not inserted",
                322: "SIM memory full", 330: "SMSC address unknown", 331: "no network service",
                332: "network timeout", 500: "unknown error"}

    def __init__(self, command: str, final: str, lines: Iterable[str] = ()) -> None:
        super().__init__(command, final, lines)
        meaning = self.MEANINGS.get(self.code) if isinstance(self.code, int) else None
        if meaning:
            self.args = (f"{self.args[0]} ({meaning})",)


class CallEnded(LawlineError):
    """The caller hung up; whatever the call flow was doing stops."""


class CallCut(CallEnded):
    """The box ends the call while the caller is still on the line (a limit such as [limits]
    max_call_seconds); `reason` says which. What was recorded up to then is kept."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SipError(LawlineError):
    """The SIP leg failed (pjsua2 error or trunk refusal)."""
