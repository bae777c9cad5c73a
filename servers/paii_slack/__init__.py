"""PAII Slack server: incident channels, invites, posts, user lookup and channel digests.

Run it with ``paii-slack`` (stdio) or ``python -m paii_slack --transport streamable-http``.
Message text read from Slack is untrusted and goes back to the model fenced as data.
"""

__version__ = "0.1.0"
