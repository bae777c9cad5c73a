"""What ``paii plugin new`` knows about services: their settings and the actions worth starting with.

A known service gets its real settings (the vendor's own variable names as aliases) and a
handful of suggested actions as typed tools; an unknown one gets a token, a base URL and
``list_items`` / ``get_item``. Read actions start with a verb the read-only guard
(``hooks/read_only_guard.py``) counts as reading; the generator checks that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REQUIRED = object()


@dataclass(frozen=True)
class Arg:
    name: str
    type: str  # a Python annotation: "str", "int", "str | None", "list[str] | None"
    description: str
    default: object = REQUIRED
    example: str | None = None
    max_length: int | None = 500  # strings; None for other types
    bounds: tuple[int, int] | None = None  # integers: (ge, le)


@dataclass(frozen=True)
class Action:
    name: str
    doc: str  # the tool's description: short, imperative
    args: tuple[Arg, ...] = ()
    read_only: bool = True
    destructive: bool = False
    returns: str = "list"  # "list" (ItemList), "item" (Item) or "written" (Written)
    check: str | None = None  # writers: the read that shows whether it happened


@dataclass(frozen=True)
class Setting:
    key: str
    description: str
    secret: bool = False
    required: bool = False
    default: str | None = None
    aliases: tuple[str, ...] = ()
    without: str = ""
    type: str = "string"


@dataclass(frozen=True)
class Service:
    key: str
    title: str
    what: str  # "metrics, dashboards and monitors": completes "<Title> for on-call work: ..."
    settings: tuple[Setting, ...]
    actions: tuple[Action, ...]
    setup: str
    triggers: tuple[str, ...] = field(default_factory=tuple)


def _limit(default: int = 20) -> Arg:
    return Arg("limit", "int", "How many to return; narrow the query to see others.", default, max_length=None, bounds=(1, 100))


def _since(default: str = "1h") -> Arg:
    return Arg("since", "str", "Start of the window: an age like 1h, 24h, 7d, or an ISO 8601 time.", default, max_length=64)


def _id(what: str, example: str) -> Arg:
    return Arg("id", "str", f"The {what} id.", example=example, max_length=200)


NOT_CONFIGURED = "The server starts and lists its tools, but every tool reports that {title} is not configured."

SERVICES: dict[str, Service] = {
    "datadog": Service(
        key="datadog", title="Datadog", what="metrics, dashboards and monitors",
        settings=(
            Setting("api_key", "Datadog API key (Organization Settings > API Keys).", secret=True, required=True,
                    aliases=("DD_API_KEY",), without=NOT_CONFIGURED),
            Setting("app_key", "Datadog application key: reads and writes as the user who created it.", secret=True,
                    required=True, aliases=("DD_APP_KEY",), without=NOT_CONFIGURED),
            Setting("site", "Your Datadog site: datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com.",
                    default="datadoghq.com", aliases=("DD_SITE",), without="datadoghq.com (US1) is used."),
        ),
        actions=(
            Action("query_metrics", "Query a metric over a time window, e.g. avg:system.cpu.user{service:payments-api}.",
                   (Arg("query", "str", "A Datadog metrics query.", example="avg:system.cpu.user{service:payments-api}", max_length=2000),
                    _since())),
            Action("get_dashboard", "Read one dashboard: title, widgets and their queries.", (_id("dashboard", "abc-def-ghi"),), returns="item"),
            Action("list_monitors", "List monitors, alerting ones first; narrow with a query to page.",
                   (Arg("query", "str | None", "Monitor search, e.g. tag:service:payments-api status:alert.", None), _limit())),
            Action("create_monitor", "Create a monitor. A write: show it to the person and ask first.",
                   (Arg("name", "str", "The monitor's name.", example="payments-api 5xx rate", max_length=300),
                    Arg("query", "str", "The monitor query.", example="avg(last_5m):sum:http.5xx{service:payments-api} > 10", max_length=2000),
                    Arg("message", "str", "The notification text, with @-handles.", max_length=4000),
                    Arg("type", "str", "The monitor type.", "metric alert", max_length=64)),
                   read_only=False, returns="written", check="list_monitors shows whether it was created"),
        ),
        setup="""
1. In Datadog: Organization Settings > API Keys > New Key (the API key), and
   Organization Settings > Application Keys > New Key (the application key; it acts as you).
2. Set PAII_DATADOG_API_KEY and PAII_DATADOG_APP_KEY (or DD_API_KEY / DD_APP_KEY), and
   PAII_DATADOG_SITE if your account is not on datadoghq.com (e.g. datadoghq.eu).
   Claude Code: /plugin > paii > Configure options. Other clients: the server's environment,
   or ~/.config/paii/.env.
3. Run `paii doctor` again.
""",
        triggers=("query metrics for payments-api", "check the Datadog dashboard", "which monitors are alerting",
                  "create a monitor for X"),
    ),
    "grafana": Service(
        key="grafana", title="Grafana", what="dashboards, alert rules and annotations",
        settings=(
            Setting("url", "Your Grafana URL, e.g. https://grafana.example.com.", required=True, aliases=("GRAFANA_URL",),
                    without=NOT_CONFIGURED),
            Setting("token", "A service account token (Administration > Service accounts), Viewer role for reads.",
                    secret=True, required=True, aliases=("GRAFANA_TOKEN",), without=NOT_CONFIGURED),
        ),
        actions=(
            Action("search_dashboards", "Find dashboards by title or tag.", (Arg("query", "str", "Words of the title, or a tag.", example="payments"), _limit())),
            Action("get_dashboard", "Read one dashboard: panels and their queries.", (_id("dashboard uid", "payments-overview"),), returns="item"),
            Action("list_alert_rules", "List alert rules and their state, firing first.", (Arg("folder", "str | None", "Only this folder.", None), _limit())),
            Action("create_annotation", "Add an annotation (e.g. a deploy or an incident) to dashboards. A write: ask first.",
                   (Arg("text", "str", "What happened.", max_length=2000), Arg("tags", "list[str] | None", "Tags, e.g. incident, deploy.", None, max_length=None)),
                   read_only=False, returns="written", check="get_dashboard shows the annotation"),
        ),
        setup="1. In Grafana: Administration > Service accounts > Add, then Add token.\n2. Set PAII_GRAFANA_URL and PAII_GRAFANA_TOKEN.\n3. Run `paii doctor` again.",
        triggers=("check the Grafana dashboard", "which Grafana alerts are firing", "annotate the deploy in Grafana"),
    ),
    "opsgenie": Service(
        key="opsgenie", title="Opsgenie", what="alerts, acknowledgements and on-call schedules",
        settings=(
            Setting("api_key", "An Opsgenie API key (Settings > API key management, or a team integration key).", secret=True,
                    required=True, aliases=("OPSGENIE_API_KEY",), without=NOT_CONFIGURED),
            Setting("url", "API base URL (EU accounts: https://api.eu.opsgenie.com).", default="https://api.opsgenie.com",
                    without="https://api.opsgenie.com is used."),
        ),
        actions=(
            Action("list_alerts", "List open alerts, newest first; narrow with a query to page.",
                   (Arg("query", "str | None", "Opsgenie alert search, e.g. status:open priority:P1.", None), _limit())),
            Action("get_alert", "Read one alert with its notes.", (_id("alert", "7d8f5e2a"),), returns="item"),
            Action("list_schedules", "Who is on call now, per schedule.", (_limit(),)),
            Action("acknowledge_alert", "Acknowledge an alert. A write: ask first.",
                   (_id("alert", "7d8f5e2a"), Arg("note", "str | None", "A note to add.", None, max_length=2000)),
                   read_only=False, returns="written", check="get_alert shows whether it is acknowledged"),
        ),
        setup="1. In Opsgenie: Settings > API key management > Add new API key.\n2. Set PAII_OPSGENIE_API_KEY (and PAII_OPSGENIE_URL for EU accounts).\n3. Run `paii doctor` again.",
        triggers=("what is alerting in Opsgenie", "acknowledge the Opsgenie alert", "who is on call in Opsgenie"),
    ),
    "sentry": Service(
        key="sentry", title="Sentry", what="issues, their events and resolutions",
        settings=(
            Setting("token", "A Sentry auth token (User settings > Auth Tokens) with event:read (and event:write to resolve).",
                    secret=True, required=True, aliases=("SENTRY_AUTH_TOKEN",), without=NOT_CONFIGURED),
            Setting("org", "Your organization slug.", required=True, aliases=("SENTRY_ORG",), without=NOT_CONFIGURED),
            Setting("url", "Sentry base URL (self-hosted: yours).", default="https://sentry.io", without="https://sentry.io is used."),
        ),
        actions=(
            Action("list_issues", "List a project's issues, most frequent first.",
                   (Arg("project", "str", "The project slug.", example="payments-api", max_length=200),
                    Arg("query", "str", "Issue search.", "is:unresolved", max_length=500), _limit())),
            Action("get_issue", "Read one issue: title, culprit, counts and the latest event's stack trace.", (_id("issue", "4512345678"),), returns="item"),
            Action("resolve_issue", "Mark an issue resolved. A write: ask first.", (_id("issue", "4512345678"),),
                   read_only=False, returns="written", check="get_issue shows its status"),
        ),
        setup="1. In Sentry: User settings > Auth Tokens > Create New Token (event:read, event:write).\n2. Set PAII_SENTRY_TOKEN and PAII_SENTRY_ORG.\n3. Run `paii doctor` again.",
        triggers=("what are the top Sentry errors", "show the Sentry issue", "resolve the Sentry issue"),
    ),
    "newrelic": Service(
        key="newrelic", title="New Relic", what="NRQL queries, alerts and entities",
        settings=(
            Setting("api_key", "A New Relic user key (NRAK-...).", secret=True, required=True, aliases=("NEW_RELIC_API_KEY",), without=NOT_CONFIGURED),
            Setting("account_id", "Your account id.", required=True, aliases=("NEW_RELIC_ACCOUNT_ID",), without=NOT_CONFIGURED),
            Setting("region", "US or EU.", default="US", without="US is used."),
        ),
        actions=(
            Action("query_nrql", "Run a NRQL query, e.g. SELECT count(*) FROM Transaction WHERE appName = 'payments-api'.",
                   (Arg("query", "str", "The NRQL query.", example="SELECT count(*) FROM Transaction SINCE 1 hour ago", max_length=4000),)),
            Action("list_alerts", "List open alert incidents, newest first.", (_limit(),)),
            Action("get_entity", "Read one entity (service, host) and its golden signals.", (_id("entity guid", "MXxBUE18QVBQTElDQVRJT058MQ"),), returns="item"),
        ),
        setup="1. In New Relic: API keys > Create a key (type User).\n2. Set PAII_NEWRELIC_API_KEY and PAII_NEWRELIC_ACCOUNT_ID.\n3. Run `paii doctor` again.",
        triggers=("run a NRQL query", "what is alerting in New Relic", "show the New Relic entity"),
    ),
    "github": Service(
        key="github", title="GitHub", what="pull requests, workflow runs and issues",
        settings=(
            Setting("token", "A fine-grained personal access token (read: pull requests, actions; write: issues).", secret=True,
                    required=True, aliases=("GITHUB_TOKEN",), without=NOT_CONFIGURED),
            Setting("url", "API base URL (GitHub Enterprise: https://HOST/api/v3).", default="https://api.github.com",
                    without="https://api.github.com is used."),
        ),
        actions=(
            Action("list_pull_requests", "List a repository's pull requests, newest first.",
                   (Arg("repo", "str", "owner/name.", example="acme/payments-api", max_length=200),
                    Arg("state", "str", "open, closed or all.", "open", max_length=16), _limit())),
            Action("get_pull_request", "Read one pull request: description, checks and reviews.",
                   (Arg("repo", "str", "owner/name.", example="acme/payments-api", max_length=200),
                    Arg("number", "int", "The pull request number.", example="42", max_length=None, bounds=(1, 10**9))), returns="item"),
            Action("list_workflow_runs", "List recent workflow runs of a repository, failures first.",
                   (Arg("repo", "str", "owner/name.", example="acme/payments-api", max_length=200), _limit())),
            Action("create_issue", "Open an issue. A write: show it to the person and ask first.",
                   (Arg("repo", "str", "owner/name.", example="acme/payments-api", max_length=200),
                    Arg("title", "str", "One line.", max_length=300), Arg("body", "str", "Markdown.", "", max_length=20000)),
                   read_only=False, returns="written", check="list the repository's issues to see whether it was opened"),
        ),
        setup="1. On GitHub: Settings > Developer settings > Fine-grained tokens > Generate new token.\n2. Set PAII_GITHUB_TOKEN.\n3. Run `paii doctor` again.",
        triggers=("which PRs are open on payments-api", "why did the deploy workflow fail", "open a GitHub issue for this"),
    ),
}


def generic(key: str, title: str) -> Service:
    """A service PAII knows nothing about: a token, a base URL, and list/get."""
    return Service(
        key=key, title=title, what=f"{title} items",
        settings=(
            Setting("token", f"{title} API token.", secret=True, required=True, without=NOT_CONFIGURED),
            Setting("url", f"{title} API base URL.", required=True, without=NOT_CONFIGURED),
        ),
        actions=(
            Action("list_items", f"List {title} items, newest first; narrow with a query to page.",
                   (Arg("query", "str | None", "Words to filter by.", None), _limit())),
            Action("get_item", f"Read one {title} item in full.", (_id("item", "123"),), returns="item"),
        ),
        setup=f"1. In {title}: create an API token.\n2. Set PAII_{key.upper()}_TOKEN and PAII_{key.upper()}_URL.\n3. Run `paii doctor` again.",
        triggers=(f"check {title}", f"what does {title} say about X"),
    )


def service_for(key: str) -> Service:
    return SERVICES.get(key) or generic(key, key.replace("-", " ").title())
