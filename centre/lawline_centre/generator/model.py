"""How a county's line is used over a year: the stories of its calls, with no box code.

Volumes follow what provincial 12348 reports give (Anhui: 295,200 calls in a year over a
province of about 100 counties, so a few to ten calls a county a day), spread over:
- the week: Monday busiest, the weekend a third of a weekday;
- the day: morning and afternoon peaks, a few calls at night;
- China's public holidays and make-up working days (chinese_calendar, the State Council's
  notices): a holiday like a Sunday, a make-up Saturday like a weekday;
- bursts: a few days a year a county's calls triple (a local dispute, a broadcast);
- outages: the box down for a day or a week (no calls taken, no health report: the centre
  must list it as silent), and uplink outages (calls taken, uploads late: the backlog rises).

Each call is a story (what the caller presses, whether a duty person answers and how fast,
how long they talk, the rating), which the box's own call script then turns into records
(boxcode.py). Seeded: the same seed gives the same stories.
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass, field

import chinese_calendar

NAMES = ("青山", "白水", "石门", "桃源", "安平", "永宁", "长乐", "清河", "金川", "玉屏", "临江",
         "东阳", "西林", "南丰", "北安", "丰城", "和平", "太和", "新田", "宁远", "双峰", "龙泉",
         "凤台", "云溪", "梅岭", "松阳", "柳江", "兰溪", "竹山", "枫林")
WEEKDAY = (1.25, 1.1, 1.0, 1.0, 0.95, 0.35, 0.3)
# share of the day's calls in each hour (office time); office hours 08:30-17:30
HOURLY = (0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 4.5, 9.0, 10.0, 8.5, 4.0, 4.5, 8.5, 9.5,
          8.5, 6.0, 3.5, 3.0, 2.5, 2.0, 1.2, 0.6)
TOPICS = ("婚姻家庭", "劳动争议", "土地纠纷", "债务合同", "交通事故", "邻里纠纷", "其他")


def county_id(n):
    return f"county-{n:03d}"


def county_name(n):
    base = NAMES[(n - 1) % len(NAMES)]
    return base + ("县" if n <= len(NAMES) else f"{(n - 1) // len(NAMES) + 1}区" if n % 3
                   else f"{(n - 1) // len(NAMES) + 1}县")


@dataclass
class County:
    n: int
    per_day: float                  # a weekday's mean calls
    answer_p: float                 # share of calls for a person that a duty person takes
    ring_mean: float                # seconds a duty phone rings before it is taken
    resolve_hours: float            # median time to resolve a case
    signal: int                     # dBm
    down: set = field(default_factory=set)      # days the box was off
    late: dict = field(default_factory=dict)    # day -> hours its uploads were held back
    bursts: set = field(default_factory=set)

    @property
    def id(self):
        return county_id(self.n)

    @property
    def name(self):
        return county_name(self.n)


@dataclass
class Story:
    at: float                       # epoch seconds the line rang
    caller: str
    keys: list                      # digits the caller presses, in order
    hangup_s: float | None = None   # hangs up this long after the answer (None: stays)
    accept: bool = True             # a duty person takes it
    ring_s: float = 8.0
    talk_s: float = 180.0
    voicemail_s: float = 30.0
    resolve_after_h: float | None = None     # None: the case stays open
    topic: str = ""


def counties(count, seed=1, days=None):
    rng = random.Random(seed)
    out = []
    for n in range(1, count + 1):
        c = County(n=n, per_day=max(0.8, rng.lognormvariate(math.log(5.0), 0.55)),
                   answer_p=min(0.97, max(0.55, rng.gauss(0.86, 0.08))),
                   ring_mean=max(3.0, rng.lognormvariate(math.log(9.0), 0.45)),
                   resolve_hours=max(4.0, rng.lognormvariate(math.log(30.0), 0.7)),
                   signal=rng.randint(-105, -60))
        if days and len(days) >= 14:    # a stretch long enough for trouble; a day is a day
            day_list = list(days)
            trouble = random.Random(f"trouble-{seed}-{n}")
            for _ in range(trouble.choice((0, 0, 1, 1, 2))):        # box down
                start = trouble.randrange(len(day_list))
                for d in day_list[start:start + trouble.choice((1, 1, 2, 3, 7))]:
                    c.down.add(d)
            for _ in range(trouble.choice((0, 1, 2, 3))):           # uplink down
                start = trouble.randrange(len(day_list))
                for i, d in enumerate(day_list[start:start + trouble.choice((1, 2, 4))]):
                    c.late[d] = 24.0 * (i + 1)
            for _ in range(trouble.choice((0, 1, 2))):              # bursts
                start = trouble.randrange(len(day_list))
                c.bursts.update(day_list[start:start + trouble.choice((1, 2, 3))])
        out.append(c)
    return out


def day_factor(day: datetime.date) -> float:
    try:
        if chinese_calendar.is_holiday(day):
            return WEEKDAY[6] if day.weekday() < 5 or _festival(day) else WEEKDAY[day.weekday()]
        if day.weekday() >= 5:          # a make-up working day (调休)
            return WEEKDAY[0] * 0.9
    except NotImplementedError:         # a year the calendar does not know yet
        pass
    return WEEKDAY[day.weekday()]


def _festival(day):
    try:
        return chinese_calendar.get_holiday_detail(day)[1] is not None
    except NotImplementedError:
        return False


def stories(county: County, day: datetime.date, rng: random.Random, tz):
    """The calls of one county on one day, in order."""
    if day in county.down:
        return []
    mean = county.per_day * day_factor(day) * (3.0 if day in county.bursts else 1.0)
    count = _poisson(rng, mean)
    midnight = datetime.datetime.combine(day, datetime.time(0), tz).timestamp()
    times = sorted(midnight + rng.choices(range(24), HOURLY)[0] * 3600 + rng.random() * 3600
                   for _ in range(count))
    return [_story(county, at, rng) for at in times]


def _poisson(rng, mean):
    # Knuth for small means, normal above
    if mean > 40:
        return max(0, int(rng.gauss(mean, math.sqrt(mean)) + 0.5))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _story(county, at, rng):
    caller = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
    if rng.random() < 0.08:
        caller = "0773" + "".join(rng.choice("0123456789") for _ in range(7))
    s = Story(at=at, caller=caller, keys=[], ring_s=max(1.0, rng.expovariate(
        1 / county.ring_mean)), talk_s=rng.lognormvariate(math.log(240), 0.7),
        voicemail_s=max(1.5, rng.lognormvariate(math.log(35), 0.6)), topic=rng.choice(TOPICS))
    r = rng.random()
    if r < 0.07:                                  # hangs up in the greeting
        s.hangup_s = rng.choice((rng.uniform(0.5, 4.9), rng.uniform(5, 20)))
        return s
    if r < 0.10:                                  # no key at all
        return s
    branch = rng.choices("123459", (62, 10, 3, 5, 3, 4))[0]
    s.keys.append(branch)
    s.accept = rng.random() < county.answer_p
    if branch == "1" and s.accept and rng.random() < 0.65:
        s.keys.append(rng.choices("54321", (60, 25, 8, 4, 3))[0])         # the rating
    if branch == "5":
        s.keys.append("#")                        # no staff number named
    if branch == "4":
        s.keys.append("1")                        # the first department
    if branch == "9":
        s.keys.extend(list("2601010001") + ["#", "#"])
    if branch != "9" and rng.random() < 0.93:
        s.resolve_after_h = rng.lognormvariate(math.log(county.resolve_hours), 0.9)
    return s
