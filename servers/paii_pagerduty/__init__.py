"""PAII PagerDuty server: incidents, on-call and shift handoff tools for responders.

Run it with ``paii-pagerduty`` (or ``python -m paii_pagerduty``). Nothing here touches the
network or imports the HTTP client until a tool is called.
"""

__version__ = "0.1.0"
