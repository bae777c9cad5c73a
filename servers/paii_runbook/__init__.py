"""PAII runbook server: markdown runbooks run step by step, approval-gated and recorded.

Run it with ``paii-runbook`` (stdio) or ``python -m paii_runbook --transport streamable-http``.
The format is documented in docs/runbooks.md; ``paii runbook lint FILE`` checks a file.
"""

__version__ = "0.1.0"
