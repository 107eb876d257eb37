"""What a simulated command answers: information lines, success or a typed failure, and what
to do once the answer is out. Also the two helpers most commands are made of: a fixed line,
and a numeric setting (=<n>, ?, =?)."""


class Reply:
    """What one command produced: information lines, success, and what to do once answered.
    `final` replaces ERROR when the command failed with a typed result (+CMS ERROR: 304)."""

    __slots__ = ("lines", "ok", "then", "final")

    def __init__(self, lines=(), ok=True, then=None, final=None):
        self.lines = list(lines)
        self.ok = ok
        self.then = then
        self.final = final


ERROR = Reply(ok=False)


def _flag(args, allowed=("0", "1")):
    """The first parameter if it is one of `allowed`, else None."""
    if args and args[0] in allowed:
        return args[0]
    return None


def fixed(text):
    """A command answering one fixed line (with =? answering OK)."""
    def handler(self, kind, args):
        if kind == "exec":
            return Reply([text(self) if callable(text) else text])
        if kind == "test":
            return Reply()
        return ERROR
    return handler


def setting(attr, name, allowed=("0", "1"), read_suffix=""):
    """A numeric setting: =<n> sets, ? reads, =? lists the values."""
    def handler(self, kind, args):
        if kind == "set":
            value = _flag(args, allowed)
            if value is None:
                return ERROR
            setattr(self, attr, int(value))
            return Reply()
        if kind == "read":
            return Reply([f"{name}: {int(getattr(self, attr))}{read_suffix}"])
        if kind == "test":
            return Reply([f"{name}: ({allowed[0]}-{allowed[-1]})"])
        return ERROR
    return handler
