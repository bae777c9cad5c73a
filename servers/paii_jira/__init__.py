"""PAII Jira server: incident tickets (idempotent, linked to the page and the channel), issue reads,
JQL search, comments, transitions and a sprint report that does the arithmetic.

Run it with ``paii-jira`` (stdio) or ``python -m paii_jira --transport streamable-http``.
Descriptions and comments read from Jira are untrusted and go back to the model fenced as data.
"""

__version__ = "0.1.0"
