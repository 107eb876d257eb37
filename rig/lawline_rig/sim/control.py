"""The control socket: one JSON object per line in, one JSON reply line out.

Fault, status and sms_deliver requests may name the line they are for, `"line": 2` (default 1,
`lawline sim --lines N`); "side" is then that line's "box" or "caller". sms_sent and
presentation are the network's, for every line.

    {"fault": "no_reply", "side": "box", "count": 2}  ->  {"ok": true}
    {"status": true}      ->  {"ok": true, "line": 1, "call": ..., "box": ..., "caller": ...,
                               "calls": [every call in progress, any line]}
    {"sms_sent": true}            ->  {"ok": true, "sms_sent": [{"from", "to", "text", "parts",
                                       "complete", "references"}, ...]}  (the outside world)
    {"sms_deliver": {"to": "box", "from": "10086", "text": "..."}}  ->  {"ok": true}
        (optional "from_type": "alphanumeric" sends from a name such as "ICBC", or spelt
        "13900000001"; "national" from a national number, TON 010)
    {"presentation": {"number": "+8613800138000", "withheld": false, "clip_tail": "none",
                      "cid_spacing": "tight", "cid_name": "ZHANG", "cid_withheld": "O"}}
                                  ->  {"ok": true, "presentation": {...}}
    {"markers": "on"|"read"|"off", "side": "box", "tones": {"out_of_host": 1000}}
                                  ->  {"ok": true, "into_host": {"times", "positions"},
                                       "out_of_host": {...}, "playout_underruns", ...}
        (clicks, probe/clicks.py, seen at that side's serial PCM port with their times, and
        the onsets of the tones named; "on" starts afresh, "read" and "off" answer what was
        seen; for the benches)
"""

import asyncio
import json
import logging

from . import faults

log = logging.getLogger("lawline_rig.sim")

USAGE = ('expected {"fault": NAME, "side": "box"|"caller", "count": N}, {"status": true}, '
         '{"sms_sent": true}, {"sms_deliver": {...}} or {"presentation": {...}}, '
         'optionally with "line": N')


class ControlServer:
    def __init__(self, path, lines, line):
        self.path = path
        self.lines = lines  # per line: {"box": SimModem, "caller": SimModem}
        self.line = line
        self._server = None
        self.on_ports_changed = None  # set by the server: moves links, rewrites sim.json

    async def start(self):
        self._server = await asyncio.start_unix_server(self._client, path=self.path)

    async def close(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader, writer):
        try:
            while True:
                try:
                    raw = await reader.readline()
                except ValueError:  # longer than the stream limit
                    writer.write(b'{"ok": false, "error": "request line too long"}\n')
                    break
                if not raw:
                    break
                if not raw.strip():
                    continue
                reply = self.handle(raw)
                writer.write(json.dumps(reply).encode("utf-8") + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def handle(self, raw):
        try:
            message = json.loads(raw)
        except ValueError as exc:
            return {"ok": False, "error": f"not JSON ({exc}); {USAGE}"}
        if not isinstance(message, dict):
            return {"ok": False, "error": USAGE}
        line_no = message.get("line", 1)
        if not isinstance(line_no, int) or isinstance(line_no, bool) or \
                not 1 <= line_no <= len(self.lines):
            return {"ok": False, "error": f"line must be a line number from 1 to "
                                          f"{len(self.lines)}, not {line_no!r}"}
        modems = self.lines[line_no - 1]
        if "fault" in message:
            try:
                faults.apply(message, modems)
            except faults.FaultError as exc:
                log.info("sim: fault request refused: %s", exc)
                return {"ok": False, "error": str(exc)}
            return {"ok": True}
        if "markers" in message:
            return self.markers(modems, message)
        if message.get("status"):
            return {"ok": True, **self.status(line_no)}
        if message.get("sms_sent"):
            return {"ok": True, "sms_sent": self.line.mailbox.listing()}
        if "sms_deliver" in message:
            spec = message["sms_deliver"]
            try:
                to = spec.get("to", "box")
                if to not in modems:
                    raise ValueError(f"'to' must be 'box' or 'caller', not {to!r}")
                self.line.sms_from_outside(modems[to].side, str(spec["from"]),
                                           str(spec["text"]), spec.get("from_type"))
            except (KeyError, ValueError, StopIteration, AttributeError) as exc:
                return {"ok": False, "error": f"sms_deliver needs to, from and text: {exc}"}
            return {"ok": True}
        if "presentation" in message:
            try:
                self.line.set_presentation(dict(message["presentation"]))
            except (TypeError, ValueError) as exc:
                return {"ok": False, "error": str(exc)}
            return {"ok": True, "presentation": self.line.presentation}
        return {"ok": False, "error": USAGE}

    def markers(self, modems, message):
        from .audio import MarkerTap, PcmStream
        side, what = message.get("side", "box"), message["markers"]
        if side not in modems:
            return {"ok": False, "error": f"side must be 'box' or 'caller', not {side!r}"}
        stream = modems[side].pcm
        if not isinstance(stream, PcmStream):
            return {"ok": False, "error": "markers need a serial PCM port (SIM7600, EC25)"}
        if what == "on":
            tones = message.get("tones") or {}
            if not isinstance(tones, dict) or not set(tones) <= {"into_host", "out_of_host"} \
                    or not all(isinstance(hz, (int, float)) and 0 < hz < 4000
                               for hz in tones.values()):
                return {"ok": False, "error": "tones must map 'into_host' or 'out_of_host' "
                                              "to a frequency in Hz below 4000"}
            stream.tap = MarkerTap(tones)
            return {"ok": True}
        if what not in ("read", "off"):
            return {"ok": False, "error": f"markers must be 'on', 'read' or 'off', not {what!r}"}
        tap = stream.tap
        if what == "off":
            stream.tap = None
        if tap is None:
            return {"ok": False, "error": "markers are not on"}
        return {"ok": True, **tap.report(stream)}

    def status(self, line_no=1):
        """Line `line_no`'s modems, keyed "box" and "caller", and its box's (else its
        caller's) call; "calls" lists every call on the loopback line."""
        modems = self.lines[line_no - 1]

        def described(call):
            return {"from": call.origin.side, "to": call.target.side, "state": call.state,
                    "rings": call.rings}
        call = self.line.party(modems["box"]) or self.line.party(modems["caller"])
        out = {"line": line_no, "call": None if call is None else described(call),
               "calls": [described(c) for c in self.line.calls]}
        for side, modem in modems.items():
            out[side] = {"pcm": modem.pcm.on, "echo": modem.echo, "clip": modem.clip,
                         "booting": modem.booting(), "faults": modem.faults.pending(),
                         "profile": modem.profile.name, "at": modem.port.path,
                         "sms_stored": sorted(modem.sms.store) if modem.sms else [],
                         # a voice modem's hook (V.253): off-hook until the box hangs up
                         "off_hook": getattr(modem, "off_hook", None)}
        return out
