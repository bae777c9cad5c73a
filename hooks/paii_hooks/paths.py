"""What a path argument points at: the root, a system folder, the home folder, a device...

``classify(word, ctx)`` resolves ``~``, ``$HOME``, ``..`` and relative paths (against the
command's working folder, which ``cd`` in the same line changes), and reads globs and brace
expansions the way the shell will expand them: ``/e*`` can match ``/etc``, ``/{etc,usr}`` is
both. Paths only known at run time stay "dynamic", except the dangerous shapes ``$X/`` and
``$X/*``, which are the root folder when X is empty or unset.
"""

import os
import posixpath
import re
import stat

#: folders whose loss breaks the machine (or every user's data)
SYSTEM = frozenset("""/bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /opt /proc /root /run /sbin /srv /sys
/usr /var /snap /mnt /media /nix /Applications /Library /System /Users /Volumes /private /cores /usr/bin /usr/sbin
/usr/lib /usr/lib64 /usr/local /usr/share /usr/include /usr/local/bin /usr/local/lib /var/lib /var/log /var/www
/var/mail /var/spool /var/backups /var/opt /etc/ssl /private/etc /private/var /Library/Application Support""".split())
TEMP = ("/tmp/", "/var/tmp/", "/private/tmp/", "/private/var/tmp/", "/dev/shm/", "/private/var/folders/")
#: home folders that hold keys and configuration: deleting any part of them asks
SENSITIVE_HOME = frozenset({".ssh", ".gnupg", ".aws", ".kube", ".config", ".docker", ".password-store", ".azure",
                            ".gcloud", ".terraform.d", ".vault-token", ".netrc", ".local", ".claude"})
#: home files and folders that hold keys and logins: deleting or overwriting any of them asks
KEY_HOME = frozenset({".ssh", ".gnupg", ".aws", ".kube", ".password-store", ".azure", ".netrc", ".vault-token",
                      ".git-credentials", ".pgpass", ".docker"})
DEVICE_RE = re.compile(r"^/dev/(sd[a-z]+\d*|hd[a-z]+\d*|vd[a-z]+\d*|xvd[a-z]+\d*|nvme\d+n\d+(p\d+)?|mmcblk\d+(p\d+)?"
                       r"|md\d+|dm-\d+|mapper/.+|r?disk\d+(s\d+)*|loop\d+|nbd\d+|zd\d+|sr\d+|root|disk/by-.+|xd[a-z]\d*)$")
HARMLESS_DEV = frozenset({"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty",
                          "/dev/random", "/dev/urandom", "/dev/full"})
GLOB = re.compile(r"[*?\[]")
BRACE = re.compile(r"\{([^{}]*,[^{}]*)\}")


def expand_braces(text, limit=64):
    """``a{b,c}d`` -> ``abd``, ``acd``; bounded: past ``limit`` results the rest stay unexpanded."""
    out, todo, steps = [], [text], 0
    while todo and len(out) + len(todo) <= limit and steps < 4 * limit:
        steps += 1
        t = todo.pop(0)
        m = BRACE.search(t)
        if not m:
            out.append(t)
            continue
        todo.extend(t[:m.start()] + alt + t[m.end():] for alt in m.group(1).split(",")[:limit])
    return (out + todo)[:limit + 1] or [text]


def normalise(path):
    """Lexically resolved absolute path, no trailing slash (``/`` stays ``/``)."""
    path = posixpath.normpath(path)
    return "/" + path.lstrip("/") if path.startswith("/") else path


def _glob_parent(path):
    """For a path with a glob, the folder whose entries the glob can pick (``/e*`` -> ``/``)."""
    parts = path.split("/")
    for k, part in enumerate(parts):
        if GLOB.search(part):
            return "/".join(parts[:k]) or "/", True
    return path, False


def literal_paths(word, ctx):
    """The absolute paths a word can be, or None when it is only known at run time."""
    text = word.static()
    if text is None:
        return None
    unquoted = any(p.kind == "lit" and not p.quoted and ("{" in p.value or "*" in p.value or "?" in p.value)
                   for p in word.parts)
    texts = expand_braces(text) if unquoted and "{" in text else [text]
    out = []
    for t in texts:
        if not t:
            continue  # rm "" removes nothing
        if t == "~" or t.startswith("~/"):
            t = ctx.home + t[1:]
        elif t.startswith("~"):
            user = t[1:].split("/", 1)[0]
            t = "/home/" + user + t[1 + len(user):]
        if not t.startswith("/"):
            if ctx.cwd is None:
                out.append(t)  # relative to a folder the guard does not know
                continue
            t = ctx.cwd.rstrip("/") + "/" + t
        out.append(t)
    return out


def classify(word, ctx):
    """(kind, shown) for the worst path a word can be. Kinds: root, system, home, system-sub,
    home-path, device, cwd, unset-var, dynamic, temp, other."""
    paths = literal_paths(word, ctx)
    if paths is None:
        return _dynamic(word)
    worst = ("other", word.text())
    for p in paths:
        kind = _classify_one(p, ctx)
        if RANK[kind] > RANK[worst[0]]:
            worst = (kind, p)
    return worst


RANK = {"other": 0, "temp": 0, "dynamic": 0, "cwd": 2, "home-path": 3, "system-sub": 3, "unset-var": 3,
        "device": 4, "home": 5, "system": 5, "root": 6}


def _classify_one(path, ctx):
    if not path.startswith("/"):
        base = normalise(path)
        return "cwd" if base in (".", "..") or base.startswith("../") or GLOB.match(base) else "other"
    parent, globbed = _glob_parent(path)
    p = normalise(parent if globbed else path)
    home = normalise(ctx.home) if ctx.home and ctx.home != "/" else None
    if p == "/":
        return "root"
    if DEVICE_RE.match(p):
        return "device"
    if p == home:
        return "home"
    if p in SYSTEM:
        return "system"
    if re.match(r"^/(home|Users)/[^/]+$", p):
        return "home"
    if p in ("/tmp", "/var/tmp", "/dev/shm", "/private/tmp"):
        return "system-sub"
    if ctx.cwd and (p == normalise(ctx.cwd) or normalise(ctx.cwd).startswith(p + "/")):
        return "cwd"  # the working folder, or one that contains it
    if any((p + "/").startswith(t) for t in TEMP):
        return "temp"
    for base in ([home] if home else []) + [m.group(0) for m in [re.match(r"^/(home|Users)/[^/]+", p)] if m]:
        if p.startswith(base + "/"):
            rel = p[len(base) + 1:].split("/")
            return "home-path" if rel[0] in SENSITIVE_HOME or len(rel) == 1 else "other"
    top = "/" + p.split("/")[1]
    if top in SYSTEM:
        if top in ("/mnt", "/media", "/Volumes", "/srv", "/opt") and p.count("/") > 2:
            return "other"
        return "system-sub"
    return "other"


def _dynamic(word):
    """A path with run-time parts: dangerous when it is ``$X/``, ``$X/*`` or ``$X*`` (``/``, ``/*`` or
    ``*`` when X is empty; a lone ``$X`` is then nothing at all)."""
    parts = word.parts
    if not parts:
        return ("other", "")
    head = parts[0]
    tail = "".join(p.value for p in parts[1:] if p.kind == "lit")
    only_lits_after = all(p.kind == "lit" for p in parts[1:])
    if head.kind in ("var", "sub") and only_lits_after and tail in ("/", "/*", "/.*", "*"):
        if head.kind == "var" and head.value[1] in (":?", "?"):
            return ("dynamic", word.text())  # ${X:?} stops the shell when X is empty
        return ("unset-var", word.text())
    return ("dynamic", word.text())


def home_key(path, ctx):
    """Is ``path`` (absolute) a file or folder of the home that holds keys and logins (~/.ssh/id_rsa)?"""
    home = normalise(ctx.home) if ctx.home and ctx.home != "/" else None
    if not home or not path.startswith(home + "/"):
        return False
    return path[len(home) + 1:].split("/", 1)[0] in KEY_HOME


def is_device(path):
    return bool(path) and DEVICE_RE.match(normalise(path)) is not None and path not in HARMLESS_DEV


def read_text(path, ctx, limit=256 * 1024):
    """A local file's text (relative to the command's folder), at most ``limit`` bytes, or None."""
    if not path.startswith("/"):
        if ctx.cwd is None:
            return None
        path = os.path.join(ctx.cwd, path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None  # a FIFO, a device or /dev/stdin would block or never end
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
