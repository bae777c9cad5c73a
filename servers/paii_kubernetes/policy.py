"""The safety rules, in one place (also used by the runbook engine).

* :func:`validate_name`: a namespace, pod, container or deployment name must be a Kubernetes name
  (lowercase letters, digits, ``-`` and ``.``); a value starting with ``-`` (it would read as an
  option) or holding ``/`` (a path, another resource) is refused with the reason.
* :func:`check_diagnostic`: whether ``exec_in_pod`` may run an argv without asking. Built-in
  diagnostics (``pg_isready``, ``df``) have their arguments checked one by one so they cannot
  reach beyond the pod (:mod:`paii_kubernetes.diagnostics`); every other entry of the allowlist
  is matched on the argv list, never on a shell string: an entry is split into tokens like a shell
  would (``shlex``) and each token must equal the argument, except that a token ending in ``*``
  matches one argument starting with what precedes the ``*`` (path-safe characters, no ``..``),
  a bare ``*`` one plain word, and a final ``...`` any further plain words. A plain word is
  letters, digits, ``_``, ``,`` and ``-`` (not first): never an option, a path, a file name, a host,
  a URL or an address.
* :func:`refuse_secret_access`: no command may read a Secret's value through the pod: environment
  dumps, code that reads the environment, ``/proc/*/environ``, mounted secrets and service-account
  tokens, in the forms :mod:`paii_kubernetes.envguard` lists, are refused whatever the allowlist
  says or the person approved.
* :func:`check_write_allowed`: writes are refused in read-only mode and in protected namespaces.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from paii_common.errors import InvalidInput
from paii_kubernetes import diagnostics, envguard

if TYPE_CHECKING:
    from paii_kubernetes.config import KubernetesSettings

_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
_SAFE_TAIL = re.compile(r"^[A-Za-z0-9_.,:=@%+/-]*$")
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_,][A-Za-z0-9_,-]*$")
_SELECTOR = re.compile(r"^[A-Za-z0-9_./=!,() -]*$")

MAX_ARGV = 64
MAX_ARG_LEN = 4096


def validate_name(value: str, what: str) -> str:
    """Return ``value`` when it is a valid Kubernetes name, else raise InvalidInput saying why."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} is empty: give a Kubernetes name such as payments-api.")
    if value.startswith("-"):
        raise InvalidInput(f"{what} {value!r} starts with '-': it would read as an option, not a name. "
                           f"Give the {what} name itself (list_pods shows names).")
    if "/" in value:
        raise InvalidInput(f"{what} {value!r} holds '/': a name cannot be a path or another resource. "
                           f"Give the bare {what} name, without a kind/ prefix.")
    if len(value) > 253 or not _NAME.match(value):
        raise InvalidInput(f"{what} {value!r} is not a Kubernetes name: use lowercase letters, digits, '-' and '.', "
                           "starting and ending with a letter or digit (at most 253 characters).")
    return value


def validate_selector(value: str | None) -> str | None:
    """A label selector (``app=payments-api,tier!=web``, ``env in (prod)``) or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.startswith("-") or not _SELECTOR.match(value) or len(value) > 512:
        raise InvalidInput(f"selector {value!r} is not a label selector: use key=value pairs separated by commas, "
                           "e.g. app=payments-api.")
    return value


def _entry_tokens(entry: str | Sequence[str]) -> list[str]:
    return list(entry) if not isinstance(entry, str) else shlex.split(entry)


def _token_matches(token: str, arg: str) -> bool:
    if token == "*":
        return bool(_PLAIN_WORD.match(arg))
    if token.endswith("*"):
        prefix = token[:-1]
        tail = arg[len(prefix):]
        return (arg.startswith(prefix) and bool(_SAFE_TAIL.match(tail)) and not tail.startswith("-")
                and ".." not in posixpath.normpath(arg).split("/") and ".." not in arg.split("/"))
    return token == arg


def matching_entry(argv: Sequence[str], allowlist: Iterable[str | Sequence[str]]) -> str | None:
    """The allowlist entry ``argv`` matches token by token (see the module doc), or None."""
    args = list(argv)
    for entry in allowlist:
        tokens = _entry_tokens(entry)
        if not tokens:
            continue
        rest = tokens[-1] == "..."
        fixed = tokens[:-1] if rest else tokens
        if len(args) < len(fixed) or (not rest and len(args) != len(fixed)):
            continue
        if not all(_token_matches(t, a) for t, a in zip(fixed, args, strict=False)):
            continue
        if rest and not all(_PLAIN_WORD.match(a) for a in args[len(fixed):]):
            continue
        return entry if isinstance(entry, str) else shlex.join(entry)
    return None


def check_diagnostic(argv: Sequence[str], allowlist: Iterable[str | Sequence[str]],
                     targets: Callable[[], diagnostics.Targets] | None = None) -> str:
    """The rule ``argv`` runs under without asking (an allowlist entry or a built-in diagnostic's usage),
    else InvalidInput saying what is allowed and how to run it anyway. ``targets`` gives the pod's own
    database (read from the pod only when a host or port needs it)."""
    args = check_argv(argv)
    refuse_secret_access(args)
    entries = list(allowlist)
    entry = matching_entry(args, entries)
    if entry is not None:
        return entry
    try:
        usage = diagnostics.check(args, targets or diagnostics.Targets)
    except diagnostics.Refused as exc:
        raise InvalidInput(f"{exc}. exec_in_pod runs it only like that; to run {shlex.join(args)[:200]} anyway, ask the "
                           "person and call run_in_pod (Claude Code asks for their approval), or add the exact command "
                           "to PAII_KUBERNETES_EXEC_ALLOWLIST.") from None
    if usage is not None:
        return usage
    raise InvalidInput(
        f"{shlex.join(args)[:200]!r} is not on the read-only diagnostic allowlist, so exec_in_pod does not run it. "
        f"Allowed: {'; '.join([*entries, *diagnostics.USAGE.values()])}. To run it anyway, ask the person and call "
        "run_in_pod (Claude Code asks for their approval); a read-only command can be added to "
        "PAII_KUBERNETES_EXEC_ALLOWLIST."
    )


def is_read_only_diagnostic(argv: Sequence[str], allowlist: Iterable[str | Sequence[str]],
                            targets: Callable[[], diagnostics.Targets] | None = None) -> bool:
    """True when exec_in_pod may run ``argv`` without asking (see :func:`check_diagnostic`)."""
    try:
        check_diagnostic(argv, allowlist, targets)
    except InvalidInput:
        return False
    return True


def check_argv(argv: Sequence[str]) -> list[str]:
    """An argv list: 1 to 64 non-empty strings without NUL bytes (never one shell string to split)."""
    if isinstance(argv, str) or not argv:
        raise InvalidInput("argv must be a non-empty list of arguments, e.g. [\"python\", \"manage.py\", \"dbstats\"]; "
                           "it is never run through a shell.")
    args = list(argv)
    if len(args) > MAX_ARGV or any(not isinstance(a, str) or "\x00" in a or len(a) > MAX_ARG_LEN for a in args):
        raise InvalidInput(f"argv must be at most {MAX_ARGV} strings without NUL bytes, each under {MAX_ARG_LEN} characters.")
    if not args[0].strip():
        raise InvalidInput("argv[0] (the program) is empty.")
    return args


def refuse_secret_access(argv: Sequence[str], secret_env: Mapping[str, str] | None = None) -> None:
    """Raise InvalidInput when the command would print a Secret's value or a process environment
    (:func:`paii_kubernetes.envguard.refusal`); ``secret_env`` maps the pod's Secret-backed variables
    to their Secret, when the caller read the pod."""
    why = envguard.refusal(argv, secret_env)
    if why:
        raise InvalidInput(f"{why}: refused. PAII never returns Secret values: ask for the one setting you need by "
                           "name (describe_pod shows where each env value comes from, and which are Secrets), "
                           "or ask the person to run it by hand.")


def check_write_allowed(namespace: str, settings: KubernetesSettings) -> None:
    """Raise InvalidInput when writes are off (read-only mode) or ``namespace`` is protected."""
    validate_name(namespace, "namespace")
    if settings.read_only:
        raise InvalidInput("PAII is in read-only mode (PAII_READ_ONLY=1): no change is made. "
                           "Tell the person the command to run by hand.")
    if namespace in settings.protected_namespaces and not settings.allow_protected_writes:
        raise InvalidInput(
            f"{namespace} is a protected namespace (PAII_KUBERNETES_PROTECTED_NAMESPACES): writes there are refused. "
            "Do it by hand with kubectl, or set PAII_KUBERNETES_ALLOW_PROTECTED_WRITES=1 to allow them."
        )
