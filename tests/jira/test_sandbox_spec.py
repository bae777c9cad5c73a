"""The sandbox Jira answers in the shapes of the published specs (platform v3 + agile, combined).

Each response PAII reads is validated against the spec's response schema for its path, method and
status (``additionalProperties: false`` catches invented fields); where the spec has only an
example (the agile sprint endpoints), every key we send must appear in it.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from paii_sandbox.services import jira as service
from tests.jira.conftest import EMAIL, NOW, SEED, TOKEN, Clock

SPEC = Path(os.environ.get("SHARED", Path(__file__).resolve().parents[3] / "shared")) / "api-mocks/jira/jira-combined.prism.json"
pytestmark = pytest.mark.skipif(not SPEC.is_file(), reason=f"published Jira spec not found at {SPEC}")


@functools.cache
def spec() -> dict:
    return json.loads(SPEC.read_text())


def check(response, path: str, method: str = "GET") -> None:
    from openapi_schema_validator import OAS30ReadValidator

    op = _op(path, method)
    status = str(response.status_code)
    assert status in op["responses"], f"{method} {path}: the spec has no {status} answer ({list(op['responses'])})"
    content = (op["responses"][status].get("content") or {}).get("application/json") or {}
    body = response.json() if response.content else None
    schema = content.get("schema")
    if schema is not None:
        root = {**schema, "components": spec()["components"]}
        items = [body]
        if isinstance(body, list) and isinstance(content.get("example"), list) and schema.get("type") != "array":
            items = body  # GET remotelink: the spec's schema is one link, its example (and Jira) a list of them
        for item in items:
            OAS30ReadValidator(root).validate(item)
    elif content.get("example") is not None:
        _keys_within(body, content["example"], f"{method} {path}")


def _op(path: str, method: str) -> dict:
    hits = []
    for template, ops in spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            hits.append((template.count("{"), ops[method.lower()]))
    assert hits, f"{method} {path} is not in the published spec"
    return min(hits, key=lambda h: h[0])[1]  # a literal segment beats a template


def _keys_within(body, example, where: str) -> None:
    if isinstance(body, dict) and isinstance(example, dict):
        extra = set(body) - set(example)
        assert not extra, f"{where}: keys not in the spec's example: {extra}"
        for k, v in body.items():
            _keys_within(v, example[k], f"{where}.{k}")
    elif isinstance(body, list) and isinstance(example, list) and example:
        for item in body:
            _keys_within(item, example[0], where)


@pytest.fixture
def http():
    world = Clock(NOW)
    app = service.create_app(service.seed(SEED, NOW), world)
    auth = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    return TestClient(app, headers={"Authorization": f"Basic {auth}"})


READS = [
    "/rest/api/3/myself", "/rest/api/3/field", "/rest/api/3/project/search", "/rest/api/3/project/INC",
    "/rest/api/3/issue/INFRA-234?expand=changelog", "/rest/api/3/issue/INFRA-234/changelog",
    "/rest/api/3/issue/INFRA-234/comment?orderBy=-created", "/rest/api/3/issue/INFRA-234/transitions",
    "/rest/api/3/issue/INFRA-234/remotelink", "/rest/agile/1.0/board?name=Team", "/rest/agile/1.0/board/84",
    "/rest/agile/1.0/board/84/configuration", "/rest/agile/1.0/board/84/sprint?state=active",
    "/rest/agile/1.0/board/84/sprint?state=closed", "/rest/agile/1.0/sprint/23",
    "/rest/api/3/search/jql?jql=sprint%20%3D%2023&fields=summary,status,customfield_10016,customfield_10020,issuelinks,parent&expand=changelog",
]


@pytest.mark.parametrize("url", READS)
def test_reads_match_the_published_schema(http, url):
    check(http.get(url), url.split("?")[0])


def test_writes_and_their_reads_match_the_published_schema(http):
    doc = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}]}
    created = http.post("/rest/api/3/issue", json={"fields": {"project": {"key": "INC"}, "summary": "x",
                                                              "issuetype": {"name": "Incident"}, "description": doc}})
    check(created, "/rest/api/3/issue", "POST")
    key = created.json()["key"]
    check(http.post(f"/rest/api/3/issue/{key}/comment", json={"body": doc}), f"/rest/api/3/issue/{key}/comment", "POST")
    link = {"globalId": "paii:https://pd.example/1", "object": {"url": "https://pd.example/1", "title": "PD 1"}}
    check(http.post(f"/rest/api/3/issue/{key}/remotelink", json=link), f"/rest/api/3/issue/{key}/remotelink", "POST")
    again = http.post(f"/rest/api/3/issue/{key}/remotelink", json=link)
    assert again.status_code == 200  # the same globalId updates, never duplicates
    check(again, f"/rest/api/3/issue/{key}/remotelink", "POST")
    listed = http.get(f"/rest/api/3/issue/{key}/remotelink").json()
    assert len(listed) == 1
    from openapi_schema_validator import OAS30ReadValidator
    OAS30ReadValidator({"$ref": "#/components/schemas/RemoteIssueLink", "components": spec()["components"]}).validate(listed[0])
    moved = http.post(f"/rest/api/3/issue/{key}/transitions", json={"transition": {"id": "21"}})
    assert moved.status_code == 204 and "204" in _op(f"/rest/api/3/issue/{key}/transitions", "POST")["responses"]
    check(http.post("/rest/api/3/search/jql", json={"jql": f"key = {key}", "fields": ["status"]}), "/rest/api/3/search/jql", "POST")


def test_errors_match_the_published_schema(http):
    bad = http.get("/rest/api/3/search/jql?jql=project%20%3D%20NOPE")
    assert bad.status_code == 400
    from openapi_schema_validator import OAS30ReadValidator
    OAS30ReadValidator({"$ref": "#/components/schemas/ErrorCollection", "components": spec()["components"]}).validate(bad.json())
    check(http.post("/rest/api/3/issue", json={"fields": {"project": {"key": "NOPE"}, "summary": "x",
                                                          "issuetype": {"name": "Task"}}}), "/rest/api/3/issue", "POST")
    assert http.get("/rest/api/3/search?jql=project%3DINC").status_code == 410  # removed by Atlassian
    anonymous = TestClient(http.app).get("/rest/api/3/myself")
    assert anonymous.status_code == 401


def test_the_sandbox_is_stateful_and_its_changelog_follows_writes(http):
    before = http.get("/rest/api/3/issue/INFRA-236?expand=changelog").json()
    http.post("/rest/api/3/issue/INFRA-236/transitions", json={"transition": {"id": "51"}})
    after = http.get("/rest/api/3/issue/INFRA-236?expand=changelog").json()
    assert before["fields"]["status"]["name"] == "To Do" and after["fields"]["status"]["name"] == "Done"
    assert after["fields"]["resolutiondate"] and after["changelog"]["total"] == before["changelog"]["total"] + 1
    done = http.post("/rest/api/3/search/jql", json={"jql": "sprint = 23 AND statusCategory = Done", "maxResults": 100}).json()
    assert len(done["issues"]) == 13
