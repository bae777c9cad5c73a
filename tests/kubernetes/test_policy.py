"""The safety rules the server and the runbook engine share (paii_kubernetes.policy)."""

from __future__ import annotations

import pytest

from paii_common.errors import InvalidInput
from paii_kubernetes.config import DEFAULT_EXEC_ALLOWLIST, KubernetesSettings
from paii_kubernetes.policy import (
    check_write_allowed,
    is_read_only_diagnostic,
    refuse_secret_access,
    validate_name,
    validate_selector,
)


@pytest.mark.parametrize("value", ["payments-api", "payments-api-7d9f8b6c5-x2k9p", "kube-system", "a", "db.v1"])
def test_valid_kubernetes_names_pass(value):
    assert validate_name(value, "pod") == value


@pytest.mark.parametrize("value,reason", [("-n", "starts with '-'"), ("--all-namespaces", "starts with '-'"),
                                          ("secrets/db", "holds '/'"), ("../x", "holds '/'"), ("Payments", "not a Kubernetes name"),
                                          ("a b", "not a Kubernetes name"), ("", "empty"), ("x" * 254, "not a Kubernetes name")])
def test_invalid_names_are_refused_with_the_reason(value, reason):
    with pytest.raises(InvalidInput, match=reason):
        validate_name(value, "pod")


@pytest.mark.parametrize("argv", [["python", "manage.py", "dbstats"], ["cat", "/proc/loadavg"], ["df", "-h"],
                                  ["df", "-h", "/var/lib/postgresql/data"], ["pg_isready"], ["pg_isready", "-h", "localhost", "-p", "5432"]])
def test_allowlisted_diagnostics_are_read_only(argv):
    assert is_read_only_diagnostic(argv, DEFAULT_EXEC_ALLOWLIST)


@pytest.mark.parametrize("argv", [
    ["python", "manage.py", "dbstats", "--reset"],  # an extra argument
    ["python", "manage.py", "flush"],
    ["python manage.py dbstats"],  # one shell string is not the argv
    ["cat", "/proc/self/environ"],
    ["df", "-h", "/../etc"],
    ["df", "-h", "/x;rm"],
    ["pg_isready", "$(reboot)"],
    ["sh", "-c", "python manage.py dbstats"],
    ["env", "python", "manage.py", "dbstats"],
    ["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"],
    [],
])
def test_anything_else_is_not_a_read_only_diagnostic(argv):
    assert not is_read_only_diagnostic(argv, DEFAULT_EXEC_ALLOWLIST)


def test_wildcards_match_one_argument_with_the_prefix_only():
    allow = ["cat /proc/pressure/*"]
    assert is_read_only_diagnostic(["cat", "/proc/pressure/cpu"], allow)
    assert not is_read_only_diagnostic(["cat", "/proc/pressure/../../etc/shadow"], allow)
    assert not is_read_only_diagnostic(["cat", "/proc/pressure/cpu", "/etc/shadow"], allow)


def test_selectors_are_checked():
    assert validate_selector("app=payments-api,tier!=web") == "app=payments-api,tier!=web"
    assert validate_selector("") is None
    for bad in ["-l app", "app=$(x)", "app=`x`"]:
        with pytest.raises(InvalidInput):
            validate_selector(bad)


def test_writes_are_refused_in_protected_namespaces_and_read_only_mode():
    settings = KubernetesSettings.load()
    with pytest.raises(InvalidInput, match="protected namespace"):
        check_write_allowed("kube-system", settings)
    check_write_allowed("payments", settings)
    check_write_allowed("kube-system", KubernetesSettings.load(allow_protected_writes=True))
    with pytest.raises(InvalidInput, match="read-only mode"):
        check_write_allowed("payments", KubernetesSettings.load(read_only=True))


def test_settings_read_lists_from_the_environment(monkeypatch):
    monkeypatch.setenv("PAII_KUBERNETES_PROTECTED_NAMESPACES", "kube-system, prod-db")
    monkeypatch.setenv("PAII_KUBERNETES_EXEC_ALLOWLIST", "redis-cli info; nginx -T")
    monkeypatch.setenv("KUBECONFIG", "/tmp/a:/tmp/b")
    s = KubernetesSettings.load()
    assert s.protected_namespaces == ["kube-system", "prod-db"]
    assert s.allowlist[-2:] == ("redis-cli info", "nginx -T") and s.allowlist[0] == "python manage.py dbstats"
    assert s.kubeconfig_path() == "/tmp/a:/tmp/b"


@pytest.mark.parametrize("argv", [
    ["python", "manage.py", "migrate", "--settings=config.prod"], ["sh", "-c", "set -e; python manage.py check"],
    ["sh", "-c", "export FOO=1; python manage.py check"], ["bash", "-c", "declare -a pools; echo ok"], ["ps", "aux"],
    ["ps", "-ef"], ["echo", "environment=prod"], ["grep", "-c", "-E", '" 50[0-9] ', "/var/log/payments-api/access.log"],
    ["psql", "-Atc", "SELECT pg_is_in_recovery()"], ["cat", "/proc/1/status"], ["awk", "{print $1}", "/var/log/app.log"],
    ["ls", "/var/run/postgresql"], ["redis-cli", "set", "feature", "on"],
])
def test_everyday_commands_are_not_taken_for_environment_dumps(argv):
    refuse_secret_access(argv, {"STRIPE_API_KEY": "Secret payments-stripe key api-key"})


def test_a_final_ellipsis_matches_plain_words_only():
    allow = ["redis-cli info ..."]
    assert is_read_only_diagnostic(["redis-cli", "info", "memory", "cpu"], allow)
    for extra in ("-h", "attacker.example.com", "/etc/shadow", "10.0.0.1:6379", "user@host", "a=b", "--", ".."):
        assert not is_read_only_diagnostic(["redis-cli", "info", extra], allow), extra


def test_a_bare_star_matches_one_plain_word_and_a_prefix_star_no_option():
    assert is_read_only_diagnostic(["redis-cli", "-n", "3", "info"], ["redis-cli -n * info"])
    assert not is_read_only_diagnostic(["redis-cli", "-n", "-h", "info"], ["redis-cli -n * info"])
    assert not is_read_only_diagnostic(["cat", "/proc/pressure/-x"], ["cat /proc/pressure/*"])
