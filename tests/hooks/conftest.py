"""Run PAII's hooks the way Claude Code does: the system python3, the hook JSON on stdin, a
clean environment (HOME, PAII_HOME and PAII_CONFIG_DIR in temporary folders)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "hooks"
#: Claude Code runs `python3` from PATH with no venv: use the machine's own interpreter
SYSTEM_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else shutil.which("python3")
FAKE_HOME = "/home/ana"


def hook_json(command, cwd, event="PreToolUse", tool="Bash", session="sess-1"):
    return {"session_id": session, "transcript_path": "/tmp/t.jsonl", "cwd": cwd, "hook_event_name": event,
            "permission_mode": "default", "tool_name": tool, "tool_input": {"command": command, "description": "x"}}


def run_hook(script, payload, env, timeout=30, hooks_dir=HOOKS):
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    proc = subprocess.run([SYSTEM_PYTHON, str(hooks_dir / script)], input=data if isinstance(data, bytes) else data.encode(),
                          capture_output=True, env=env, timeout=timeout)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def decision_of(rc, out, err):
    """("block"|"ask"|"allow"|"error: ...", reason) from what a PreToolUse hook printed."""
    if rc == 2:
        return ("block" if not out else "error: output with exit 2"), err
    if rc != 0:
        return "error: exit %d: %s" % (rc, err[-300:]), err
    if not out.strip():
        return ("allow" if not err else "error: stderr on allow: " + err[-300:]), ""
    spec = json.loads(out)["hookSpecificOutput"]
    assert spec["hookEventName"] == "PreToolUse"
    return spec["permissionDecision"], spec.get("permissionDecisionReason", "")


class World:
    """Folders and files the guard cases refer to."""

    def __init__(self, base: Path):
        self.base = base
        self.data = base / "paii-home"
        self.config = base / "config"
        self.config.mkdir()
        self.folders = {"root": "/", "home": FAKE_HOME}
        for name, branch in (("proj", "feature/login"), ("mainrepo", "main")):
            folder = base / name
            (folder / ".git").mkdir(parents=True)
            (folder / ".git" / "HEAD").write_text("ref: refs/heads/%s\n" % branch)
            self.folders[name] = str(folder)
        (base / "nogit").mkdir()
        self.folders["nogit"] = str(base / "nogit")
        proj = base / "proj"
        (proj / "drop_all.sql").write_text("-- clean slate\nDROP TABLE IF EXISTS orders;\nDROP TABLE users;\n")
        (proj / "cleanup.sql").write_text("TRUNCATE audit_log;\n")
        scripts = {  # script files the guard reads when a shell or an interpreter runs them
            "tools/wipe.sh": "#!/bin/sh\n# start over\nset -e\nrm -rf \"$HOME\"\n",
            "tools/purge.py": "import os, shutil\n\nshutil.rmtree(os.path.expanduser('~'))\n",
            "tools/report.py": "print('to wipe a machine: rm -rf /')\n",
            "scripts/outer.sh": "#!/bin/bash\necho cleaning\nsource ./tools/wipe.sh\n",
            "scripts/run-all.sh": "#!/bin/bash\nsource \"$(dirname \"$0\")/../tools/wipe.sh\"\n",
            "scripts/in-tmp.sh": "cd /tmp/paii-build\nmake\n",
            "scripts/reset.sh": "git fetch origin\ngit reset --hard origin/main\n",
            "scripts/evals.sh": "#!/bin/bash\nCMD=\"make $1\"\neval \"$CMD\"\n$(get_tool) --version\nbash -c \"$CMD\"\n",
            "scripts/evals-then-wipe.sh": "#!/bin/bash\neval \"$SETUP\"\nrm -rf ~\n",
            "scripts/deploy.sh": "#!/bin/bash\nset -euo pipefail\nrm -rf ./dist\nmake build\n"
                                 "kubectl --context kind-dev apply -f k8s/\n",
            "lib/env.sh": "export PATH=\"$HOME/bin:$PATH\"\nalias ll='ls -la'\n",
            "big.sh": "echo step\n" * 30_000,  # 300 KB: more than the guard reads
        }
        for name, text in scripts.items():
            (proj / name).parent.mkdir(exist_ok=True)
            (proj / name).write_text(text)
        (proj / "bin").mkdir(exist_ok=True)  # a compiled program whose bytes happen to hold a command
        (proj / "bin" / "tool").write_bytes(b"\x7fELF\x02\x01\x01\0\0\0rm -rf /\0" + bytes(range(256)))
        self.kube_dev = base / "kube-dev.yaml"
        self.kube_dev.write_text("apiVersion: v1\nkind: Config\ncurrent-context: kind-dev\ncontexts: []\n")
        self.kube_prod = base / "kube-prod.yaml"
        self.kube_prod.write_text("apiVersion: v1\ncurrent-context: \"gke_acme_prod-eu\"\n")

    def env(self, extra=None):
        env = {"PATH": "/usr/bin:/bin", "HOME": FAKE_HOME, "LANG": "C.UTF-8", "PAII_HOME": str(self.data),
               "PAII_CONFIG_DIR": str(self.config), "KUBECONFIG": str(self.kube_dev)}
        for k, v in (extra or {}).items():
            env[k] = str(self.kube_prod) if v == "@prodkube" else v
        return env

    def expand(self, command):
        return command.replace("@configdir", str(self.config))

    def payload(self, c):
        return json.dumps(hook_json(self.expand(c["command"]), self.folders[c["cwd"]]))

    def run_cases(self, cases, script="guard.py"):
        """{case id: (rc, stdout, stderr)}: every case through the hook's main() in one system-python3
        process (tests/hooks/batch_runner.py)."""
        batch = [{"payload": self.payload(c), "env": self.env(c["env"])} for c in cases]
        proc = subprocess.run([SYSTEM_PYTHON, str(Path(__file__).with_name("batch_runner.py")), str(HOOKS / script)],
                              input=json.dumps(batch).encode(), capture_output=True, env=self.env(), timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        return {c["id"]: tuple(r) for c, r in zip(cases, json.loads(proc.stdout))}

    def run_each(self, cases, script="guard.py"):
        """The same, one process per call, as Claude Code runs a hook."""
        def one(c):
            return c["id"], run_hook(script, self.payload(c), self.env(c["env"]))

        with ThreadPoolExecutor(max_workers=4) as pool:
            return dict(pool.map(one, cases))


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("guard-world"))
