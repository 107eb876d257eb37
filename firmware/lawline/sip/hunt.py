"""Finding a duty person: one after the other (key 1) or all at once (key 3, urgent).

Everything the box dials goes through `Dialler.place`, which refuses any number that is not
a duty lawyer, a mediator, a rota member or a configured referral, or that the dial plan
bars (sip/dialplan.py): a caller's keys never reach it, and neither does a far end's REFER
(sip/door.py; toll fraud is the classic attack on gateways; DESIGN.md, Security).

The callee hears a whisper made of prompts: what kind of call it is, "press 1 to accept, 2 to
decline", and the caller's number digit by digit (reference/field.md, complaint 1).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..prompts import PromptMissing, Prompts, read_pcm, write_wav
from ..phone import national as _normal
from .leg import confirm_leg, hang_up
from .leg import Leg, LegCore, LegResult, Placer

if TYPE_CHECKING:
    from ..settings import DutySection, SipSection
    from .dialplan import DialPlan

log = logging.getLogger("lawline.sip")

WHISPER_CATEGORIES = ("consultation", "urgent")
# A header added to an INVITE: (name, value)
Header = tuple[str, str]


class RotaPerson(Protocol):
    @property
    def mobile(self) -> str: ...


class RotaEntry(Protocol):
    """One rota row, as the dialler reads it (duty/roster.Entry)."""
    @property
    def order(self) -> int: ...
    @property
    def where(self) -> str: ...
    @property
    def person(self) -> RotaPerson: ...


class Rota(Protocol):
    @property
    def entries(self) -> Sequence[RotaEntry]: ...


class RotaSource(Protocol):
    """The duty desk, as the dialler reads who is on its rota (duty/desk.DutyDesk)."""
    def reload(self) -> bool: ...
    @property
    def roster(self) -> Rota: ...


class LegKeeper(LegCore, Protocol):
    """The media core, as the dialler uses it: it keeps each new leg alive (sip/endpoint),
    and its legs use it as a LegCore (sip/leg.py)."""
    def keep(self, obj: object) -> object: ...


class TrunkDialling(Protocol):
    """The SIP trunk, as the dialler uses it (sip/trunk.py)."""
    def uri_for(self, number: str) -> str: ...
    def call_headers(self) -> list[Header]: ...
    def suspect(self, code: int) -> None: ...


def destinations(duty: DutySection, desk: RotaSource | None = None) -> dict[str, str]:
    """Every number the box may dial, with where it comes from ("[duty] referrals",
    "rota.csv row 5"): the [duty] section's numbers, mediators and referrals, and everyone
    in the duty rota (`desk`, duty/desk.DutyDesk) when there is one."""
    out: dict[str, str] = {}
    for option in ("numbers", "mediators", "referrals"):
        for number in getattr(duty, option, ()) or ():
            out.setdefault(_normal(number), f"[duty] {option}")
    if desk is not None:
        try:
            desk.reload()
            for entry in sorted(desk.roster.entries, key=lambda e: e.order):
                out.setdefault(_normal(entry.person.mobile), entry.where or "the rota")
        except Exception as exc:  # noqa: BLE001 - a broken rota must not open the dialler
            log.warning("toll-fraud guard: rota not readable (%s); only [duty] numbers", exc)
    out.pop("", None)
    return out


def allowed_destinations(duty: DutySection, desk: RotaSource | None = None) -> frozenset[str]:
    return frozenset(destinations(duty, desk))


class Dialler:
    """Turns an allowed number into a Leg, through the trunk when there is one, else
    directly by [sip] uri_template. Allowed: named by a duty list or the rota, and inside
    the dial plan (sip/dialplan.py), checked here again however the number got in.

    It gets its own parts only: the [duty] section (who may be dialled), the [sip] section
    (uri_template, without a trunk), the dial plan, the trunk and the duty desk."""

    def __init__(self, core: LegKeeper, account: object, *, duty: DutySection, sip: SipSection,
                 plan: DialPlan, trunk: TrunkDialling | None = None,
                 desk: RotaSource | None = None,
                 extra: Iterable[tuple[str, str, str]] = ()) -> None:
        self.core = core
        self.account = account
        self.sip = sip
        self.trunk = trunk
        self.sources = destinations(duty, desk)
        # issue 17: the urgent ladder's office head and prefecture number (purpose "duty"),
        # the prefecture's switchboard (purpose "switchboard" only): (number, where, purpose)
        self.extra = {(purpose, _normal(number)): where for number, where, purpose in extra
                      if _normal(number)}
        for (purpose, number), where in self.extra.items():
            if purpose == "duty":
                self.sources.setdefault(number, where)
        self.allowed = frozenset(self.sources)
        self.plan = plan            # sip/dialplan.DialPlan

    def uri(self, number: str) -> str:
        if self.trunk is not None:
            return self.trunk.uri_for(number)
        return self.sip.uri_template.format(number=number)

    def place(self, number: str, purpose: str = "duty",
              headers: Sequence[Header] = ()) -> Leg | None:
        """A new, not yet dialled Leg, or None (logged) when `number` may not be called.
        `purpose` "switchboard": the prefecture's switchboard, the only number allowed for
        it (and allowed for nothing else); `headers`: added to the INVITE."""
        where = self.sources.get(_normal(number)) if purpose == "duty" else \
            self.extra.get((purpose, _normal(number)))
        if where is None or not number.lstrip("+").isdigit():
            log.error("toll-fraud guard: refused to dial %r: not a duty, mediator, rota or "
                      "referral number%s", number,
                      "" if purpose == "duty" else f" (nor the {purpose} for that use)")
            return None
        why = self.plan.refusal(number, purpose)
        if why:
            log.error("toll-fraud guard: refused to dial %r (from %s): %s", number, where,
                      why)
            return None
        sent = [*(self.trunk.call_headers() if self.trunk is not None else ()), *headers]
        leg = Leg(self.account, self.core, number, self.uri(number), sent)
        self.core.keep(leg)
        return leg

    def leg_failed(self, result: LegResult) -> None:
        if self.trunk is not None and result.code in (408, 503):
            self.trunk.suspect(result.code)


def build_whisper(prompts: Prompts, category: str, caller: str | None,
                  out_path: str | os.PathLike[str]) -> Path:
    """The whisper WAV for one call. Falls back to the plain `whisper` prompt if a part is
    missing, so a missing recording never stops a call from being put through."""
    # The keys come before the number: the confirm timeout may run out before a mobile
    # number has been read out digit by digit.
    names = [f"whisper_{category}", "whisper_keys"]
    digits = [d for d in (caller or "") if d.isdigit()]
    if digits:
        names += ["whisper_caller"] + [f"digit_{d}" for d in digits]
    else:
        names.append("whisper_withheld")
    try:
        whisper: Path = prompts.concat(names, out_path, gap=0.05)
        return whisper
    except (PromptMissing, OSError) as exc:
        log.warning("whisper: %s; using the plain whisper prompt", exc)
        plain: Path = prompts.path("whisper")
        return plain


class Handover:
    """The dialler for handing a call up to the prefecture's switchboard (issue 17.9a): the
    one number for that use, with the overflow headers (sip/switchboard.overflow_headers)."""

    def __init__(self, dialler: Dialler, headers: Iterable[Header]) -> None:
        self.dialler = dialler
        self.core = dialler.core
        self.headers = list(headers)

    def place(self, number: str) -> Leg | None:
        return self.dialler.place(number, purpose="switchboard", headers=self.headers)

    def leg_failed(self, result: LegResult) -> None:
        self.dialler.leg_failed(result)


COUNTY_PROMPT = "switchboard_county"


def render_county_prompt(prompts_dir: str | Path, office_name: str) -> list[str]:
    """The switchboard whisper's first words, "<the county's line> transfers a caller",
    written into the spool's prompts (the office's name is in its config, not in the
    repository) and rendered when it changed; a recorded switchboard_county.wav wins."""
    prompts = Prompts(prompts_dir)
    prompts.dir.mkdir(parents=True, exist_ok=True)
    path = prompts.dir / f"{COUNTY_PROMPT}.txt"
    words = f"{office_name}转来的来电。"
    if not path.exists() or path.read_text(encoding="utf-8").strip() != words:
        path.write_text(words + "\n", encoding="utf-8")
    rendered: list[str] = prompts.render_missing()
    return rendered


def build_switchboard_whisper(prompts: Prompts, county_dir: str | Path,
                              caller: str | None, out_path: Path) -> Path:
    """What the switchboard's agent hears before the caller is put through: the county's
    line by name, then the caller's number digit by digit. Without the county prompt (not
    rendered: no espeak-ng) the urgent whisper's words stand in; never stops the hand-over."""
    digits = [d for d in (caller or "") if d.isdigit()]
    names = (["whisper_caller"] + [f"digit_{d}" for d in digits]) if digits else \
        ["whisper_withheld"]
    try:
        try:
            first: list[Path] = [Prompts(county_dir).path(COUNTY_PROMPT)]
        except PromptMissing as exc:
            log.warning("switchboard whisper: %s; the county is not named", exc)
            first = [prompts.path("whisper")]
        silence = bytes(2 * int(0.05 * 8000))
        pcm = silence.join(read_pcm(p) for p in first + [prompts.path(n) for n in names])
        write_wav(out_path, pcm)
        return out_path
    except (PromptMissing, OSError) as exc:
        log.warning("switchboard whisper: %s; using the plain whisper prompt", exc)
        plain: Path = prompts.path("whisper")
        return plain


async def sequential(dialler: Placer, numbers: Iterable[str], whisper: Path, ring_timeout: float,
                     confirm_timeout: float,
                     caller_gone: asyncio.Event) -> tuple[list[LegResult], Leg | None]:
    """Ring the numbers one after the other. Returns (results, accepted leg or None); stops
    at the caller hanging up (last result 'caller_gone')."""
    results: list[LegResult] = []
    for number in numbers:
        result, leg = await confirm_leg(dialler, number, whisper, ring_timeout,
                                        confirm_timeout, caller_gone)
        results.append(result)
        if leg is not None:
            return results, leg
        if result.outcome == "caller_gone":
            break
    return results, None


async def ring_all(dialler: Placer, numbers: Sequence[str], whisper: Path, ring_timeout: float,
                   confirm_timeout: float,
                   caller_gone: asyncio.Event) -> tuple[list[LegResult], Leg | None]:
    """Ring every number at once; the first to press 1 wins, the others are cancelled
    (CANCEL while ringing, BYE once answered). Returns (results, accepted leg or None)."""
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(confirm_leg(dialler, n, whisper, ring_timeout,
                                               confirm_timeout, caller_gone, stop))
             for n in dict.fromkeys(numbers)]
    log.info("urgent: ringing %d mediator(s) at once: %s", len(tasks), ", ".join(numbers))
    winner: Leg | None = None
    results: dict[asyncio.Future[tuple[LegResult, Leg | None]], LegResult] = {}
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            # Two may accept in the same instant: the quicker one wins, the other is hung up.
            for task in sorted(done, key=lambda t: t.result()[0].seconds_to_answer or 1e9):
                result, leg = task.result()
                results[task] = result
                if leg is None:
                    continue
                if winner is None:
                    winner = leg
                    stop.set()
                    log.info("urgent: %s accepted first; cancelling the others", leg.number)
                else:
                    result.outcome = "cancelled"
                    log.info("urgent: %s accepted too late; hanging up", leg.number)
                    await hang_up(dialler.core, leg)
    finally:
        stop.set()
        for task in tasks:
            if not task.done():
                task.cancel()
    return [results[t] for t in tasks if t in results], winner
