"""``paii doctor``'s live checks against failing upstreams (issue 21 item 5), and what it says
about the data home, the kubeconfig, bad values and ``paii`` in one's own terminal.

Upstreams are real sockets on 127.0.0.1: a server answering 401 (or Slack's ``invalid_auth``), a
port nothing listens on, a listener that accepts connections and never answers (a hang, bounded
by a short ``--timeout``), a host DNS cannot know (``.invalid``), and the sandbox for the happy path.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from paii_cli import doctor_env, doctor_live
from paii_cli.doctor import doctor, render

NOW_ISO = "2026-01-02T02:00:00Z"


@pytest.fixture(autouse=True)
def no_cluster_or_vendor(monkeypatch, tmp_path):
    """No kubeconfig and no vendor settings leak in from the machine running the tests."""
    for var in list(os.environ):
        if var.startswith(("PAII_KUBERNETES", "KUBECONFIG", "KUBERNETES_SERVICE", "PAII_LAUNCHER")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "person"))
    (tmp_path / "person").mkdir()


def run(capsys, *argv: str) -> tuple[int, str]:
    from paii_cli import main

    with pytest.raises(SystemExit) as code:
        main(list(argv))
    return code.value.code, capsys.readouterr().out


def servers(report: dict) -> dict:
    return {s["server"]: s for s in report["servers"]}


def live(server: dict) -> dict:
    return next(c for c in server["checks"] if c["check"] == "live")


class Upstream:
    """An HTTP server on 127.0.0.1 answering every request with ``status`` and ``body``."""

    def __init__(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def unauthorized():
    up = Upstream(401, {"error": {"message": "Unauthorized", "code": 2006}})
    yield up.url
    up.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def silent():
    """A port that accepts connections (the kernel's backlog) and never answers: a hung service."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


# ------------------------------------------------------------------------------- the case
def test_a_bogus_token_at_an_unreachable_url_is_broken_with_exit_1(capsys, monkeypatch):
    monkeypatch.setenv("PAII_PAGERDUTY_TOKEN", "u+doctor-test-bogus-token")
    monkeypatch.setenv("PAII_PAGERDUTY_URL", f"http://127.0.0.1:{closed_port()}")
    code, out = run(capsys, "doctor", "--json")
    report = json.loads(out)
    pd = servers(report)["pagerduty"]
    assert code == 1 and report["ok"] is False and pd["status"] == "broken"
    check = live(pd)
    assert check["problem"] == "unreachable" and "connection refused" in check["detail"]
    assert "PAII_PAGERDUTY_URL=http://127.0.0.1:" in check["detail"] and "doctor-test-bogus" not in out


def test_offline_skips_the_live_checks_and_says_so(capsys, monkeypatch):
    monkeypatch.setenv("PAII_PAGERDUTY_TOKEN", "u+doctor-test-bogus-token")
    monkeypatch.setenv("PAII_PAGERDUTY_URL", f"http://127.0.0.1:{closed_port()}")
    code, out = run(capsys, "doctor", "--offline")
    assert code == 0 and "Live checks skipped (--offline)" in out and "✓ live" not in out and "✗ live" not in out


# ------------------------------------------------------------------------------- each failure, named
def _pagerduty(url: str, token: str = "u+not-a-real-token-123", timeout: float = 2.0) -> dict:
    from paii_pagerduty.config import PagerDutySettings

    settings = PagerDutySettings.load(token=token, url=url)
    make = doctor_live.maker("pagerduty", settings, timeout, "PAII_PAGERDUTY_TOKEN (environment)")
    return doctor_live.run_live({"pagerduty": make}, timeout)["pagerduty"]


def test_a_refused_token_is_named_with_the_variable_and_never_its_value(unauthorized):
    r = _pagerduty(unauthorized)
    assert r["ok"] is False and r["problem"] == "token refused"
    assert "HTTP 401" in r["detail"] and "PAII_PAGERDUTY_TOKEN (environment) not accepted" in r["detail"]
    assert "not-a-real-token" not in json.dumps(r)


def test_slack_invalid_auth_is_a_refused_token():
    from paii_slack.config import SlackSettings

    up = Upstream(200, {"ok": False, "error": "invalid_auth"})
    try:
        settings = SlackSettings.load(token="xoxb-not-real-456", url=up.url + "/api/")
        r = doctor_live.run_live({"slack": doctor_live.maker("slack", settings, 2.0, "PAII_SLACK_TOKEN (environment)")}, 2.0)
    finally:
        up.close()
    assert r["slack"]["problem"] == "token refused" and "invalid_auth" in r["slack"]["detail"]
    assert "not-real" not in json.dumps(r)


def test_a_refused_connection_is_an_unreachable_url():
    r = _pagerduty(f"http://127.0.0.1:{closed_port()}")
    assert r["problem"] == "unreachable" and "connection refused" in r["detail"]


def test_a_host_dns_does_not_know_is_an_unreachable_url():
    r = _pagerduty("https://pagerduty.no-such-host.invalid")
    assert r["problem"] == "unreachable" and "not known to DNS" in r["detail"]
    assert "pagerduty.no-such-host.invalid" in r["detail"]


def test_a_service_that_never_answers_is_no_answer_within_the_deadline(silent):
    """The listener accepts the connection and says nothing; the check ends at its 0.5 s deadline
    (were it unbounded, this test would never finish)."""
    r = _pagerduty(silent, timeout=0.5)
    assert r["ok"] is False and r["problem"] == "no answer" and "within 0.5 s" in r["detail"]


def test_doctor_stops_waiting_for_a_check_that_ignores_its_deadline():
    """A library that blocks past the deadline is left behind: doctor reports no answer and goes on."""
    forever = threading.Event()

    def probe() -> doctor_live.Probe:
        return doctor_live.Probe(lambda: (None, "X"), lambda: forever.wait() and "never")

    fine = doctor_live.Probe(lambda: (None, "Y"), lambda: "answered")
    results = doctor_live.run_live({"stuck": probe, "fine": lambda: fine}, timeout=0.2)
    assert results["stuck"]["problem"] == "no answer" and results["fine"]["ok"] is True
    forever.set()


def test_the_whole_doctor_with_a_hung_service_returns_and_says_which(silent, tmp_path):
    """`paii doctor --timeout 0.5` as a process: PagerDuty hangs, the exit code is 1 and the report
    names it (the subprocess bound only keeps a broken doctor from hanging the suite)."""
    env = {**os.environ, "PAII_PAGERDUTY_TOKEN": "u+doctor-test-bogus-token", "PAII_PAGERDUTY_URL": silent}
    out = subprocess.run([sys.executable, "-m", "paii_cli", "doctor", "--json", "--timeout", "0.5"], env=env,
                         capture_output=True, text=True, timeout=300)
    report = json.loads(out.stdout)
    assert out.returncode == 1 and live(servers(report)["pagerduty"])["problem"] == "no answer"


# ------------------------------------------------------------------------------- the happy path
@pytest.fixture
def sandbox(monkeypatch):
    from paii_sandbox.files import load_seed
    from paii_sandbox.runner import Sandbox
    from paii_sandbox.services import discover
    from paii_sandbox.world import World

    monkeypatch.setenv("PAII_NOW", NOW_ISO)
    from datetime import UTC, datetime

    sb = Sandbox(World(load_seed(), discover(), now=datetime(2026, 1, 2, 2, 0, tzinfo=UTC))).start_in_thread()
    for key, value in sb.env().items():
        monkeypatch.setenv(key, value)
    yield sb
    sb.stop_thread()


def test_every_integration_of_the_sandbox_passes_its_live_check(sandbox, capsys):
    code, out = run(capsys, "doctor", "--json")
    report = json.loads(out)
    found = servers(report)
    for name in ("pagerduty", "slack", "jira", "kubernetes"):
        assert found[name]["status"] == "ok" and live(found[name])["ok"] is True, (name, found[name]["checks"])
    assert code == 0 and report["ok"]
    assert "token accepted: user Scott Idler" in live(found["pagerduty"])["detail"]
    assert "context paii-sandbox" in live(found["kubernetes"])["detail"]


def test_a_context_the_kubeconfig_does_not_have_is_named(sandbox, monkeypatch):
    monkeypatch.setenv("PAII_KUBERNETES_CONTEXT", "prod-eu")
    k8s = servers(doctor(offline=True))["kubernetes"]
    context = next(c for c in k8s["config"] if c["key"] == "context")
    assert k8s["status"] == "broken" and context["problem"] == "context unknown"
    assert "'prod-eu' (PAII_KUBERNETES_CONTEXT) is not in" in context["error"] and "paii-sandbox" in context["error"]


# ------------------------------------------------------------------------------- local findings
def test_kubernetes_with_no_kubeconfig_anywhere_is_not_set_up_in_doctor_and_plugin_list(capsys):
    k8s = servers(doctor(offline=True))["kubernetes"]
    assert k8s["status"] == "not set up" and k8s["configured"] is False
    code, out = run(capsys, "plugin", "list", "--json")
    listed = {s["name"]: s for s in json.loads(out)["servers"]}
    assert listed["kubernetes"]["configured"] is False and listed["kubernetes"]["missing"] == ["kubeconfig"]


def test_a_kubeconfig_in_the_default_place_or_in_a_cluster_counts_as_set_up(monkeypatch):
    kube = Path.home() / ".kube"
    kube.mkdir()
    (kube / "config").write_text("apiVersion: v1\ncurrent-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c}\n")
    k8s = servers(doctor(offline=True))["kubernetes"]
    assert k8s["status"] == "ok" and next(c for c in k8s["config"] if c["key"] == "kubeconfig")["source"] == "file ~/.kube/config"
    (kube / "config").unlink()
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    k8s = servers(doctor(offline=True))["kubernetes"]
    assert k8s["status"] == "ok" and any("in-cluster service account" in c["detail"] for c in k8s["checks"])


def test_a_kubeconfig_that_does_not_exist_is_the_cross_on_its_line(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope" / "config"))
    report = doctor(offline=True)
    k8s = servers(report)["kubernetes"]
    kubeconfig = next(c for c in k8s["config"] if c["key"] == "kubeconfig")
    assert k8s["status"] == "broken" and kubeconfig["problem"] == "kubeconfig"
    assert "kubeconfig missing" in kubeconfig["error"] and "(KUBECONFIG)" in kubeconfig["error"]
    text = render(report)
    assert "✓ PAII_KUBERNETES_KUBECONFIG / KUBECONFIG: set" not in text and "✗ kubeconfig missing" in text


def test_a_malformed_url_is_the_cross_with_how_to_fix_it_never_set_under_refuses(monkeypatch):
    monkeypatch.setenv("PAII_PAGERDUTY_TOKEN", "u+doctor-test-bogus-token")
    monkeypatch.setenv("PAII_PAGERDUTY_URL", "api.pagerduty.com")
    monkeypatch.setenv("PAII_SLACK_TOKEN", "xoxb-doctor-test-token")
    monkeypatch.setenv("PAII_SLACK_URL", "slack.com/api")  # Slack's settings accept it; its calls would fail
    report = doctor(offline=True)
    text = render(report)
    assert "✓ PAII_PAGERDUTY_URL: set" not in text and "✓ PAII_SLACK_URL: set" not in text
    assert "✗ starts: refuses to start: PAII_PAGERDUTY_URL is not valid (✗ below)" in text
    assert ("✗ PAII_PAGERDUTY_URL='api.pagerduty.com' (environment) is not valid: must start with https:// or http://. "
            "Fix it in the environment: a full URL such as https://api.pagerduty.com, or unset it for that default") in text
    assert "✗ PAII_SLACK_URL='slack.com/api' (environment) is not valid: it is not a URL" in text
    slack = servers(report)["slack"]
    assert slack["status"] == "broken" and next(c for c in slack["config"] if c["key"] == "url")["problem"] == "malformed URL"


def test_the_data_home_and_its_history_entries_counted_from_the_files_are_shown(isolated_env, capsys):
    history = isolated_env / "history"
    for rel in ("incidents/2026-01-01-a.md", "incidents/2026-01-02-b.md", "learnings/x.md", ".git/ignored.md"):
        (history / rel).parent.mkdir(parents=True, exist_ok=True)
        (history / rel).write_text("# entry\n")
    code, out = run(capsys, "doctor", "--offline", "--json")
    home = json.loads(out)["data_home"]
    assert home == {"path": str(isolated_env), "exists": True, "from": "PAII_HOME", "history_entries": 3}
    _, text = run(capsys, "doctor", "--offline")
    assert f"· data home: {isolated_env} (PAII_HOME): history holds 3 entries" in text


def test_the_plugins_paii_says_how_to_get_it_in_ones_terminal_and_the_line_works(tmp_path, monkeypatch, capsys):
    launcher = tmp_path / "plugin cache" / "paii" / "0.1.0" / "bin" / "paii"
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/bin/sh\necho the plugin paii \"$@\"\n")
    launcher.chmod(0o755)
    monkeypatch.setenv("PAII_LAUNCHER", str(launcher))
    monkeypatch.setenv("SHELL", "/bin/bash")
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path.home() / ".local" / "bin"), os.environ["PATH"]]))
    r = doctor_env.launcher_report()
    assert r["state"] == "missing" and r["on_path"] and len(r["commands"]) == 1
    assert "· paii in your own terminal" in "\n".join(doctor_env.render_launcher(r)) and "alias paii=" in r["alias"]
    subprocess.run(["bash", "-c", r["commands"][0]], check=True, env={**os.environ, "HOME": str(Path.home())})
    said = subprocess.run(["paii", "doctor"], capture_output=True, text=True, env=dict(os.environ))
    assert said.stdout.strip() == "the plugin paii doctor"  # the person's terminal runs the plugin's paii
    code, out = run(capsys, "doctor", "--offline")
    assert f"✓ paii in your own terminal: {Path.home() / '.local/bin/paii'} -> {launcher}" in out
    launcher.unlink()  # the plugin updated: its old folder is gone
    assert doctor_env.launcher_report()["state"] == "stale"


def test_without_the_launcher_there_is_no_terminal_hint(capsys):
    code, out = run(capsys, "doctor", "--offline", "--json")
    assert json.loads(out)["launcher"] is None
