"""Commands that would print a Secret's value through a pod: refused by kind, and masked in output.

What :func:`refusal` recognises in an argv (every argument is read, as a program, an argument or
code for a shell or an interpreter; quotes and backslashes are removed first, so ``pr""intenv``
reads as ``printenv``):

* environment dumpers anywhere: ``env``, ``printenv`` (also ``busybox env``, ``timeout 5 printenv``,
  ``xargs printenv``); in shell code ``set``, ``export`` and ``declare``/``typeset`` without names
  (``export -p``, ``declare -x``), ``compgen``, ``${!prefix*}``;
* code that reads the environment: ``os.environ``, ``getenv`` (Python, PHP, Lua, Java's
  ``System.getenv``, R's ``Sys.getenv``), ``ENV`` (Ruby, Perl's ``%ENV``), ``process.env`` (Node),
  ``ENVIRON`` (awk), ``$_ENV``/``$_SERVER`` (PHP), ``.env`` files;
* a process's environment file in any form: ``/proc/1/environ``, ``/proc/*/env*``, ``envir?n``,
  ``{environ,x}``, ``$(...)`` pieces, ``cd /proc/1; cat env*``; ``ps e`` (BSD flags print
  environments);
* Secret files: ``/var/run/secrets``, ``/run/secrets``, service-account tokens, kubeconfigs, also
  through globs (``/var/run/sec*``);
* a variable the pod gets from a Secret, named anywhere in the command (``printenv STRIPE_API_KEY``,
  ``echo $DATABASE_URL``), when the caller knows the pod's spec.

What it cannot see: a program that reads its environment by itself (a script already in the
image, code assembled at run time from pieces). So for ``run_in_pod`` the person's approval of the
exact argv is the boundary; this is a guard against the obvious, and :func:`mask` masks what
output it can recognise (``NAME=value`` for the pod's Secret-backed names and names that look
secret, passwords in URLs), on top of the token patterns of :func:`paii_common.redact.redact`.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Mapping, Sequence

DUMPERS = frozenset({"env", "printenv"})
SHELL_DUMPERS = frozenset({"set", "export", "declare", "typeset", "compgen"})
#: words that run the next word as a command (their own options are skipped)
WRAPPERS = frozenset({"exec", "command", "builtin", "nohup", "nice", "time", "timeout", "stdbuf", "setsid", "ionice",
                      "sudo", "doas", "xargs", "busybox", "toybox", "then", "do", "else", "!", "{", "watch", "chrt",
                      "taskset", "unbuffer", "strace", "ltrace", "eval", "su", "runuser", "flock"})
SECRET_PATHS = ("/var/run/secrets", "/run/secrets", "/proc/*/environ", "/proc/*/task/*/environ")
SECRET_WORDS = ("serviceaccount", "kubeconfig", ".kube/config")
_CODE_READERS = [
    (re.compile(r"environ(?!ment)", re.I), "reads a process environment"),
    (re.compile(r"getenv", re.I), "reads environment variables (getenv)"),
    (re.compile(r"(?<![A-Za-z0-9_])ENV(?![A-Za-z0-9_])"), "reads the environment (ENV)"),
    (re.compile(r"\.env(?![A-Za-z0-9_-])"), "reads the environment or a .env file"),
    (re.compile(r"\$_(?:ENV|SERVER)\b"), "reads the environment ($_ENV, $_SERVER)"),
    (re.compile(r"\$\{!"), "lists variable names (${!prefix*})"),
]
_DUMPER_WORD = re.compile(r"(?<![A-Za-z0-9_.-])(?:[A-Za-z0-9_./-]*/)?(printenv|env)(?![A-Za-z0-9_.-])")
_SPLIT = re.compile(r"&&|\|\||[;|&()\n`]|\$\(")
_WORD = re.compile(r"[^\s<>]+")
_CODE_CHARS = re.compile(r"[\s;|&`]|\$\(")
_RUNS_CODE = re.compile(r"^(?:-[A-Za-z]*c|--command)$")
_PATH_SPLIT = re.compile(r"[\s;|&<>()]+")
_GLOBBY = re.compile(r"[*?\[\]{}$()`]")
_SUBST = re.compile(r"\{[^{}]*\}|\$\([^)]*\)?|\$\{[^}]*\}?|\$[A-Za-z_][A-Za-z0-9_]*|[$()`]+")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _plain(text: str) -> str:
    """The text as a shell would join it: quotes and backslashes removed."""
    return text.replace("\\\n", "").replace("'", "").replace('"', "").replace("\\", "")


def _as_glob(component: str) -> str:
    """A path component with braces, variables and substitutions read as "anything" (``*``)."""
    return _SUBST.sub("*", component)


def _may_be(word: str, path: str) -> bool:
    """Whether ``word`` (a path, maybe with globs) may name ``path`` (components, ``*`` = any one)."""
    wparts = [p for p in word.split("/") if p and p != "."]
    pparts = [p for p in path.split("/") if p]
    if len(wparts) < len(pparts):
        return False
    return any(all(_component_may_be(w, p) for w, p in zip(wparts[offset:], pparts, strict=False))
               for offset in range(len(wparts) - len(pparts) + 1))  # anywhere: relative forms, /x/../run/secrets


def _component_may_be(word: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    if word == pattern:
        return True
    return bool(_GLOBBY.search(word)) and fnmatch.fnmatchcase(pattern, _as_glob(word))


def _segments(code: str) -> list[list[str]]:
    return [_WORD.findall(part) for part in _SPLIT.split(code)]


def _command_words(words: list[str]) -> tuple[str, list[str]]:
    """(the command a segment runs, its arguments), past assignments and wrappers with their options."""
    i = 0
    while i < len(words):
        w = words[i]
        if _ASSIGN.match(w):
            i += 1
            continue
        name = posixpath.basename(w)
        if name in WRAPPERS:
            i += 1
            while i < len(words) and (words[i].startswith("-") or words[i].replace(".", "").isdigit()):
                i += 1  # the wrapper's options and numbers (timeout 5, nice -n 5)
            continue
        return name, words[i + 1:]
    return "", []


def _shell_dump(name: str, args: list[str]) -> bool:
    if name in ("compgen",):
        return True
    if name == "set":
        return not args
    if name in ("export", "declare", "typeset"):
        return all(a.startswith(("-", "+")) for a in args)
    if name == "ps":
        return any(not a.startswith("-") and "e" in a and a.isalpha() for a in args)
    return False


def refusal(argv: Sequence[str], secret_env: Mapping[str, str] | None = None) -> str | None:
    """Why the command would print a Secret's value or an environment (a sentence), or None."""
    texts = [_plain(a) for a in argv]
    mentions_proc = any(re.search(r"(^|[/\s;&|(])proc(/|$|\s)", t) for t in texts)
    for n, t in enumerate(texts):
        m = _DUMPER_WORD.search(t)
        if m:
            return f"`{m.group(1)}` prints environment variables, whose values may come from Secrets"
        for pattern, why in _CODE_READERS:
            if pattern.search(t):
                return f"the command {why}, whose values may come from Secrets"
        lowered = t.lower()
        for marker in SECRET_WORDS:
            if marker in lowered:
                return f"the command touches {marker!r}, where credentials live"
        code = bool(_CODE_CHARS.search(t)) or (n > 0 and bool(_RUNS_CODE.match(texts[n - 1])))
        for seg in _segments(t) if code else []:  # shell code: sh -c '...', su -c, a string with ; | $( ...
            name, args = _command_words(seg)
            if (name in SHELL_DUMPERS or name == "ps") and _shell_dump(name, args):
                return f"`{' '.join([name, *args]).strip()}` prints environment variables, whose values may come from Secrets"
        for word in _PATH_SPLIT.split(_as_glob(t)):  # substitutions first: envir$(echo o)n reads as envir*n
            for path in SECRET_PATHS:
                if "/" in word and _may_be(word, path):
                    return f"{word!r} may name {path}, where Secret values or a process environment live"
            if mentions_proc and _GLOBBY.search(word) and _component_may_be(posixpath.basename(word) or word, "environ"):
                return f"{word!r} may name a process's environ file"
    name, args = _command_words(texts)  # the argv itself, past wrappers: busybox ps e, timeout 5 ps e
    if (name in SHELL_DUMPERS or name == "ps") and _shell_dump(name, args):
        return f"`{' '.join([name, *args])}` prints environment variables, whose values may come from Secrets"
    for name, source in (secret_env or {}).items():
        if any(name in _VAR.findall(t) for t in texts):
            return f"{name} comes from {source}: a command that names it could print the Secret's value"
    return None


# ---------------------------------------------------------------------------------------------- output
_SECRET_NAME = re.compile(r"(?i)(?:^|_)(?:KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|PWD_HASH|CREDENTIALS?|DSN|AUTH|"
                          r"PRIVATE|SESSION|COOKIE|SIGNING|SALT|CERT)(?:_|$)")
#: NAME=value, NAME: value, 'NAME': 'value' (env dumps, export -p, a printed dict, YAML)
_ASSIGNMENT = re.compile(r"""(?m)(?P<pre>(?:^|[\s,{;'"])(?P<q>['"]?)(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P=q)"""
                         r"""\s*(?:=|:\s)\s*)(?P<quote>['"]?)(?P<value>[^\s'",}\x00]+)""")
_URL_PASSWORD = re.compile(r"(?P<pre>\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)(?P<pw>[^\s@/]+)(?=@)", re.I)
MASK = "[redacted]"


def mask(text: str, secret_env: Mapping[str, str] | None = None) -> str:
    """``text`` with the values of secret-looking variables (and the pod's Secret-backed ones) and
    passwords in URLs masked. NUL-separated environments (``/proc/*/environ``) are read as lines."""
    if not text:
        return text
    names = set(secret_env or ())
    text = text.replace("\x00", "\n")

    def repl(m: re.Match[str]) -> str:
        name = m.group("name")
        if name in names or _SECRET_NAME.search(name):
            return f"{m.group('pre')}{m.group('quote')}{MASK}"
        return m.group(0)

    text = _ASSIGNMENT.sub(repl, text)
    return _URL_PASSWORD.sub(lambda m: m.group("pre") + MASK, text)


def secret_env_of(pod: Mapping) -> dict[str, str]:
    """Variable name -> "Secret NAME key KEY" for every env value of the pod that comes from a Secret."""
    out: dict[str, str] = {}
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for e in c.get("env") or []:
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref and e.get("name"):
                out[e["name"]] = f"Secret {ref.get('name')} key {ref.get('key')}"
    return out
