"""What the call script says and hears: actions out, events in (call/script.py).

Both are plain data. An action names what the driver (call/driver.py) does next; the event
it sends back says how that ended. Time comes in events (`at`, seconds since the epoch):
the script owns no clock.
"""

from dataclasses import dataclass, field
from typing import Any

# Actions the driver answers at once with a DONE event; the script goes straight on.
NO_WAIT = {"say", "limit"}


@dataclass
class Action:
    kind: str                 # answer play wait_key record ring bridge ask commit
    #                           last_words hang_up finish say limit end
    # play: prompts in a row; ask: the question and its arguments; commit: outcomes
    names: tuple[object, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        # a commit's names are outcomes (records/outcomes.py): shown by their kind
        return " ".join([self.kind.upper()] + [
            str(n) if isinstance(n, (str, int, float)) else type(n).__name__
            for n in self.names])


@dataclass
class Event:
    kind: str                 # answered key timeout prompt_ended hangup cut failed
    #                           leg_accepted leg_failed bridge_ended recording_ended
    #                           committed commit_failed answer done
    value: Any = None         # key: the digit; cut: the limit; answer: the reply ...
    at: float = 0.0           # when it happened (the driver's clock)
    record: dict[str, Any] = field(default_factory=dict)   # facts for the call record (duty_legs ...)

    def __str__(self) -> str:
        return self.kind.upper() + ("" if self.value is None else f" {self.value}")


def act(kind: str, *names: object, **options: Any) -> Action:
    return Action(kind, tuple(names), options)
