"""The menu engine: which branch a key leads to, and when the caller has had enough tries.

Pure logic, no I/O: the call flow feeds it keys and silences and acts on its decisions.
The keys follow the duties of the national notice (DESIGN.md, "Why the box exists").
"""

from dataclasses import dataclass

# key -> (branch, what the branch is for)
BRANCHES = {
    "1": ("consultation", "bridge to the duty lawyer; voicemail if nobody accepts"),
    "2": ("service_request", "voicemail recorded as a case"),
    "3": ("urgent", "urgent dispute: ring every mediator at once; voicemail if nobody accepts"),
    "4": ("referral", "hear the other departments, get the chosen one by SMS"),
    "5": ("complaint", "separate voicemail box that never rings the person on duty"),
    "9": ("case_status", "key a case number, hear its status"),
    "0": ("repeat", "hear the menu again"),
}


@dataclass(frozen=True)
class Decision:
    action: str          # branch | repeat | invalid | no_key | give_up (tries used up)
    branch: str = None
    key: str = None


class Menu:
    def __init__(self, max_tries=3, branches=None):
        self.max_tries = max_tries
        self.branches = branches or BRANCHES
        self.failures = 0
        self.path = []   # what the caller did, for the call record: ["1"], ["x9", "timeout", "2"]

    def key(self, digit):
        if digit in self.branches:
            branch = self.branches[digit][0]
            self.path.append(digit)
            if branch == "repeat":
                # A repeat is a try too: a caller keying 0 forever would hold the line (one
                # call at a time) for as long as it likes ([menu] max_tries).
                self.failures += 1
                if self.failures >= self.max_tries:
                    return Decision("give_up", key=digit)
                return Decision("repeat", key=digit)
            return Decision("branch", branch=branch, key=digit)
        self.path.append(f"invalid:{digit}")
        return self._fail("invalid", digit)

    def timeout(self):
        self.path.append("timeout")
        return self._fail("no_key", None)

    def _fail(self, action, digit):
        self.failures += 1
        if self.failures >= self.max_tries:
            return Decision("give_up", key=digit)
        return Decision(action, key=digit)
