"""V.250 command-line parsing for the simulated modems: what follows "AT", split into commands.

Pure functions, no state: the modem (modem.py) decides what each command does.
"""

import re

CR, LF, BS = 0x0D, 0x0A, 0x08
# Longest command line kept; the rest is dropped (V.250 lets a DCE bound this).
MAX_LINE = 1024

EXTENDED_COMMAND = re.compile(r"([+^$*#%!][A-Z0-9]+)\s*(=\s*\?|\?|=(.*))?", re.I | re.S)
S_REGISTER = re.compile(r"S(\d+)(=\d*|\?)?", re.I)
BASIC_COMMAND = re.compile(r"&?[A-Z]\d*", re.I)


def split_commands(body):
    """Split what follows "AT" into single commands (V.250 5.2.1: basic commands run together,
    extended ones end at ';'; D takes the rest of the line). ValueError if it cannot be parsed."""
    out = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c in " ;":
            i += 1
        elif c in "+^$*#%!":
            j, quoted = i + 1, False
            while j < n and (quoted or body[j] != ";"):
                if body[j] == '"':
                    quoted = not quoted
                j += 1
            out.append(body[i:j].strip())
            i = j + 1
        elif c in "dD":
            out.append(body[i:])
            break
        elif c in "sS":
            m = S_REGISTER.match(body, i)
            if not m:
                raise ValueError(f"bad S-register command in {body!r}")
            out.append(m.group(0))
            i = m.end()
        else:
            m = BASIC_COMMAND.match(body, i)
            if not m:
                raise ValueError(f"cannot parse {body[i:]!r}")
            out.append(m.group(0))
            i = m.end()
    return out


def split_args(text):
    """Comma-separated parameters; commas inside quotes stay. Quotes are kept."""
    args, cur, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    args.append("".join(cur).strip())
    return args


def unquote(arg):
    if len(arg) >= 2 and arg[0] == '"' and arg[-1] == '"':
        return arg[1:-1]
    return arg


def frame(text):
    return b"\r\n" + text.encode("latin-1", "replace") + b"\r\n"


def edit_line(raw):
    """The command text of a raw line: backspace (S5) deletes, other control bytes are dropped."""
    out = []
    for b in raw:
        if b == BS:
            if out:
                out.pop()
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
    return "".join(out)
