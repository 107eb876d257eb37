"""The house's layers point down only (issue 16.3), read from the code's own imports (ast):
no import cycles, no import from a lower layer to a higher one, the box never imports the
rig or the centre, and a function-level import only where a heavy or optional dependency is
lazy on purpose (each one listed below with why)."""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware" / "lawline"

# From the ground up. A module may import its own layer and the layers below.
LAYERS = [
    # the ground: plain facts and small tools every part may use
    {"errors", "events", "phone", "secretfile", "sdnotify", "status", "settings", "clock",
     "prompts", "hat", "__init__"},
    # the parts, each talking to one kind of thing: modems, SIP, storage and upload, the rota,
    # RAUC (update: field updates)
    {"line", "sip", "sync", "duty", "update"},
    # the office's rules: cases, the ledger, SMS, reports
    {"records"},
    # one call as a script, and its driver
    {"call"},
    # reading the configuration (it calls each part's checks)
    {"config"},
    # the composition root's builders
    {"build"},
    # what holds the whole config: the box, its check, the office page, the shell commands
    {"app", "check", "web", "commands"},
    # the command line, and `python -m lawline`
    {"cli"},
    {"__main__"},
]
# Parts of one layer that may use each other, and why; any other sideways import is an error.
SIDEWAYS = {
    ("duty", "sip"): "a rota row is checked against the dial plan (sip/dialplan.py)",
    ("sip", "line"): "the media bridge and the line share the frame size and silence",
}
# Function-level imports that are lazy on purpose: (module, imported) -> why.
LAZY = {
    ("lawline.cli", "*"): "each command loads only its own parts: `lawline config` and "
                          "`check` never load pjsua2, `web` alone loads Starlette",
    ("lawline.check", "lawline.line"): "the modem probe opens serial ports: only without "
                                       "--no-modem",
    ("lawline.check", "lawline.sip"): "pjsua2 may be missing where check runs; it says so",
    ("lawline.check", "lawline.duty"): "the rota files are read only after the config passed",
    ("lawline.check", "lawline.sync"): "the outbox is opened only when the spool exists",
    ("lawline.check", "lawline.commands"): "the upload rows share `lawline outbox`'s reader",
    ("lawline.duty.calendar", "chinese_calendar"): "its data module is read when a year is "
                                                    "first asked about",
    ("lawline.duty.sheets", "openpyxl"): "only an XLSX rota needs it (about 10 MB resident)",
    ("lawline.duty.sheets", "zipfile"): "memory on a Pi: only an XLSX rota is a zip (0.24 MB "
                                        "of Python objects, lawline_rig.importcost)",
    ("lawline.prompts", "argparse"): "memory on a Pi: the prompt renderer's command line, "
                                     "never the box's process (0.3 MB)",
    ("lawline.records.office", "lawline.records.report"): "memory on a Pi: statistics, "
                                                          "decimal, html for the daily and "
                                                          "weekly jobs, off the call path "
                                                          "(0.7 MB, 9 modules)",
    ("lawline.sync.settings", "lawline.sync.mail"): "memory on a Pi: smtplib only on a box "
                                                    "with [email]",
    ("lawline.sync.settings", "lawline.sync.s3"): "memory on a Pi: only on a box with [s3]",
    ("lawline.update", "urllib"): "memory on a Pi: only `lawline update` downloads a bundle, "
                                  "never the box's process (0.7 MB of Python objects)",
    ("lawline.hat", "gpiozero"): "only a box with pins set uses GPIO",
    ("lawline.hat", "importlib.metadata"): "the pin factories installed, only when asked",
    ("lawline.line", "lawline.line"): "a line's driver by its profile: V.253 or GSM",
    ("lawline.app", "lawline.line.v253"): "the V.253 driver loads numpy (line/voice.py): "
                                          "only a voice modem's box sets its silence time",
    ("lawline.line.modem", "lawline.line"): "a sound-card line loads numpy and PortAudio",
    ("lawline.line.soundcard", "sounddevice"): "PortAudio, for sound-card lines only",
    ("lawline.line.supervisor", "lawline.status"): "status names for the LED",
    ("lawline.sip.door", "pjsua2"): "check reports where SIP listens without pjsua2",
    ("lawline.web.officepages", "openpyxl"): "only the XLSX download needs it",
    ("lawline.web.server", "*"): "`lawline web user add` runs without starting the page",
    ("lawline.web.app", "lawline.web"): "the pages are routes of the app they are built by",
    ("lawline.web.pages", "*"): "the page's own modules, loaded with their routes",
    ("lawline.web.officepages", "lawline.web.dutypages"): "the duty page shows who signed "
        "off, which dutypages (built on the pages) changes",
}


def modules(root, package):
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name, path):
    """(imported module or name, at function level?) of every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inner = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef,
                                                              ast.AsyncFunctionDef))
             for n in ast.walk(f)}
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            yield target, id(node) in inner


def resolve(target, known):
    while target not in known and "." in target:
        target = target.rsplit(".", 1)[0]
    return target if target in known else None


def graph(root):
    known = modules(root, root.name)
    edges, lazy = defaultdict(set), []
    for name, path in known.items():
        for target, inner in imports(name, path):
            found = resolve(target, known)
            if inner:
                lazy.append((name, found or target))
            elif found and found != name:
                edges[name].add(found)
    return known, edges, lazy


def cycles(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def part(module):
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else "__init__"


def layer(module):
    return next(i for i, names in enumerate(LAYERS) if part(module) in names)


def test_every_module_has_a_layer():
    known, _, _ = graph(FIRMWARE)
    missing = sorted({part(m) for m in known} - set().union(*LAYERS))
    assert not missing, f"give these a layer in LAYERS: {missing}"


def test_no_import_cycles_in_the_box_the_rig_or_the_centre():
    for root in (FIRMWARE, ROOT / "rig" / "lawline_rig", ROOT / "centre" / "lawline_centre"):
        if root.is_dir():
            _, edges, _ = graph(root)
            assert cycles(edges) == [], root


def test_imports_point_down_only():
    _, edges, _ = graph(FIRMWARE)
    upward = []
    for source, targets in edges.items():
        for target in targets:
            a, b = layer(source), layer(target)
            if b > a or (b == a and part(source) != part(target) and
                         (part(source), part(target)) not in SIDEWAYS and a > 0):
                upward.append(f"{source} -> {target}")
    assert not upward, "imports that do not point down:\n" + "\n".join(sorted(upward))


def test_the_box_never_imports_the_rig_or_the_centre():
    for name, path in modules(FIRMWARE, "lawline").items():
        for target, _ in imports(name, path):
            assert not target.startswith(("lawline_rig", "lawline_centre")), (name, target)


def test_function_level_imports_are_lazy_on_purpose_only():
    _, _, lazy = graph(FIRMWARE)
    unexplained = []
    for source, target in lazy:
        allowed = [why for (mod, what), why in LAZY.items()
                   if mod == source and (what == "*" or target == what or
                                         target.startswith(what + "."))]
        if not allowed:
            unexplained.append(f"{source} imports {target} inside a function")
    assert not unexplained, "\n".join(sorted(set(unexplained)))
