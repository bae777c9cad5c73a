"""Names counted in the person's requests (never kept as text): services PAII could integrate
with, and a few kinds of request the usage report turns into suggestions. The report leaves
out services that have a PAII server installed (a ``paii_<service>`` package, e.g. pagerduty
and slack today), so this list does not change when a plugin is added.
"""

import re

SERVICES = {
    "datadog": ("datadog", "data dog", "ddog"),
    "grafana": ("grafana",),
    "opsgenie": ("opsgenie", "ops genie"),
    "newrelic": ("new relic", "newrelic"),
    "sentry": ("sentry",),
    "github": ("github", "git hub"),
    "gitlab": ("gitlab",),
    "splunk": ("splunk",),
    "prometheus": ("prometheus", "promql", "alertmanager"),
    "servicenow": ("servicenow", "service now"),
    "confluence": ("confluence",),
    "jira": ("jira",),
    "pagerduty": ("pagerduty", "pager duty"),
    "slack": ("slack",),
    "kubernetes": ("kubernetes", "k8s", "kubectl"),
    "elastic": ("elasticsearch", "kibana", "opensearch"),
    "honeycomb": ("honeycomb",),
    "loki": ("loki",),
    "victorops": ("victorops", "splunk on-call"),
    "statuspage": ("statuspage", "status page"),
    "cloudwatch": ("cloudwatch",),
    "jenkins": ("jenkins",),
    "argocd": ("argocd", "argo cd"),
    "circleci": ("circleci", "circle ci"),
    "rollbar": ("rollbar",),
    "bugsnag": ("bugsnag",),
    "dynatrace": ("dynatrace",),
    "incidentio": ("incident.io",),
    "firehydrant": ("firehydrant",),
    "rootly": ("rootly",),
    "linear": ("linear.app", "linear issue", "linear ticket"),
    "notion": ("notion",),
    "zendesk": ("zendesk",),
    "cloudflare": ("cloudflare",),
    "vault": ("hashicorp vault",),
}
DISPLAY = {"newrelic": "New Relic", "github": "GitHub", "gitlab": "GitLab", "servicenow": "ServiceNow",
           "argocd": "Argo CD", "circleci": "CircleCI", "incidentio": "incident.io", "cloudwatch": "CloudWatch",
           "victorops": "VictorOps", "statuspage": "Statuspage", "firehydrant": "FireHydrant", "opsgenie": "Opsgenie",
           "kubernetes": "Kubernetes", "vault": "Vault"}
TOPICS = {
    "similar-incidents": ("similar incident", "seen this before", "happened before", "past incident",
                          "previous incident", "last time this"),
    "postmortem": ("postmortem", "post-mortem", "post mortem", "retro ", "root cause analysis", "incident review"),
    "dashboard": ("dashboard",),
    "runbook": ("runbook", "playbook"),
    "handoff": ("handoff", "hand-off", "hand off", "handover"),
    "deploy": ("deploy", "rollback", "roll back"),
    "logs": ("logs", "log search"),
    "alerts": ("alert", "paging", "pager"),
}
SCAN_LIMIT = 64 * 1024


def _matcher(table):
    names = {phrase: key for key, phrases in table.items() for phrase in phrases}
    alternatives = sorted(names, key=len, reverse=True)
    regex = re.compile(r"(?<![\w.])(%s)(?![\w])" % "|".join(re.escape(a).replace("\\ ", r"[\s_-]?") for a in alternatives))
    return regex, names


_SERVICES, _TOPICS = None, None


def count(text):
    """({service: mentions}, {topic: mentions}) in a request; the text itself is not kept."""
    global _SERVICES, _TOPICS
    if _SERVICES is None:
        _SERVICES, _TOPICS = _matcher(SERVICES), _matcher(TOPICS)
    low = text[:SCAN_LIMIT].lower()
    out = []
    for regex, names in (_SERVICES, _TOPICS):
        found = {}
        for m in regex.finditer(low):
            key = names.get(m.group(1)) or names.get(re.sub(r"[\s_-]", " ", m.group(1))) or _fuzzy(names, m.group(1))
            if key:
                found[key] = found.get(key, 0) + 1
        out.append(found)
    return out[0], out[1]


def _fuzzy(names, found):
    squashed = re.sub(r"[\s_-]", "", found)
    return next((k for phrase, k in names.items() if re.sub(r"[\s_-]", "", phrase) == squashed), None)
