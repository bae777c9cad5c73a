"""What the guard knows while it walks a line: the shell's state as far as it can be told before
the line runs (variables, arrays, positional parameters, functions, aliases, what is exported to
child processes, the working folder, the branch a checkout switched to, files written earlier),
the findings so far, and the work budget.

Rules get the Context and reach the walker through it (``ctx.analyse``, ``ctx.stdin_of``,
``ctx.run_source``), so no rule module imports the walker: parse -> rules -> decision.
"""

import os
import time

from paii_hooks.paths import normalise

MAX_FINDINGS = 40
TIME_BUDGET = 2.0  # seconds; the hook's own timeout is 10 s
TEXT_BUDGET = 2 * 1024 * 1024  # characters parsed in all, nested code included
#: variables of the hook's own environment the guard uses (where PAII keeps its state)
KNOWN_ENV = ("PAII_HOME", "PAII_CONFIG_DIR", "CLAUDE_PLUGIN_DATA", "XDG_DATA_HOME", "XDG_CONFIG_HOME")


class TooComplex(Exception):
    """The line needs more work than the guard's budget allows: the guard asks."""


class Scope:
    """The part of the state a child shell does not share with its parent."""

    __slots__ = ("vars", "arrays", "pos", "pos_open", "funcs", "aliases", "exported", "allexport", "cwd",
                 "called", "stdin")

    def copy(self):
        other = Scope()
        other.vars, other.arrays = dict(self.vars), {k: list(v) for k, v in self.arrays.items()}
        other.pos, other.pos_open = (list(self.pos) if self.pos is not None else None), self.pos_open
        other.funcs, other.aliases, other.exported = dict(self.funcs), dict(self.aliases), set(self.exported)
        other.allexport, other.cwd, other.called, other.stdin = self.allexport, self.cwd, self.called, self.stdin
        return other


class Context:
    def __init__(self, cwd, home, config, walker=None):
        self.home = home
        self.config = config
        self.walker = walker
        s = Scope()
        s.cwd = normalise(cwd) if cwd and cwd.startswith("/") else None
        s.vars = {"HOME": home, "IFS": " \t\n"}
        for name in KNOWN_ENV:
            value = os.environ.get(name)
            if value and "${" not in value:
                s.vars[name] = value
        if s.cwd:
            s.vars["PWD"] = s.cwd
        s.arrays = {}
        s.pos, s.pos_open = [], False  # Claude Code's shell has no positional parameters
        s.funcs = {}  # name -> the function's body (a Node)
        s.aliases = {}
        s.exported = set(s.vars) - {"IFS"}
        s.allexport = False
        s.called = set()  # functions called at least once
        s.stdin = None  # what a command inside a group or loop reads when it has no stdin of its own
        self.scope = s
        self.calls = []  # the functions being called, innermost last
        self.branches = {}  # repository folder -> branch a checkout on the line switched to
        self.findings = []
        self.files = {}  # files written earlier on the line: path -> (kind, text or where from)
        self.scripts_read = set()  # script files already read from disk
        self.cache = {}  # kube context, git branch ... read once
        self.deadline = time.perf_counter() + TIME_BUDGET
        self.text_left = TEXT_BUDGET

    # --- the state the rules read ----------------------------------------------------------

    @property
    def cwd(self):
        return self.scope.cwd

    @cwd.setter
    def cwd(self, value):
        self.scope.cwd = value
        if value:
            self.scope.vars["PWD"] = value
        else:
            self.scope.vars.pop("PWD", None)

    @property
    def vars(self):
        return self.scope.vars

    def set_var(self, name, value):
        """Assign (None: the value is only known at run time)."""
        self.scope.arrays.pop(name, None)
        if value is None:
            self.scope.vars.pop(name, None)
        else:
            self.scope.vars[name] = value
        if self.scope.allexport:
            self.scope.exported.add(name)

    def set_array(self, name, values):
        self.scope.vars.pop(name, None)
        if values is None:
            self.scope.arrays.pop(name, None)
        else:
            self.scope.arrays[name] = values

    # --- scopes -----------------------------------------------------------------------------

    def enter_subshell(self):
        """( ... ) and $( ... ): a copy of everything; nothing set inside comes back out."""
        saved = self.scope
        self.scope = saved.copy()
        return saved

    def enter_child(self, env=None, pos=None, zero=None, pos_open=False):
        """A new shell process (``bash -c``, ``bash x.sh``): it sees exported variables and ``env``
        (``X=1 bash -c``), its own positional parameters, no functions or aliases."""
        saved = self.scope
        s = Scope()
        s.vars = {k: v for k, v in saved.vars.items() if k in saved.exported}
        s.vars.setdefault("HOME", self.home)
        s.vars["IFS"] = " \t\n"
        s.arrays = {}
        s.exported = set(saved.exported)
        for name, value in (env or {}).items():
            s.exported.add(name)
            if value is None:
                s.vars.pop(name, None)
            else:
                s.vars[name] = value
        if zero is not None:
            s.vars["0"] = zero
        s.pos, s.pos_open = pos, pos_open
        s.funcs, s.aliases, s.allexport, s.called = {}, {}, False, set()
        s.cwd, s.stdin = saved.cwd, saved.stdin
        self.scope = s
        return saved

    def leave(self, saved):
        self.scope = saved

    # --- findings and budget ------------------------------------------------------------------

    def spend(self, chars):
        self.text_left -= chars
        if self.text_left < 0 or time.perf_counter() > self.deadline:
            raise TooComplex("the command takes more work to check than the guard allows")

    def add(self, rule, reason):
        if len(self.findings) < MAX_FINDINGS and (rule, reason) not in self.findings:
            self.findings.append((rule, reason))

    # --- the walker, for rules that follow code into other programs -----------------------------

    def analyse(self, text, depth, via=()):
        """Check shell text that this command runs (``find -exec``, ``kubectl exec --``)."""
        self.walker.analyse(text, self, depth, via)

    def stdin_of(self, cmd):
        """What a command reads on stdin: ("text", str), ("network"|"decoded"|"unknown", what), or None."""
        return self.walker.stdin_source(cmd, self)

    def run_source(self, src, runner, depth, lang="", via=()):
        """Code from ``src`` (a stdin_of answer) run by ``runner`` (a shell, or ``lang``'s interpreter)."""
        self.walker.run_source(src, runner, self, depth, lang, via)
