"""paii_kubernetes.reads: the reads PAII makes send exactly what the generated kubernetes methods
send (method, path, query, Accept, the kubeconfig's token), fail the same way, and a server's
first read does not import the generated API modules (seconds of pydantic models)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from paii_kubernetes.reads import READS, Api

ROOT = Path(__file__).resolve().parents[2]
CALLS = [
    ("core", "list_namespaced_pod", ("payments",), {"label_selector": "app=payments-api", "limit": 50, "_continue": "abc"}),
    ("core", "read_namespaced_pod", ("payments-api-1", "payments"), {}),
    ("core", "list_namespaced_event", ("payments",), {"field_selector": "type=Warning", "limit": 500}),
    ("core", "read_namespaced_pod_log", ("payments-api-1", "payments"),
     {"container": "app", "tail_lines": 200, "since_seconds": 3600, "previous": True, "timestamps": False, "limit_bytes": 65536}),
    ("apps", "read_namespaced_deployment", ("payments-api", "payments"), {}),
    ("apps", "list_namespaced_replica_set", ("payments",), {"label_selector": "app=payments-api"}),
]


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict] = []
    status = 200

    def do_GET(self):  # noqa: N802
        path, _, query = self.path.partition("?")
        Recorder.seen.append({"path": path, "query": sorted(parse_qsl(query)), "accept": self.headers.get("Accept"),
                              "auth": self.headers.get("Authorization")})
        body = json.dumps({"kind": "Status", "code": Recorder.status} if Recorder.status != 200 else {"items": []}).encode()
        self.send_response(Recorder.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.seen, Recorder.status = [], 200
    from kubernetes.client import ApiClient, Configuration

    cfg = Configuration(host=f"http://127.0.0.1:{server.server_address[1]}", api_key={"authorization": "Bearer tok-1"})
    yield ApiClient(cfg)
    server.shutdown()


def generated(api_client, group):
    from kubernetes.client import AppsV1Api, CoreV1Api

    return {"core": CoreV1Api, "apps": AppsV1Api}[group](api_client)


def test_the_calls_cover_every_read():
    assert sorted(m for _, m, _, _ in CALLS) == sorted(m for methods in READS.values() for m in methods)


@pytest.mark.parametrize("group, method, args, kwargs", CALLS, ids=[c[1] for c in CALLS])
def test_a_read_sends_what_the_generated_method_sends(api_server, group, method, args, kwargs):
    mine = getattr(Api(api_server, group), method)(*args, _preload_content=False, _request_timeout=(5, 5), **kwargs)
    theirs = getattr(generated(api_server, group), method)(*args, _preload_content=False, _request_timeout=(5, 5), **kwargs)
    assert Recorder.seen[0] == Recorder.seen[1]
    assert Recorder.seen[0]["auth"] == "Bearer tok-1"
    assert json.loads(mine.data) == json.loads(theirs.data) == {"items": []}
    assert getattr(Api(api_server, group), method).__self__.api_client is api_server  # error messages name the server


def test_a_failed_read_raises_the_same_api_exception(api_server):
    from kubernetes.client.exceptions import ApiException

    Recorder.status = 404
    with pytest.raises(ApiException) as mine:
        Api(api_server, "core").read_namespaced_pod("gone", "payments", _preload_content=False)
    with pytest.raises(ApiException) as theirs:
        generated(api_server, "core").read_namespaced_pod("gone", "payments", _preload_content=False)
    assert (mine.value.status, type(mine.value)) == (theirs.value.status, type(theirs.value)) == (404, type(theirs.value))


def test_other_methods_come_from_the_generated_class(api_server):
    api = Api(api_server, "apps")
    assert api.patch_namespaced_deployment.__self__.__class__.__name__ == "AppsV1Api"


def test_a_first_read_imports_neither_the_generated_apis_nor_the_package_init(tmp_path, api_server):
    """In a fresh process, as a server's first call: no kubernetes.client.api.*, no model modules."""
    port = api_server.configuration.host.rsplit(":", 1)[1]
    code = f"""
import json, sys
from paii_kubernetes.reads import Api, load_library
load_library()
from kubernetes.client import ApiClient, Configuration
api = ApiClient(Configuration(host="http://127.0.0.1:{port}"))
Api(api, "core").list_namespaced_pod("payments", _preload_content=False)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("kubernetes"))))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT / "servers"), "PATH": "/usr/bin:/bin"})
    loaded = json.loads(out.stdout)
    assert not [m for m in loaded if m.startswith(("kubernetes.client.api.", "kubernetes.client.models."))], loaded
    assert not [m for m in loaded if m.startswith(("kubernetes.dynamic", "kubernetes.informer", "kubernetes.watch"))]
