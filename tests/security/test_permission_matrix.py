"""Who reaches what: every page, API endpoint, export and admin list, for each role, against a table.

Roles (columns, in this order): anonymous, a rep (`rep`), a rep of another team (`other_rep`), the manager of
that other team (`other_manager`), the rep's own manager (`manager`), an admin. Objects are named from the
rep's point of view: `mine` is the rep's, `theirs` belongs to the other rep's team (see conftest.world).

Policy the table encodes:
- pages send anonymous visitors to the sign-in page; the API answers them 401;
- reps read only their own book; anything of another rep's answers 404, as if it did not exist (a guessed
  id tells nothing); manager-only pages and endpoints answer reps 403;
- managers plan together: every manager sees and edits scenarios, territories, rules, overrides and accounts
  (the alignment is one shared design), but people are per team: another team's reps, their assignments,
  activities, opportunities, quotas, KPIs and plans answer 404;
- admins reach everything, including the Django admin, which no one else can open.

Every named route must have a row (test_every_route_has_a_row), so a new endpoint fails here until someone
decides who may reach it.
"""

from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

ROLES = ("anonymous", "rep", "other_rep", "other_manager", "manager", "admin")

OK = 200
LOGIN = "login"  # 302 to the sign-in page
ADMIN_LOGIN = "admin-login"  # 302 to the admin's sign-in page
DENIED = 403
HIDDEN = 404
UNAUTHENTICATED = 401
UP = "200 or 503"  # a health check answers, whether or not a worker is up
PASSED = "passed"  # a command got past the permission check (any answer but 401/403/404/login, and no 5xx)
CREATED = 201
ACCEPTED = 202
NO_CONTENT = 204
GONE = 410


@dataclass(frozen=True)
class Row:
    route: str
    kwargs: dict = field(default_factory=dict)  # values name attributes of the world (their .pk is used)
    expected: tuple = ()
    method: str = "get"
    data: dict | None = None
    query: str = ""

    def __str__(self):
        return f"{self.method.upper()} {self.route} {self.kwargs or ''}{self.query}"


def row(route, kwargs=None, *expected, method="get", data=None, query=""):
    assert len(expected) == len(ROLES), f"{route}: {len(expected)} outcomes for {len(ROLES)} roles"
    return Row(route, kwargs or {}, tuple(expected), method, data, query)


def _(route, kwargs=None, *expected, **options):  # a POST command
    return row(route, kwargs, *expected, method="post", **options)


A, L, UA = ADMIN_LOGIN, LOGIN, UNAUTHENTICATED
P, D, H = PASSED, DENIED, HIDDEN

#            route                                  ids                      anon rep other other  mgr  admin
#                                                                                      rep   mgr
PAGES = [
    row("home", None,                                                       L,   302, 302, 302, 302, 302),
    row("healthz", None,                                                    UP,  UP,  UP,  UP,  UP,  UP),
    row("login", None,                                                      OK,  OK,  OK,  OK,  OK,  OK),
    row("logout", None,                                                     405, 405, 405, 405, 405, 405),
    row("api-schema", None,                                                 OK,  OK,  OK,  OK,  OK,  OK),
    row("api-docs", None,                                                   OK,  OK,  OK,  OK,  OK,  OK),
    row("core:job-detail", {"pk": "job"},                                   L,   H,   H,   OK,  OK,  OK),
    row("core:job-detail", {"pk": "rep_job"},                               L,   OK,  H,   OK,  OK,  OK),
    # territories: design pages are for managers
    row("territories:scenario-list", None,                                  L,   D,   D,   OK,  OK,  OK),
    row("territories:scenario-compare", None,                               L,   D,   D,   OK,  OK,  OK),
    row("territories:scenario-detail", {"pk": "plan"},                      L,   D,   D,   OK,  OK,  OK),
    row("territories:allocation", {"pk": "plan"},                           L,   D,   D,   OK,  OK,  OK),
    row("territories:geo-unit-import", None,                                L,   D,   D,   OK,  OK,  OK),
    _("territories:scenario-command", {"pk": "plan", "command": "=clone"},   L,   D,   D,   P,   P,   P),
    _("territories:territory-add", {"pk": "plan"},                          L,   D,   D,   P,   P,   P),
    _("territories:rule-save", {"pk": "plan"},                              L,   D,   D,   P,   P,   P,
      data={"territory": "{plan_central}", "name": "Energy", "criteria": "[]"}),
    _("territories:territory-move", {"pk": "plan_central"},                 L,   D,   D,   P,   P,   P),
    _("territories:rule-delete", {"pk": "rule"},                            L,   D,   D,   P,   P,   P),
    row("workspace:index", None,                                            L,   D,   D,   OK,  OK,  OK),
    row("workspace:territory-detail", {"pk": "plan_central"},               L,   D,   D,   OK,  OK,  OK),
    # accounts: a rep reaches their own account; another rep's id is a 404
    row("accounts:account-list", None,                                      L,   OK,  OK,  OK,  OK,  OK),
    row("accounts:account-detail", {"pk": "mine"},                          L,   OK,  H,   OK,  OK,  OK),
    row("accounts:account-detail", {"pk": "theirs"},                        L,   H,   OK,  OK,  OK,  OK),
    row("accounts:account-import", None,                                    L,   D,   D,   OK,  OK,  OK),
    row("accounts:account-export", None,                                    L,   OK,  OK,  OK,  OK,  OK),
    # reps: people are per team
    row("reps:rep-list", None,                                              L,   D,   D,   OK,  OK,  OK),
    row("reps:rep-export", None,                                            L,   D,   D,   OK,  OK,  OK),
    row("reps:rep-create", None,                                            L,   D,   D,   OK,  OK,  OK),
    row("reps:rep-detail", {"pk": "rep"},                                   L,   D,   D,   H,   OK,  OK),
    row("reps:rep-edit", {"pk": "rep"},                                     L,   D,   D,   H,   OK,  OK),
    row("reps:rep-detail", {"pk": "other_rep"},                             L,   D,   D,   OK,  H,   OK),
    row("reps:coverage", None,                                              L,   D,   D,   OK,  OK,  OK),
    row("reps:coverage-export", None,                                       L,   D,   D,   OK,  OK,  OK),
    row("reps:match", None,                                                 L,   D,   D,   OK,  OK,  OK),
    row("reps:call-plan", None,                                             L,   OK,  OK,  OK,  OK,  OK),
    row("reps:call-plan-ics", None,                                         L,   OK,  OK,  OK,  OK,  OK),
    row("reps:my-book", None,                                               L,   OK,  OK,  OK,  OK,  OK),
    row("reps:my-account", {"pk": "mine"},                                  L,   OK,  H,   H,   OK,  OK),
    row("reps:my-account", {"pk": "theirs"},                                L,   H,   OK,  OK,  H,   OK),
    # performance
    # a rep's dashboard is their own progress page
    row("performance:dashboard", None,                                      L,   302, 302, OK,  OK,  OK),
    row("performance:my-progress", None,                                    L,   OK,  OK,  OK,  OK,  OK),
    row("performance:map-data", None,                                       L,   D,   D,   OK,  OK,  OK),
    row("performance:export", None,                                         L,   OK,  OK,  OK,  OK,  OK),
    _("performance:recompute", None,                                        L,   D,   D,   P,   P,   P),
    # collaboration
    row("collaboration:request-list", None,                                 L,   OK,  OK,  OK,  OK,  OK),
    row("collaboration:request-create", None,                               L,   OK,  OK,  OK,  OK,  OK),
    row("collaboration:request-detail", {"pk": "my_request"},               L,   OK,  H,   H,   OK,  OK),
    row("collaboration:request-detail", {"pk": "their_request"},            L,   H,   OK,  OK,  H,   OK),
    _("collaboration:request-decide", {"pk": "my_request"},                 L,   D,   H,   H,   P,   P,
      data={"decision": "approve"}),
    _("collaboration:request-refresh", {"pk": "my_request"},                L,   P,   H,   H,   P,   P),
    _("collaboration:request-withdraw", {"pk": "their_request"},            L,   H,   P,   D,   H,   D),
    row("collaboration:thread", {"target_type": "=changerequest", "pk": "my_request"},
                                                                            L,   OK,  H,   H,   OK,  OK),
    _("collaboration:comment-create", {"target_type": "=changerequest", "pk": "my_request"},
                                                                            L,   P,   H,   H,   P,   P),
    row("collaboration:notifications", None,                                L,   OK,  OK,  OK,  OK,  OK),
    _("collaboration:notification-read", None,                              L,   P,   P,   P,   P,   P),
    row("collaboration:plan-list", None,                                    L,   OK,  OK,  OK,  OK,  OK),
    _("collaboration:plan-create", None,                                    L,   P,   D,   D,   P,   P,
      data={"territory": "{central}", "period_start": "2027-01-01", "period_end": "2027-03-31"}),
    row("collaboration:plan-detail", {"pk": "my_plan"},                     L,   OK,  H,   H,   OK,  OK),
    row("collaboration:plan-detail", {"pk": "their_plan"},                  L,   H,   OK,  OK,  H,   OK),
    _("collaboration:plan-step", {"pk": "my_plan", "step": "=submit"},       L,   P,   H,   H,   P,   P),
    _("collaboration:plan-step", {"pk": "their_plan", "step": "=approve"},   L,   H,   D,   P,   H,   P),
    row("collaboration:share-manage", {"pk": "plan"},                       L,   D,   D,   OK,  OK,  OK),
    row("collaboration:shared", {"token": "link_token"},                    OK,  OK,  OK,  OK,  OK,  OK),
]

WS = {"scenario_id": "plan"}
BBOX = "?bbox=-100,25,-90,35"
#            route                                  ids                      anon rep other other  mgr  admin
#                                                                                      rep   mgr
WORKSPACE_API = [
    row("workspace:api-tree", WS,                                           UA,  D,   D,   OK,  OK,  OK),
    row("workspace:api-balance", WS,                                        UA,  D,   D,   OK,  OK,  OK),
    row("workspace:api-boundaries", WS,                                     UA,  D,   D,   OK,  OK,  OK),
    row("workspace:api-units", WS,                                          UA,  D,   D,   OK,  OK,  OK, query=BBOX),
    row("workspace:api-accounts", WS,                                       UA,  D,   D,   OK,  OK,  OK, query=BBOX),
    row("workspace:api-tile", {**WS, "z": 0, "x": 0, "y": 0},               UA,  D,   D,   OK,  OK,  OK),
    _("workspace:api-selection", WS,                                        UA,  D,   D,   P,   P,   P),
    _("workspace:api-move-units", WS,                                       UA,  D,   D,   P,   P,   P),
    _("workspace:api-move-accounts", WS,                                    UA,  D,   D,   P,   P,   P),
    _("workspace:api-reshape", {**WS, "territory_id": "plan_central"},      UA,  D,   D,   P,   P,   P),
    _("workspace:api-lock", {**WS, "territory_id": "plan_central"},         UA,  D,   D,   P,   P,   P),
    _("workspace:api-undo", WS,                                             UA,  D,   D,   P,   P,   P),
    _("workspace:api-redo", WS,                                             UA,  D,   D,   P,   P,   P),
    row("workspace:api-compare", {**WS, "other_id": "live"},                UA,  D,   D,   OK,  OK,  OK),
]

API = [
    row("v1:api-root", None,                                                UA,  OK,  OK,  OK,  OK,  OK),
    # core
    row("v1:api-token-list", None,                                          UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:api-token-detail", {"pk": "my_token"},                          UA,  OK,  H,   H,   H,   H),
    _("v1:api-token-list", None,                                            UA,  P,   P,   P,   P,   P),
    row("v1:webhook-list", None,                                            UA,  D,   D,   OK,  OK,  OK),
    row("v1:webhook-detail", {"pk": "webhook"},                             UA,  D,   D,   H,   OK,  H),
    row("v1:webhook-delivery-list", None,                                   UA,  D,   D,   OK,  OK,  OK),
    row("v1:webhook-delivery-detail", {"pk": "delivery"},                   UA,  D,   D,   H,   OK,  H),
    row("v1:job-list", None,                                                UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:job-detail", {"pk": "rep_job"},                                 UA,  OK,  H,   OK,  OK,  OK),
    row("v1:job-detail", {"pk": "job"},                                     UA,  H,   H,   OK,  OK,  OK),
    # territories
    row("v1:scenario-list", None,                                           UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:scenario-detail", {"pk": "live"},                               UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:scenario-detail", {"pk": "plan"},                               UA,  OK,  OK,  OK,  OK,  OK),
    _("v1:scenario-list", None,                                             UA,  D,   D,   P,   P,   P),
    _("v1:scenario-activate", {"pk": "plan"},                               UA,  D,   D,   P,   P,   P),
    _("v1:scenario-clone", {"pk": "plan"},                                  UA,  D,   D,   P,   P,   P),
    _("v1:scenario-compare", {"pk": "plan"},                                UA,  D,   D,   P,   P,   P),
    _("v1:scenario-rollback", {"pk": "live"},                               UA,  D,   D,   P,   P,   P),
    _("v1:scenario-optimize", {"pk": "plan"},                               UA,  D,   D,   P,   P,   P),
    _("v1:scenario-schedule", {"pk": "plan"},                               UA,  D,   D,   P,   P,   P),
    # a realignment's trade-off points: read like the scenario; choosing one is a manager's (no such point: 404)
    row("v1:scenario-tradeoff", {"pk": "plan"},                             UA,  OK,  OK,  OK,  OK,  OK),
    _("v1:scenario-tradeoff-adopt", {"pk": "plan", "alternative_id": "=999999"}, UA, D, D,  H,   H,   H),
    row("v1:scenario-events", {"pk": "plan"},                               UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:scenario-overlaps-and-gaps", {"pk": "plan"},                    UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:territory-list", None,                                          UA,  OK,  OK,  OK,  OK,  OK),
    # the hierarchy (names, codes, boundaries) and the rules are read by everyone signed in: reps propose changes
    # against it; accounts, people and numbers are what is scoped
    row("v1:territory-detail", {"pk": "central"},                           UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:territory-detail", {"pk": "north"},                             UA,  OK,  OK,  OK,  OK,  OK),
    _("v1:territory-list", None,                                            UA,  D,   D,   P,   P,   P),
    _("v1:territory-move", {"pk": "plan_central"},                          UA,  D,   D,   P,   P,   P),
    _("v1:territory-units", {"pk": "plan_central"},                         UA,  D,   D,   P,   P,   P),
    row("v1:territory-type-list", None,                                     UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:territory-type-detail", {"pk": "territory_type"},               UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:geo-unit-layer-list", None,                                     UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:geo-unit-layer-detail", {"pk": "layer"},                        UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:geo-unit-list", None,                                           UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:geo-unit-detail", {"pk": "unit"},                               UA,  OK,  OK,  OK,  OK,  OK),
    _("v1:geo-unit-import-file", None,                                      UA,  D,   D,   P,   P,   P),
    row("v1:rule-list", None,                                               UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:rule-detail", {"pk": "rule"},                                   UA,  OK,  OK,  OK,  OK,  OK),
    _("v1:rule-list", None,                                                 UA,  D,   D,   P,   P,   P),
    # accounts
    row("v1:account-list", None,                                            UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:account-detail", {"pk": "mine"},                                UA,  OK,  H,   OK,  OK,  OK),
    row("v1:account-detail", {"pk": "theirs"},                              UA,  H,   OK,  OK,  OK,  OK),
    row("v1:account-history", {"pk": "mine"},                               UA,  OK,  H,   OK,  OK,  OK),
    row("v1:account-history", {"pk": "theirs"},                             UA,  H,   OK,  OK,  OK,  OK),
    row("v1:account-export", None,                                          UA,  OK,  OK,  OK,  OK,  OK),
    _("v1:account-list", None,                                              UA,  D,   D,   P,   P,   P),
    _("v1:account-import-file", None,                                       UA,  D,   D,   P,   P,   P),
    _("v1:account-bulk", None,                                              UA,  D,   D,   P,   P,   P),
    row("v1:assignment-list", None,                                         UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:assignment-detail", {"pk": "my_account_assignment"},            UA,  OK,  H,   OK,  OK,  OK),
    row("v1:assignment-detail", {"pk": "their_account_assignment"},         UA,  H,   OK,  OK,  OK,  OK),
    row("v1:override-list", None,                                           UA,  D,   D,   OK,  OK,  OK),
    row("v1:override-detail", {"pk": "override"},                           UA,  D,   D,   OK,  OK,  OK),
    _("v1:override-list", None,                                             UA,  D,   D,   P,   P,   P),
    _("v1:allocation-preview", None,                                        UA,  D,   D,   P,   P,   P),
    _("v1:allocation-run", None,                                            UA,  D,   D,   P,   P,   P),
    row("v1:allocation-run-list", None,                                     UA,  D,   D,   OK,  OK,  OK),
    row("v1:allocation-run-detail", {"pk": "run"},                          UA,  D,   D,   OK,  OK,  OK),
    row("v1:alignment-list", None,                                          UA,  D,   D,   OK,  OK,  OK),
    # reps
    row("v1:team-list", None,                                               UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:team-detail", {"pk": "team"},                                   UA,  OK,  H,   H,   OK,  OK),
    row("v1:team-detail", {"pk": "other_team"},                             UA,  H,   OK,  OK,  H,   OK),
    row("v1:rep-list", None,                                                UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:rep-detail", {"pk": "rep"},                                     UA,  OK,  H,   H,   OK,  OK),
    row("v1:rep-detail", {"pk": "other_rep"},                               UA,  H,   OK,  OK,  H,   OK),
    _("v1:rep-list", None,                                                  UA,  D,   D,   P,   P,   P),
    row("v1:rep-assignment-list", None,                                     UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:rep-assignment-vacancies", None,                                UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:rep-assignment-detail", {"pk": "my_assignment"},                UA,  OK,  H,   H,   OK,  OK),
    row("v1:rep-assignment-detail", {"pk": "their_assignment"},             UA,  H,   OK,  OK,  H,   OK),
    _("v1:rep-assignment-end", {"pk": "their_assignment"},                  UA,  D,   D,   P,   H,   P),
    row("v1:visit-cadence-list", None,                                      UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:visit-cadence-detail", {"pk": "cadence"},                       UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:activity-list", None,                                           UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:activity-detail", {"pk": "my_activity"},                        UA,  OK,  H,   H,   OK,  OK),
    row("v1:activity-detail", {"pk": "their_activity"},                     UA,  H,   OK,  OK,  H,   OK),
    _("v1:activity-bulk", None,                                             UA,  P,   P,   P,   P,   P),
    row("v1:coverage-list", None,                                           UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:coverage-never", None,                                          UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:coverage-overdue", None,                                        UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:workload-list", None,                                           UA,  OK,  OK,  OK,  OK,  OK),
    _("v1:rep-match-accept", None,                                          UA,  D,   D,   P,   P,   P),
    _("v1:rep-match-proposal", None,                                        UA,  D,   D,   P,   P,   P),
    # a call plan is a rep's: managers without a rep profile name one of their reps
    row("v1:call-plan-list", None,                                          UA,  OK,  OK,  H,   H,   H),
    row("v1:call-plan-list", None,                                          UA,  OK,  H,   H,   OK,  OK,
        query="?rep={rep}"),
    row("v1:call-plan-ics", None,                                           UA,  OK,  OK,  H,   H,   H),
    row("v1:call-plan-ics", None,                                           UA,  H,   OK,  OK,  H,   OK,
        query="?rep={other_rep}"),
    row("v1:my-account-list", None,                                         UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:my-account-detail", {"pk": "mine"},                             UA,  OK,  H,   H,   OK,  OK),
    row("v1:my-account-detail", {"pk": "theirs"},                           UA,  H,   OK,  OK,  H,   OK),
    # performance: reps read the quotas, deals and KPI rows about themselves; every manager reads all of them
    row("v1:quota-list", None,                                              UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:quota-rollup", None,                                            UA,  D,   D,   P,   P,   P),
    row("v1:quota-detail", {"pk": "my_quota"},                              UA,  OK,  H,   OK,  OK,  OK),
    row("v1:quota-detail", {"pk": "their_quota"},                           UA,  H,   OK,  OK,  OK,  OK),
    row("v1:quota-detail", {"pk": "territory_quota"},                       UA,  H,   H,   OK,  OK,  OK),
    row("v1:opportunity-list", None,                                        UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:opportunity-detail", {"pk": "my_opportunity"},                  UA,  OK,  H,   OK,  OK,  OK),
    row("v1:opportunity-detail", {"pk": "their_opportunity"},               UA,  H,   OK,  OK,  OK,  OK),
    _("v1:opportunity-import-csv", None,                                    UA,  D,   D,   P,   P,   P),
    _("v1:opportunity-bulk", None,                                          UA,  D,   D,   P,   P,   P),
    row("v1:kpi-snapshot-list", None,                                       UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:kpi-snapshot-detail", {"pk": "my_snapshot"},                    UA,  OK,  H,   OK,  OK,  OK),
    row("v1:kpi-snapshot-detail", {"pk": "their_snapshot"},                 UA,  H,   OK,  OK,  OK,  OK),
    row("v1:kpi-snapshot-export", None,                                     UA,  OK,  OK,  OK,  OK,  OK),
    _("v1:kpi-snapshot-recompute", None,                                    UA,  D,   D,   P,   P,   P),
    row("v1:kpi-flag-list", None,                                           UA,  OK,  OK,  OK,  OK,  OK),
    # collaboration
    row("v1:change-request-list", None,                                     UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:change-request-detail", {"pk": "my_request"},                   UA,  OK,  H,   H,   OK,  OK),
    row("v1:change-request-detail", {"pk": "their_request"},                UA,  H,   OK,  OK,  H,   OK),
    _("v1:change-request-list", None,                                       UA,  P,   P,   P,   P,   P),
    _("v1:change-request-approve", {"pk": "my_request"},                    UA,  D,   H,   H,   P,   P),
    _("v1:change-request-reject", {"pk": "their_request"},                  UA,  H,   D,   P,   H,   P),
    _("v1:change-request-request-changes", {"pk": "my_request"},            UA,  D,   H,   H,   P,   P),
    _("v1:change-request-refresh", {"pk": "my_request"},                    UA,  P,   H,   H,   P,   P),
    # only the author withdraws a request
    _("v1:change-request-withdraw", {"pk": "their_request"},                UA,  H,   P,   D,   H,   D),
    row("v1:comment-list", None,                                            UA,  P,   P,   P,   P,   P),
    row("v1:notification-list", None,                                       UA,  OK,  OK,  OK,  OK,  OK),
    _("v1:notification-mark-read", None,                                    UA,  P,   P,   P,   P,   P),
    row("v1:notification-unread-count", None,                               UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:sales-plan-list", None,                                         UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:sales-plan-detail", {"pk": "my_plan"},                          UA,  OK,  H,   H,   OK,  OK),
    row("v1:sales-plan-detail", {"pk": "their_plan"},                       UA,  H,   OK,  OK,  H,   OK),
    _("v1:sales-plan-list", None,                                           UA,  P,   P,   P,   P,   P),
    _("v1:sales-plan-actions", {"pk": "my_plan"},                           UA,  P,   H,   H,   P,   P,
      data={"description": "Call the buyer", "due_date": "2026-11-02"}),
    _("v1:sales-plan-action-done", {"pk": "their_plan", "action_id": "0"},  UA,  H,   H,   H,   H,   H),
    _("v1:sales-plan-approve", {"pk": "their_plan"},                        UA,  H,   D,   P,   H,   P),
    _("v1:sales-plan-goals", {"pk": "my_plan"},                             UA,  P,   H,   H,   P,   P,
      data={"metric": "revenue", "target": "1000"}),
    _("v1:sales-plan-return-to-draft", {"pk": "their_plan"},                UA,  H,   D,   P,   H,   P),
    _("v1:sales-plan-review", {"pk": "their_plan"},                         UA,  H,   P,   P,   H,   P),
    _("v1:sales-plan-submit", {"pk": "my_plan"},                            UA,  P,   H,   H,   P,   P),
    # share links: the list is empty for reps; DELETE revokes
    row("v1:share-link-list", None,                                         UA,  OK,  OK,  OK,  OK,  OK),
    row("v1:share-link-detail", {"pk": "link"},                             UA,  H,   H,   P,   P,   P,
        method="delete"),
]


def _value(world, name):
    if isinstance(name, int):
        return name
    if name.startswith("="):  # a literal
        return name[1:]
    if name.isdigit():
        return name
    if name == "link_token":
        return world.link_token
    if name == "territory_type":
        from tests.factories import TerritoryTypeFactory

        return TerritoryTypeFactory().pk
    if name == "cadence":
        from reps.models import VisitCadence

        return VisitCadence.objects.order_by("pk").first().pk
    value = getattr(world, name)
    return value.pk if hasattr(value, "pk") else value


class _Ids(dict):
    def __init__(self, world):
        super().__init__()
        self.world = world

    def __missing__(self, name):
        return _value(self.world, name)


def _outcome(response):
    """The answer in the table's terms."""
    status = response.status_code
    if status == 302:
        location = response["Location"]
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
        if location.startswith(reverse("login")):
            return LOGIN
    return status


def _matches(expected, actual) -> bool:
    if expected == PASSED:
        return actual not in (LOGIN, ADMIN_LOGIN, 401, 403, 404, 405) and (isinstance(actual, str) or actual < 500)
    if expected == UP:
        return actual in (200, 503)
    return expected == actual


# Names only the other rep's team may read: no page or answer a rep reaches (200) may contain them.
LEAK_MARKERS = ("Delta Dallas", "Bob North", "Dallas secret deal", "other laptop")


def _check(world, client, rows) -> list[str]:
    from core.models import ApiToken

    mismatches = []
    for entry in rows:
        kwargs = {key: _value(world, value) for key, value in entry.kwargs.items()}
        url = reverse(entry.route, kwargs=kwargs) + entry.query.format_map(_Ids(world))
        for role, expected in zip(ROLES, entry.expected, strict=True):
            user = world.users[role]
            client.logout()
            if user is not None:
                client.force_login(user)
            # Each request runs in a savepoint that is rolled back, so a command cannot change the next row.
            with transaction.atomic():
                if entry.method == "get":
                    response = client.get(url)
                else:
                    data = {key: value.format_map(_Ids(world)) if isinstance(value, str) else value
                            for key, value in (entry.data or {}).items()}
                    if entry.route.startswith(("v1:", "workspace:api")):
                        response = getattr(client, entry.method)(url, data, content_type="application/json")
                    else:  # pages post forms
                        response = getattr(client, entry.method)(url, data)
                transaction.set_rollback(True)
            actual = _outcome(response)
            if not _matches(expected, actual):
                mismatches.append(f"{entry!s:70} {role:13} expected {expected!s:7} got {actual}")
            elif role == "rep" and actual == OK:
                body = b"".join(response.streaming_content) if response.streaming else response.content
                leaked = [marker for marker in LEAK_MARKERS if marker.encode() in body]
                if leaked:
                    mismatches.append(f"{entry!s:70} {role:13} shows another rep's {leaked}")
        assert ApiToken.objects.count() == 2
    return mismatches


@pytest.mark.parametrize("table", ["PAGES", "WORKSPACE_API", "API"])
def test_each_role_reaches_exactly_what_the_table_says(world, client, table):
    mismatches = _check(world, client, globals()[table])
    assert not mismatches, "\n" + "\n".join(mismatches)


def _route_names(resolver=None, namespace=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _route_names(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_route_has_a_row():
    """A new page or endpoint fails here until the table says who may reach it."""
    covered = {entry.route for entry in PAGES + WORKSPACE_API + API}
    routes = {name for name in _route_names() if not name.startswith("admin:")}
    assert sorted(routes - covered) == []
    assert sorted(covered - routes) == []


def test_the_admin_is_for_admins_only(world, client):
    """Every admin changelist: the admin reads it; everyone else is sent to the admin's sign-in page."""
    from django.contrib import admin

    mismatches = []
    urls = [reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            for model in admin.site._registry]
    assert len(urls) > 20
    for role, user in world.users.items():
        client.logout()
        if user is not None:
            client.force_login(user)
        for url in urls:
            actual = _outcome(client.get(url))
            expected = OK if role == "admin" else ADMIN_LOGIN
            if actual != expected:
                mismatches.append(f"{url:60} {role:13} expected {expected} got {actual}")
    assert not mismatches, "\n" + "\n".join(mismatches)


def test_a_staff_manager_sees_only_their_teams_in_the_admin(world, client):
    """Managers made staff get the reps admin cut to their teams: another team's rep is not listed nor opened."""
    manager = world.users["manager"]
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    client.force_login(manager)
    page = client.get(reverse("admin:reps_rep_changelist"))
    assert page.status_code == 200
    assert "Alice Central" in page.content.decode() and "Bob North" not in page.content.decode()
    other = client.get(reverse("admin:reps_rep_change", args=[world.other_rep.pk]))
    assert other.status_code in (302, 404)
    assert client.get(reverse("admin:reps_rep_change", args=[world.rep.pk])).status_code == 200
