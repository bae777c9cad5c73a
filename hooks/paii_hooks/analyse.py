"""Walk every command a Bash line runs and collect the rules it trips.

``check(command, cwd, home, config)`` parses the line into a tree (``shell``) and walks it the way
bash would run it, keeping what can be known before it runs (``context``): variables, arrays and
positional parameters (``set --``, ``read <<<``, ``for d in ...``, a function's arguments),
aliases, what is exported to a child shell, ``cd``, the branch a checkout switched to. It sees
through wrappers and launchers (``unwrap``), follows code into shells and interpreters (``bash -c``,
``eval``, ``| bash``, heredocs, ``python -c``: ``sources``) and into script files (``scripts``),
and asks the rules about each program. Returns the :class:`Context`, whose ``findings`` are
(rule id, reason) pairs.
"""

import re
import sys

from paii_hooks import follow, rules, scripts, shell_state
from paii_hooks.argv import quote
from paii_hooks.context import Context
from paii_hooks.expand import array_values, assign_value, resolve, resolve_static
from paii_hooks.shell import Cmd, LimitError, ParseError, Part, Word, parse, walk_cmds
from paii_hooks.sources import producer_of, run_source, stdin_source
from paii_hooks.unwrap import SHELLS, unwrap

#: words that make an unreadable or computed command worth a question rather than a pass
DANGER = (
    r"(?i)(?<![\w.-])(rm|rmdir|unlink|shred|wipefs|mkfs[\w.]*|mke2fs|mkswap|dd|fdisk|sfdisk|parted|chmod|chown|kill"
    r"|killall|pkill|shutdown|reboot|halt|poweroff|kubectl|helm|terraform|tofu|terragrunt|pulumi|drop|truncate"
    r"|delete|destroy|uninstall|flushall|flushdb|dropdb|mv|find|eval|exec|sudo|doas|base64|xxd|curl|wget|sh|bash"
    r"|zsh|dash|python[\d.]*|perl|ruby|node|paii|approve|git|psql|mysql|mongosh|redis-cli|aws|gcloud|az|docker"
    r"|crontab|iptables|systemctl|format)(?![\w-])|:\s*\(\s*\)|>\s*/dev/|\$'|\\x[0-9a-f]{2}")
_DANGER_RE = []  # compiled on first use: most commands never need it
WRITERS = frozenset({"tee", "cp", "mv", "curl", "wget"})  # programs that write files scripts.py tracks
MAX_ITER = 16  # values a loop variable takes, lines a while-read loop reads
MAX_CALLS = 6  # nested function calls followed
MAX_LOOP_WORK = 512  # loop iterations in all; past it a loop runs once, its variable unknown


def check(command, cwd, home, config):
    ctx = Context(cwd, home, config, walker=sys.modules[__name__])
    analyse(command, ctx, 0)
    finish_scope(ctx, 0, ())
    return ctx


def risky_words(text):
    if not _DANGER_RE:
        _DANGER_RE.append(re.compile(DANGER))
    return sorted({m.group(0).strip() for m in _DANGER_RE[0].finditer(text)})


def analyse(text, ctx, depth, via=(), limit=None):
    """Check shell text in the current scope; ``limit`` raises the size read (a script file)."""
    ctx.spend(len(text))
    try:
        items = parse(text, depth, max_chars=limit) if limit else parse(text, depth)
    except LimitError as exc:
        ctx.add("unreadable", "the guard could not check all of this command (%s)" % exc)
        return
    except ParseError as exc:
        words = risky_words(text)
        if words:
            ctx.add("unreadable", "the guard could not read this command (%s) and it contains %s"
                    % (exc, ", ".join("'%s'" % w for w in words[:4])))
        return
    walk(items, ctx, depth, list(via))


def analyse_child(text, ctx, depth, via=(), env=None, pos=None, zero=None, pos_open=False, limit=None):
    """Check shell text a new shell process runs: it sees exported variables and ``env``."""
    saved = ctx.enter_child(env, pos if pos is not None else [], zero, pos_open)
    try:
        analyse(text, ctx, depth, via, limit)
        finish_scope(ctx, depth, via)
    finally:
        ctx.leave(saved)


def finish_scope(ctx, depth, via):
    """Functions defined and never called: their bodies are still checked, with unknown arguments."""
    for name, body in list(ctx.scope.funcs.items()):
        if name not in ctx.scope.called:
            ctx.scope.called.add(name)
            saved = ctx.scope.pos, ctx.scope.pos_open
            ctx.scope.pos = None
            try:
                walk_node(body, ctx, depth, via)
            finally:
                ctx.scope.pos, ctx.scope.pos_open = saved


# --- the tree ----------------------------------------------------------------------------------------


def walk(items, ctx, depth, via):
    for item in items:
        if isinstance(item, Cmd):
            analyse_cmd(item, ctx, depth, via)
        else:
            walk_node(item, ctx, depth, via)


def walk_node(node, ctx, depth, via):
    ctx.spend(1)
    if node.kind == "func":
        ctx.scope.funcs[node.name] = node.body[0]
        ctx.scope.called.discard(node.name)
        if fork_bomb(node):
            ctx.add("fork-bomb", "this defines a function that starts copies of itself (a fork bomb): it freezes "
                    "the machine")
        return
    scope = ctx.scope
    saved_stdin = scope.stdin
    src = stdin_source(node, ctx) if (node.stdin or node.pipe_from is not None) else None
    if src is not None:
        scope.stdin = src
    try:
        if node.kind in ("subshell", "subst"):
            saved = ctx.enter_subshell()
            try:
                walk(node.body, ctx, depth, via)
                finish_scope(ctx, depth, via)  # functions defined in there and not called
            finally:
                ctx.leave(saved)
        elif node.kind in ("for", "select"):
            for_loop(node, ctx, depth, via)
        elif node.kind in ("while", "until"):
            while_loop(node, ctx, depth, via)
        else:
            walk(node.cond, ctx, depth, via)
            walk(node.body, ctx, depth, via)
    finally:
        scope.stdin = saved_stdin
    rules.check_redirects(node, ctx)


def for_loop(node, ctx, depth, via):
    if node.words is None:
        pos = ctx.scope.pos
        values = list(pos) if pos is not None and not ctx.scope.pos_open else [None]
    else:
        values = [w.static() for word in node.words for w in resolve(word, ctx)]
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    for value in _iterations(ctx, seen or [None]):
        ctx.set_var(node.var, value)
        walk(node.body, ctx, depth, via)


def _iterations(ctx, values):
    """The values a loop is walked with: each (up to MAX_ITER), within the line's loop budget."""
    done = ctx.cache.get("loop-work", 0)
    if done >= MAX_LOOP_WORK:
        return [None]
    values = values[:MAX_ITER]
    ctx.cache["loop-work"] = done + len(values)
    return values


def while_loop(node, ctx, depth, via):
    src = ctx.scope.stdin
    reads = any(c.words and c.words[0].static() in ("read", "mapfile", "readarray") for c in walk_cmds(node.cond))
    if reads and src and src[0] == "text":
        lines = src[1].split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for line in _iterations(ctx, lines or [""]):
            ctx.scope.stdin = ("text", (line or "") + "\n") if line is not None else None
            walk(node.cond, ctx, depth, via)
            walk(node.body, ctx, depth, via)
        return
    walk(node.cond, ctx, depth, via)
    walk(node.body, ctx, depth, via)


def fork_bomb(node):
    """A function whose body starts itself twice, piped or in the background (``:(){ :|:& };:``)."""
    calls = [c for c in walk_cmds(node.body) if c.words and c.words[0].static() == node.name]
    piped = any(isinstance(c.pipe_from, Cmd) and c.pipe_from.words and c.pipe_from.words[0].static() == node.name
                for c in calls)
    return len(calls) >= 2 and (piped or any(c.background for c in calls))


# --- one command --------------------------------------------------------------------------------------


def analyse_cmd(cmd, ctx, depth, via):
    inv = check_cmd(cmd, ctx, depth, via)
    if cmd.redirs or (inv is not None and inv.prog in WRITERS):
        scripts.note_writes(cmd, inv, ctx)


def check_cmd(cmd, ctx, depth, via):
    """The rules for one simple command; returns what it runs (an Inv), if anything."""
    ctx.spend(1)
    rules.check_redirects(cmd, ctx)
    if cmd.data:
        return None
    if cmd.words and ctx.scope.aliases and expand_alias(cmd, ctx, depth, via):
        return None
    env = {}
    for name, w in cmd.assigns:
        assign(name, w, ctx, env if cmd.words else None)
    words = []
    for w in cmd.words:
        words.extend(resolve(w, ctx))
    words = [w for w in words if w.parts]
    if not words:
        return None
    name = words[0].static()
    if name in ctx.scope.funcs and cmd.words[0].parts and cmd.words[0].parts[0].kind == "lit":
        call_function(name, words[1:], env, ctx, depth, via)
        return None
    return run_words(words, env, cmd, ctx, depth, via)


def assign(name, w, ctx, env):
    """``NAME=value`` (``env``: a prefix of a command, seen only by it), ``NAME+=``, ``NAME=(...)``, ``a[k]=v``."""
    append = name.endswith("+")
    name = name.rstrip("+")
    if "[" in name:
        base, index = name[:-1].split("[", 1)
        values = ctx.scope.arrays.get(base)
        if values is None and base not in ctx.scope.arrays:
            values = [ctx.vars[base]] if base in ctx.vars else []
        value = resolve_static(assign_value(w), ctx)
        if values is not None and index.isdigit() and int(index) < 4096:
            values = values + [""] * (int(index) + 1 - len(values))
            values[int(index)] = value
            ctx.set_array(base, values)
        else:
            ctx.set_array(base, None)
        return
    if w.array is not None:
        current = ctx.scope.arrays.get(name, []) if append else None
        ctx.set_array(name, array_values(w, ctx, current) if current is not None or not append else None)
        return
    value = resolve_static(assign_value(w), ctx)
    if append:
        before = ctx.vars.get(name)
        value = before + value if before is not None and value is not None else None
    if env is not None:
        env[name] = value
    else:
        ctx.set_var(name, value)


def expand_alias(cmd, ctx, depth, via):
    """An alias at the start of a command is replaced by its text, as bash does with expand_aliases
    (on in interactive shells and in Claude Code's): the line is then read again."""
    aliases, words, texts, k = ctx.scope.aliases, cmd.words, [], 0
    expanding = ctx.cache.setdefault("aliases", set())
    while k < len(words):
        first = words[k].parts[0] if len(words[k].parts) == 1 else None
        name = first.value if first is not None and first.kind == "lit" and not first.quoted else None
        if name not in aliases or name in expanding:
            break
        texts.append(aliases[name])
        k += 1
        if not aliases[name].endswith((" ", "\t")):
            break
    if not texts:
        return False
    text = " ".join(texts + [quote(w) for w in words[k:]])
    names = [w.static() for w in words[:k]]
    expanding.update(names)
    try:
        analyse(text, ctx, depth + 1, via + ["alias " + names[0]])
    finally:
        expanding.difference_update(names)
    return True


def call_function(name, args, env, ctx, depth, via):
    """A function defined earlier on the line, run with its arguments as $1 $2 ..."""
    body = ctx.scope.funcs[name]
    ctx.scope.called.add(name)
    if name in ctx.calls or len(ctx.calls) >= MAX_CALLS:
        return  # it calls itself: once is enough to see what it does
    pos = [a.static() for a in args]
    seen = ctx.cache.setdefault(("calls", id(body)), set())
    key = tuple(pos) + tuple(sorted(env.items()))
    if key in seen or len(seen) >= MAX_ITER:
        return  # the same function with the same arguments: what it does is already known
    seen.add(key)
    saved = ctx.scope.pos, ctx.scope.pos_open, {k: ctx.vars.get(k) for k in env}
    ctx.scope.pos, ctx.scope.pos_open = pos, False
    for k, v in env.items():
        ctx.set_var(k, v)
    ctx.calls.append(name)
    try:
        walk_node(body, ctx, depth, via + [name + "()"])
    finally:
        ctx.calls.pop()
        ctx.scope.pos, ctx.scope.pos_open = saved[0], saved[1]
        for k, v in saved[2].items():
            ctx.set_var(k, v)


def run_words(words, env, cmd, ctx, depth, via):
    inv = unwrap(words, env)
    inv.via = list(via) + inv.via
    return run_inv(inv, cmd, ctx, depth)


def run_inv(inv, cmd, ctx, depth):
    kind = inv.kind
    if kind == "none":
        return inv
    if kind == "dynamic":
        found = ["'%s'" % w for w in risky_words(inv.line())[:3]]
        if not found and _would_delete(inv, cmd, ctx, depth):
            found = ["arguments that would delete a protected folder if the program were rm"]
        if found:
            ctx.add("computed-command", "the program this runs (%s) is only known when it runs, and the line contains %s"
                    % (inv.prog, ", ".join(found)))
        return inv
    if inv.child and inv.prog in SHELLS:
        for name in ("BASH_ENV", "ENV"):  # a non-interactive bash (sh: ENV) sources this file first
            if inv.env.get(name):
                analyse(". " + quote(Word([Part("lit", inv.env[name], True)])), ctx, depth + 1, inv.via + [name])
    if kind == "shell-string":
        follow.code_word(inv, ctx, depth)
    elif kind in ("shell-stdin", "code-stdin"):
        src = stdin_source(cmd, ctx)
        if src is not None:
            run_source(src, inv.prog, ctx, depth, inv.lang, inv.via, pos=follow.positional(inv.pos))
    elif kind == "shell-script":
        follow.script(inv, cmd, ctx, depth)
        rules.check_program(inv, cmd, ctx, depth)
    elif kind == "code":
        text = resolve_static(inv.code, ctx)
        if text is None:
            src = next((producer_of(s.value, ctx) for s in inv.code.subs()), ("unknown", inv.code.text()))
            run_source(src, inv.prog, ctx, depth, inv.lang, inv.via)
        else:
            from paii_hooks import code_rules

            code_rules.check_code(inv.lang, text, ctx, depth)
    elif kind == "template":
        follow.template(inv, cmd, ctx, depth)
    else:
        shell_state.track(inv, cmd, ctx)
        rules.check_program(inv, cmd, ctx, depth)
        if inv.path and "/" in inv.path and scripts.runs_script_by_path(inv, ctx):
            scripts.run_file(inv, ctx, depth, inv.path, inv.args)
    rules.check_generic(inv, cmd, ctx)
    return inv


def _would_delete(inv, cmd, ctx, depth):
    """Would these arguments trip the rm rules (``$(get_cmd) -rf /``)?"""
    from paii_hooks.rules_fs import rm
    from paii_hooks.unwrap import Inv

    saved, ctx.findings = ctx.findings, []
    try:
        rm(Inv("run", "rm", inv.args), cmd, ctx, depth)
        return bool(ctx.findings)
    finally:
        ctx.findings = saved
