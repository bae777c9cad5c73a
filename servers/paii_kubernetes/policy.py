"""The safety rules, in one place (also used by the runbook engine).

* :func:`validate_name`: a namespace, pod, container or deployment name must be a Kubernetes name
  (lowercase letters, digits, ``-`` and ``.``); a value starting with ``-`` (it would read as an
  option) or holding ``/`` (a path, another resource) is refused with the reason.
* :func:`is_read_only_diagnostic`: whether an argv is on the allowlist of read-only diagnostics that
  run without asking. Matching is on the argv list, never on a shell string: an entry is split into
  tokens like a shell would (``shlex``), each token must equal the argument, except that a token
  ending in ``*`` matches one argument starting with what precedes the ``*`` (made of path-safe
  characters, without ``..``), and a final ``...`` matches any further plain arguments.
* :func:`refuse_secret_access`: no command may read a Secret's value through the pod: service
  account tokens and mounted secrets (``/var/run/secrets``), process environments (``environ``,
  ``env``, ``printenv``, ``set``) are refused whatever the allowlist says or the person approved.
* :func:`check_write_allowed`: writes are refused in read-only mode and in protected namespaces.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from paii_common.errors import InvalidInput

if TYPE_CHECKING:
    from paii_kubernetes.config import KubernetesSettings

_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
_SAFE_TAIL = re.compile(r"^[A-Za-z0-9_.,:=@%+/-]*$")
_PLAIN_ARG = re.compile(r"^[A-Za-z0-9_.,:=@%+/-]+$")
_SELECTOR = re.compile(r"^[A-Za-z0-9_./=!,() -]*$")

#: paths and commands that reveal secret values; refused for every exec, approved or not
SECRET_MARKERS = ("/var/run/secrets", "/run/secrets", "environ", "serviceaccount", ".kube/config", "kubeconfig")
ENV_DUMPERS = frozenset({"env", "printenv", "set", "export", "declare"})
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
    if token.endswith("*"):
        prefix = token[:-1]
        tail = arg[len(prefix):]
        return (arg.startswith(prefix) and bool(_SAFE_TAIL.match(tail))
                and ".." not in posixpath.normpath(arg).split("/") and ".." not in arg.split("/"))
    return token == arg


def matching_entry(argv: Sequence[str], allowlist: Iterable[str | Sequence[str]]) -> str | None:
    """The allowlist entry ``argv`` matches, or None."""
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
        if rest and not all(_PLAIN_ARG.match(a) and ".." not in a.split("/") for a in args[len(fixed):]):
            continue
        return entry if isinstance(entry, str) else shlex.join(entry)
    return None


def is_read_only_diagnostic(argv: Sequence[str], allowlist: Iterable[str | Sequence[str]]) -> bool:
    """True when ``argv`` matches an allowlist entry and touches no secret (see the module doc)."""
    try:
        check_argv(argv)
        refuse_secret_access(argv)
    except InvalidInput:
        return False
    return matching_entry(argv, allowlist) is not None


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


def refuse_secret_access(argv: Sequence[str]) -> None:
    """Raise InvalidInput when the command would read a Secret's value or a process environment."""
    program = posixpath.basename(argv[0]) if argv else ""
    if program in ENV_DUMPERS:
        raise InvalidInput(f"`{program}` prints environment variables, whose values may come from Secrets: refused. "
                           "Ask for the one setting you need by name (describe_pod shows where env values come from).")
    joined = "\x00".join(argv).lower()
    for marker in SECRET_MARKERS:
        if marker in joined:
            raise InvalidInput(f"the command touches {marker!r}, where Secret values, tokens or credentials live: refused. "
                               "PAII never returns Secret values; read the secret's name and keys with describe_pod.")


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
