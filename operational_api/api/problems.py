"""RFC 9457 problem details: every refusal and error the API returns, in one shape.

`type` ends in the stable rule id (clients key on it), `title` and `detail` are for people, `rule` and `field`
repeat the rule id and name the offending field. Nothing here ever carries a request's values (they may be PHI):
validation problems name the field and what is wrong with it, never what was sent.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi.responses import JSONResponse

PROBLEM_TYPE_BASE = "https://mentalspace.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """An HTTP-level refusal raised by the API layer itself (token, headers, idempotency)."""

    def __init__(
        self,
        status: int,
        rule: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.rule = rule
        self.detail = detail
        self.field = field
        self.headers = headers


def problem_body(status: int, rule: str, detail: str, field: str | None = None) -> dict[str, object]:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return {
        "type": PROBLEM_TYPE_BASE + rule,
        "title": title,
        "status": status,
        "detail": detail,
        "rule": rule,
        "field": field,
    }


def problem_response(
    status: int, rule: str, detail: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, rule, detail, field), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


# The problem schema for OpenAPI (every route documents it for its 4xx/5xx answers).
PROBLEM_SCHEMA = {
    "description": "Problem details (RFC 9457)",
    "content": {
        MEDIA_TYPE: {
            "schema": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "rule": {"type": "string"},
                    "field": {"type": ["string", "null"]},
                },
                "required": ["type", "title", "status", "detail", "rule"],
            }
        }
    },
}
