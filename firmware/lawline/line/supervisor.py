"""Keeping the modem alive: health checks, soft reset, power cycle, reopening renamed ports.

Modems stop answering (an EC25 after hours without signal, a SIM7000 on one port while the
other still works), and USB re-enumeration renames their ports (reference/modems.md 5.3, 5.5).
The supervisor:
- asks `AT` every `health_interval` (skipped while a command is in flight; a V.253 modem in a
  voice data state counts as alive), and calls the modem dead after two silent tries;
- ends a call in progress cleanly: a `failed` event, so the call flow commits the call record
  with outcome "error" and "modem stopped answering";
- soft-resets (the profile's AT+CRESET / AT+CFUN=1,1 / ATZ), closes the ports and reopens them
  by the configured name, which should be the udev link (board/99-lawline-modem.rules) so a
  re-enumerated port is found under its new kernel name; retries with backoff;
- power-cycles through the HAT's power key once the module stays silent past its boot time;
- reports one state at a time (one log line per change) to the status file `lawline check`
  reads, and to the status LED;
- takes a lost port as the modem gone, whichever port it is: the AT port's reader (on the
  loop) and the call audio (the serial PCM reader thread, the sound card's PortAudio thread;
  a V.253 modem's audio is its AT port) each report end of file and lasting errors once
  (audio.PortLoss), and the supervisor ends the call, closes both and reopens them by name,
  as for a renamed port. Nothing spins on a port that is gone.
With `reset_after_hangup` (a SIM7600 firmware whose audio degrades from the second call, 5.1)
the same reset-and-reopen runs after every call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Protocol

from ..errors import ModemError

if TYPE_CHECKING:
    from ..settings import LineSection
    from ..status import Status
    from .parts import CallAudio, LineModem

log = logging.getLogger("lawline.line")

READY = "ready"
STARTING = "starting"
NOT_ANSWERING = "not answering"
RESETTING = "resetting"
POWER_CYCLING = "power cycling"
PORT_GONE = "port gone"
WAITING = "waiting"
# A line lost again this soon after it came back is flapping (a port that opens and fails at
# once, a card whose clock never runs): each further recovery waits longer before its first
# try, up to recovery_max_backoff, so a flapping part is never reopened in a tight loop.
FLAP_SECONDS = 5.0


class Led(Protocol):
    """The line's status LED (hat.StatusLed)."""
    def show(self, ok: bool) -> None: ...


class PowerCycler(Protocol):
    """The modem's power key (hat.PowerKey)."""
    async def power_cycle(self) -> None: ...


class LineState:
    """The modem's state as one sentence; logged and published only when it changes."""

    def __init__(self, name: str, status: Status | None = None, led: Led | None = None,
                 part: str = "modem") -> None:
        self.name = name
        self.part = part          # its key in the status file ("modem", "modem 2": its line)
        self.status = status
        self.led = led
        self.state: str | None = None
        self.detail = ""
        self.since = time.time()
        self.notes: list[str] = []  # standing facts (e.g. "bridging unavailable ...")

    def set(self, state: str, detail: str) -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail, self.since = state, detail, time.time()
        text = detail + ("; " + "; ".join(self.notes) if self.notes and state == READY else "")
        if self.status is not None:
            from ..status import FAIL, OK, WARN
            level = OK if state == READY else (WARN if state in (STARTING, RESETTING) else FAIL)
            if state == READY and any("unavailable" in n for n in self.notes):
                level = WARN
            self.status.set(self.part, level, text)
        else:
            (log.info if state == READY else log.warning)("modem %s: %s", self.name, text)
        if self.led is not None:
            self.led.show(state == READY)

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state, "detail": self.detail, "since": self.since,
                "notes": list(self.notes)}


class LineSupervisor:
    def __init__(self, modem: LineModem, audio: CallAudio, line: LineSection,
                 status: Status | None = None, power_key: PowerCycler | None = None,
                 led: Led | None = None, part: str = "modem") -> None:
        """`line` is the config's [line] section (health_interval, health_timeout,
        recovery_max_backoff, reset_after_hangup)."""
        self.modem = modem
        self.audio = audio
        self.cfg = line
        self.power_key = power_key
        self.state = LineState(modem.name, status, led, part)
        self._lost = asyncio.Event()
        self._lost_why = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready_since = float("-inf")
        self._flaps = 0
        self.recoveries = 0
        modem.at.on_lost = self._port_lost
        if hasattr(audio, "on_lost"):
            audio.on_lost = self._audio_lost

    @property
    def path(self) -> str:
        return self.modem.at_port

    def _where(self) -> str:
        real = os.path.realpath(self.path)
        return self.path if real == self.path else f"{self.path} (now {real})"

    # -- start ---------------------------------------------------------------------------

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Bring the modem up; while it is missing or silent, keep trying with backoff."""
        self._loop = asyncio.get_running_loop()
        self.state.set(STARTING, f"opening {self._where()}")
        if await self._try_start():
            return True
        return await self._retry(stop, f"no modem answering on {self.path}")

    async def _try_start(self) -> bool:
        modem = self.modem
        # The call audio first: a port that is not back yet fails here, before the modem's
        # start has logged it ready (once per retry, which read as the line coming back).
        try:
            self.audio.open()
        except Exception as exc:  # noqa: BLE001 (serial.SerialException, sounddevice errors)
            self._last_error = f"audio: {exc}"
            return False
        try:
            await modem.start()
        except (ModemError, OSError) as exc:
            modem.close()
            self.audio.close()
            self._last_error = str(exc)
            return False
        self._lost.clear()
        self._ready_since = time.monotonic()
        self.state.notes = list(getattr(modem, "notes", []))
        self.state.set(READY, f"ready on {self._where()} ({modem.profile.description})")
        return True

    async def _probe(self) -> bool:
        """Open the AT port and ask `AT` once: is anybody there yet? (A booting module is
        silent; a full start would wait for every init command's timeout.)"""
        at = self.modem.at
        if not os.path.exists(self.path):
            self._last_error = f"{self.path} does not exist"
            return False
        try:
            at.open()
        except ModemError as exc:
            self._last_error = str(exc)
            return False
        try:
            await self.modem.wake()
            return await self.modem.ping(self.cfg.health_timeout)
        except ModemError as exc:
            self._last_error = str(exc)
            return False
        finally:
            at.close()

    async def _retry(self, stop: asyncio.Event | None, why: str) -> bool:
        """Backoff loop until the modem is back; a power cycle once it stays silent."""
        delay, began, cycled = 1.0, time.monotonic(), False
        boot = getattr(self.modem.profile, "boot_seconds", 20.0)
        self._last_error = getattr(self, "_last_error", why)
        while stop is None or not stop.is_set():
            gone = not os.path.exists(self.path)
            if gone:
                self.state.set(PORT_GONE, f"{self.path} is gone (USB re-enumeration?); "
                                          "waiting for it to come back")
            else:
                self.state.set(WAITING, f"{why}; retrying {self.path} with backoff up to "
                                        f"{self.cfg.recovery_max_backoff:g} s")
            if not gone and await self._probe() and await self._try_start():
                self.recoveries += 1
                return True
            if self.power_key is not None and not cycled and \
                    time.monotonic() - began > 2 * boot:
                cycled = True
                self.state.set(POWER_CYCLING, f"no answer for {time.monotonic() - began:.0f} s "
                                              f"({self._last_error}); power-cycling the modem")
                await self.power_key.power_cycle()
                delay = 1.0
                continue
            if stop is not None:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except asyncio.TimeoutError:
                    pass
            else:
                await asyncio.sleep(delay)
            delay = min(delay * 2, self.cfg.recovery_max_backoff)
        return False

    # -- watching ----------------------------------------------------------------------------

    def _port_lost(self) -> None:
        self.modem.fail_call("modem port went away")
        self._lost_why = "the AT port went away"
        self._lost.set()

    def _audio_lost(self, why: str) -> None:
        """The call audio found its port lost (audio.PortLoss); any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._audio_gone, why)
        except RuntimeError:     # the loop closed meanwhile: the box is stopping
            pass

    def _audio_gone(self, why: str) -> None:
        if not self.modem.at.is_open:
            return       # already closed for a recovery: it reopens the audio too
        self.modem.fail_call(f"call audio lost ({why})")
        self._lost_why = f"the call audio went away ({why})"
        self._lost.set()

    async def run(self, stop: asyncio.Event) -> None:
        """The health check, until `stop` is set."""
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            lost = asyncio.ensure_future(self._lost.wait())
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({lost, stopping}, timeout=self.cfg.health_interval,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                lost.cancel()
                stopping.cancel()
            if stop.is_set():
                return
            if self._lost.is_set():
                await self.recover(self._lost_why or "the AT port went away", reset=False,
                                   stop=stop)
                continue
            if not self.modem.at.is_open:
                continue
            gone = self.audio.check() if hasattr(self.audio, "check") else None
            if gone:      # the sound card stopped calling back (its loss was logged)
                await self.recover(f"the call audio went away ({gone})", reset=False,
                                   stop=stop)
                continue
            if await self.modem.ping(self.cfg.health_timeout):
                continue
            # One lost reply is line noise; two are a modem that stopped answering.
            if await self.modem.ping(self.cfg.health_timeout):
                continue
            await self.recover("modem stopped answering", stop=stop)

    async def recover(self, why: str, reset: bool = True,
                      stop: asyncio.Event | None = None) -> None:
        modem = self.modem
        self.state.set(PORT_GONE if not reset else NOT_ANSWERING,
                       f"{why} on {self.path}; the line is out of service")
        modem.fail_call(why)
        if reset and modem.at.is_open:
            command = modem.profile.reset_command
            self.state.set(RESETTING, f"{why}; soft reset with {command}")
            try:
                await modem.at.command(command, timeout=self.cfg.health_timeout)
            except (ModemError, OSError) as exc:
                log.info("modem %s: %s not confirmed (%s)", modem.name, command, exc)
        self.audio.close()
        modem.close()
        self._flaps = self._flaps + 1 if time.monotonic() - self._ready_since < FLAP_SECONDS \
            else 0
        if self._flaps:
            pause = min(2.0 ** (self._flaps - 1), self.cfg.recovery_max_backoff)
            log.info("modem %s: lost again %.1f s after it came back; waiting %g s before "
                     "reopening", modem.name, time.monotonic() - self._ready_since, pause)
            if stop is not None:
                try:
                    await asyncio.wait_for(stop.wait(), pause)
                except asyncio.TimeoutError:
                    pass
            else:
                await asyncio.sleep(pause)
        await self._retry(stop, why)

    async def after_call(self) -> None:
        """The CRESET-after-hangup workaround (reference/modems.md 5.1), when configured."""
        if not self.cfg.reset_after_hangup or not self.modem.at.is_open:
            return
        command = self.modem.profile.reset_command
        self.state.set(RESETTING, f"resetting after the call with {command} "
                                  "(reset_after_hangup)")
        try:
            await self.modem.at.command(command, timeout=self.cfg.health_timeout)
        except (ModemError, OSError) as exc:
            log.info("modem %s: %s not confirmed (%s)", self.modem.name, command, exc)
        self.audio.close()
        self.modem.close()
        await self._retry(None, "reset after the call")
