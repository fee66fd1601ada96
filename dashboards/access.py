"""Who may open which page and see whose figures. Pure: no Streamlit, testable on its own.

The scope comes only from the signed-in user (`SignedInUser.visible_clinician_ids`, computed at
sign-in from the store). Pages pass it to the loaders as explicit arguments, and a clinician picked
in a filter or named in the URL is honoured only when it is inside that scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from operational_api.auth import SignedInUser

# Page keys (app_pages/<key>.py) per role, by navigation section (STYLE.md section 7 names).
# The ERA upload page joins the Billing section when its file exists (owned by the billing team).
PAGES_BY_ROLE: dict[str, dict[str, list[str]]] = {
    "CLINICIAN": {
        "My Practice": ["my_practice", "metric_explorer"],
        "Compliance": ["compliance_alerts"],
        "Reports": ["quarterly_review", "report_builder"],
        "Settings": ["notification_preferences"],
    },
    "SUPERVISOR": {
        "My Team": ["my_team", "metric_explorer"],
        "My Practice": ["my_practice"],
        "Compliance": ["compliance_alerts"],
        "Reports": ["productivity_report", "compliance_report", "quarterly_review", "report_builder"],
        "Settings": ["notification_preferences"],
    },
    "ADMIN": {
        "Practice Overview": ["practice_overview", "metric_explorer"],
        "My Team": ["my_team"],
        "My Practice": ["my_practice"],
        "Compliance": ["compliance_alerts", "sent_mail"],
        "Billing": ["reports"],
        "Schedule": ["schedule", "front_desk_tasks"],
        "Reports": [
            "productivity_report",
            "compliance_report",
            "demographics_report",
            "quarterly_review",
            "report_builder",
        ],
        "Administration": ["users_admin", "audit_log", "backfills"],
        "Settings": ["notification_preferences"],
    },
    "BILLING": {
        "Billing": ["reports", "demographics_report", "report_builder"],
        "Settings": ["notification_preferences"],
    },
    "FRONT_DESK": {
        "Schedule": ["schedule", "front_desk_tasks"],
        "Settings": ["notification_preferences"],
    },
}
PAGE_TITLES = {
    "my_practice": "My Practice",
    "my_team": "My Team",
    "practice_overview": "Practice Overview",
    "metric_explorer": "Metric explorer",
    "compliance_alerts": "Compliance alerts",
    "reports": "Reports",
    "schedule": "Schedule",
    "front_desk_tasks": "Front desk tasks",
    "era_upload": "ERA upload",
    "users_admin": "Users",
    "audit_log": "Audit log",
    "backfills": "Backfills",
    "sent_mail": "Sent mail",
    "productivity_report": "Productivity report",
    "compliance_report": "Compliance report",
    "demographics_report": "Client demographics",
    "quarterly_review": "Quarterly review",
    "report_builder": "Report builder",
    "notification_preferences": "Notification preferences",
}
ERA_UPLOAD_PAGE = "era_upload"
ERA_UPLOAD_ROLES = ("ADMIN", "BILLING")


def pages_for(role: str) -> set[str]:
    """Every page key the role may open."""
    keys = {key for section in PAGES_BY_ROLE.get(role, {}).values() for key in section}
    if role in ERA_UPLOAD_ROLES:
        keys.add(ERA_UPLOAD_PAGE)
    return keys


@dataclass(frozen=True)
class Scope:
    """The signed-in user's reach: their id, role and the clinicians whose figures they may see."""

    user_id: int
    role: str
    clinician_ids: tuple[int, ...] | None  # None = every clinician

    @classmethod
    def of(cls, user: SignedInUser) -> Scope:
        ids = None if user.visible_clinician_ids is None else tuple(sorted(user.visible_clinician_ids))
        return cls(user.user_id, user.role, ids)

    @property
    def sees_everyone(self) -> bool:
        return self.clinician_ids is None

    def allows(self, clinician_id: int | None) -> bool:
        """Whether this clinician's figures (None = the practice-wide figures) may be shown."""
        if clinician_id is None:
            return self.sees_everyone
        return self.sees_everyone or clinician_id in self.clinician_ids

    def narrowed_to(self, clinician_id: int | None) -> tuple[int, ...] | None:
        """The ids a loader gets when the user looks at one clinician (None = everyone in scope)."""
        if clinician_id is None:
            return self.clinician_ids
        if not self.allows(clinician_id):
            raise PermissionError("that clinician is outside what you may see")
        return (int(clinician_id),)


def requested_clinician(scope: Scope, raw: object, default: int | None) -> tuple[int | None, bool]:
    """Read a clinician id from a URL parameter or a filter; (id to show, whether the request was refused).

    Anything that is not an id the scope allows falls back to `default` and is reported as refused,
    so the page can say so instead of showing someone else's figures.
    """
    if raw is None or raw == "":
        return default, False
    if raw in ("practice", "all") and scope.sees_everyone:
        return None, False
    try:
        wanted = int(str(raw))
    except ValueError:
        return default, True
    if scope.allows(wanted):
        return wanted, False
    return default, True
