"""Commands handed to another program to run: the shell text of ``bash -c``/``eval``/``ssh``/
``script -c``/``tmux`` (in a new shell when it is one, with its own $0 $1 ...), a script file or
``<(...)`` run by a shell or an interpreter, and ``parallel``/``xargs`` templates filled in with
their arguments. The walker (analyse.py) is reached through ``ctx.walker``."""

import re

from paii_hooks.argv import quote
from paii_hooks.expand import resolve_static
from paii_hooks import scripts
from paii_hooks.shell import Cmd, Part, Word
from paii_hooks.sources import STDIN_PATHS, file_text, producer_of, run_source, stdin_source
from paii_hooks.unwrap import unwrap

MAX_ITEMS = 16  # arguments of a template followed
PLACEHOLDER = re.compile(r"\{(?:\.|/|//|/\.|#|%|\d+)?\}")


def positional(words):
    """$0 and the positional parameters a shell is given (``bash -c CODE arg0 arg1``)."""
    if not words:
        return None
    return [w.static() for w in words[1:]]


def code_word(inv, ctx, depth):
    """The shell text given to bash -c, eval, ssh, su -c, script -c, tmux, watch..."""
    code = inv.code
    text = resolve_static(code, ctx)
    runner = inv.via[-1] if inv.via else inv.prog

    def run(shell_text):
        if inv.child:
            zero = inv.pos[0].static() if inv.pos else inv.prog
            ctx.walker.analyse_child(shell_text, ctx, depth + 1, inv.via, inv.env, positional(inv.pos) or [], zero)
        else:
            ctx.analyse(shell_text, depth + 1, inv.via)

    if text is not None:
        run(text)
        return
    subs = code.subs()
    for sub in subs:
        run_source(producer_of(sub.value, ctx), runner, ctx, depth, via=inv.via, child=inv.child)
    if not subs and all(p.kind != "lit" or not p.value.strip() for p in code.parts):
        ctx.add("computed-script", "%s runs the text of %s, which is only known when it runs" % (runner, code.text()))
        return
    if not subs:
        run(code.text())


def script(inv, cmd, ctx, depth):
    """bash x.sh, source x.sh, python3 x.py, bash <(curl ...), . /dev/stdin <<< '...'."""
    subs = [p for p in inv.code.subs() if p.raw.startswith("<(")]  # the script is <(cmd)'s output
    same_shell = inv.prog in ("source", ".")
    args = inv.args[inv.args.index(inv.code) + 1:] if inv.code in inv.args else []
    if subs:
        run_source(producer_of(subs[0].value, ctx), inv.prog, ctx, depth, inv.lang, inv.via, child=not same_shell)
    elif inv.code.static() in STDIN_PATHS:
        src = stdin_source(cmd, ctx)
        if src is not None:
            run_source(src, inv.prog, ctx, depth, inv.lang, inv.via, child=not same_shell)
    else:
        scripts.run_file(inv, ctx, depth, args=args)


def template(inv, cmd, ctx, depth):
    """parallel / xargs: the command filled in with each argument (from ``:::`` or stdin)."""
    items, src = inv.items, None
    if items is None:
        if inv.argfile is not None:
            subs = inv.argfile.subs()
            path = inv.argfile.static()
            src = producer_of(subs[0].value, ctx) if subs else (file_text(path, ctx) if path else None)
        else:
            src = stdin_source(cmd, ctx)
        if src and src[0] == "text":
            text = src[1]
            pieces = text.split("\0") if inv.split == "nul" else text.split("\n") if inv.split == "lines" or inv.shell \
                else text.split()
            items = [Word([Part("lit", p, True)]) for p in pieces if p][:MAX_ITEMS]
    if items is None:
        if inv.shell and not inv.args:
            if src is not None:
                run_source(src, "parallel", ctx, depth, via=inv.via)
            return
        inner = unwrap(inv.args, inv.env)
        inner.via = inv.via + inner.via
        inner.xargs = True
        ctx.walker.run_inv(inner, cmd, ctx, depth)
        return
    if inv.shell:  # GNU parallel: a shell runs each command
        template = " ".join(w.static() if w.static() is not None else w.text() for w in inv.args)
        for item in items[:MAX_ITEMS]:
            value = item.static() if item.static() is not None else item.text()
            if not inv.args:
                text = value
            elif PLACEHOLDER.search(template) or (inv.replace != "{}" and inv.replace in template):
                text = PLACEHOLDER.sub(lambda m: quote(item), template).replace(inv.replace, quote(item))
            else:
                text = template + " " + quote(item)
            ctx.walker.analyse_child(text, ctx, depth + 1, inv.via, inv.env)
        return
    plain = Cmd(cmd.origin)
    if inv.replace:
        for item in items[:MAX_ITEMS]:
            words = [_fill(w, inv.replace, item) for w in inv.args]
            ctx.walker.run_words(words, inv.env, plain, ctx, depth, inv.via)
    else:
        ctx.walker.run_words(list(inv.args) + items, inv.env, plain, ctx, depth, inv.via)


def _fill(word, replace, item):
    text, value = word.static(), item.static()
    if text is None or value is None or replace not in text:
        return word
    return Word([Part("lit", text.replace(replace, value), True)])
