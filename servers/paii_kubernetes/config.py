"""Settings of the Kubernetes server (env prefix ``PAII_KUBERNETES_``).

The cluster credentials stay in the kubeconfig (or the in-cluster service account): this model
holds only where to find them and the safety rules (protected namespaces, the exec allowlist).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from paii_common.config import PaiiSettings, is_set

#: read-only diagnostics that exec_in_pod runs without asking (documented in plugin.toml and
#: docs/kubernetes.md). One command per entry, split like a shell would (no shell runs them); a token
#: ending in ``*`` matches one argument with that prefix, a final ``...`` further plain words
#: (paii_kubernetes.policy). ``pg_isready`` and ``df`` are built in with their arguments checked one
#: by one (paii_kubernetes.diagnostics): only the pod's own database, only data and log volumes.
DEFAULT_EXEC_ALLOWLIST: tuple[str, ...] = (
    "python manage.py dbstats",
    "python manage.py showmigrations",
    "cat /proc/loadavg",
    "cat /proc/meminfo",
    "cat /proc/uptime",
    "cat /proc/net/sockstat",
    "cat /proc/1/status",
    "df -h",
    "free -m",
    "uptime",
    "date",
)


def _split_list(value: Any) -> Any:
    """A list from the environment: a JSON list, or entries separated by ``;`` or newlines (commas too
    when ``commas``)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.replace("\n", ";").split(";") if part.strip()]
    return value


class KubernetesSettings(PaiiSettings):
    model_config = SettingsConfigDict(env_prefix="PAII_KUBERNETES_", extra="ignore", populate_by_name=True)
    server_name: ClassVar[str] = "kubernetes"

    kubeconfig: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PAII_KUBERNETES_KUBECONFIG", "KUBECONFIG"),
        description="kubeconfig path(s), ':'-separated like KUBECONFIG; default ~/.kube/config, else in-cluster.",
    )
    context: str | None = Field(default=None, description="Default kubeconfig context (else the current one).")
    protected_namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["kube-system"],
        description="Namespaces where every write is refused (comma-separated).",
    )
    allow_protected_writes: bool = Field(default=False, description="Allow writes in protected namespaces.")
    exec_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="More read-only diagnostics for exec_in_pod, added to the defaults (';'-separated).",
    )
    warmup: bool = Field(default=True, description="Import the kubernetes library in the background after startup.")
    rollout_poll_s: float = Field(default=2.0, ge=0.05, le=30, description="First wait between rollout reads (doubles, max 5 s).")
    output_max_bytes: int = Field(default=12000, ge=1000, le=200000, description="Cap on exec and log text per call.")

    @field_validator("protected_namespaces", mode="before")
    @classmethod
    def _namespaces(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        return _split_list(value)

    @field_validator("exec_allowlist", mode="before")
    @classmethod
    def _allowlist(cls, value: Any) -> Any:
        return _split_list(value)

    @property
    def allowlist(self) -> tuple[str, ...]:
        """The defaults plus the configured entries."""
        return DEFAULT_EXEC_ALLOWLIST + tuple(e for e in self.exec_allowlist if e not in DEFAULT_EXEC_ALLOWLIST)

    def kubeconfig_path(self) -> str | None:
        """The kubeconfig to read (``:``-separated paths allowed), or None for in-cluster / nothing."""
        if is_set(self.kubeconfig):
            return os.path.expanduser(self.kubeconfig.strip())  # type: ignore[union-attr]
        default = Path("~/.kube/config").expanduser()
        return str(default) if default.is_file() else None
