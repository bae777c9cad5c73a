"""PAII Kubernetes server: lean pod, event, log and deployment reads; allowlisted diagnostics in pods;
approval-gated restarts, scaling, pod deletion and other commands.

Run it with ``paii-kubernetes`` (stdio) or ``python -m paii_kubernetes --transport streamable-http``.
Pod logs and command output are untrusted and go back to the model fenced as data.
"""

__version__ = "0.1.0"
