"""The back office's JSON API: cases (find, open, move on), the 台账 export, and the audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from central import audit
from central.backoffice import (
    CASE_STATUSES,
    MAX_CASES,
    MAX_NOTE,
    CaseError,
    CaseSearch,
    case_detail,
    find_cases,
    set_status,
)
from central.ledger import ledger, to_csv, to_xlsx
from central.web.auth import Admin, Operator, Viewer, client_address
from central.web.context import WebContext, context

router = APIRouter(prefix="/api", tags=["back office"])
Ctx = Annotated[WebContext, Depends(context)]
CASE_NO = r"^([0-9]{12}|[0-9]{16}|[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26})$"  # a case number, or the receipt's (16 or 26)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CaseStatus(BaseModel):
    status: str = Field(description="one of " + "、".join(CASE_STATUSES))
    note: str = Field(default="", max_length=MAX_NOTE, description="one line the citizen sees at the booth")


@router.get("/cases")
def cases(ctx: Ctx, user: Viewer, q: Annotated[str, Query(max_length=32)] = "",
          item: Annotated[str, Query(max_length=32)] = "", device: Annotated[str, Query(max_length=63)] = "",
          status: Annotated[str, Query(max_length=16)] = "", since: date | None = None,
          until: date | None = None) -> dict[str, Any]:
    """Cases in the user's regions, newest first (at most MAX_CASES), without personal data."""
    search = CaseSearch(q, item, device, status, since, until)
    with ctx.db.read() as conn:
        found = find_cases(conn, user, ctx.names, search)
    return {"cases": found, "statuses": list(CASE_STATUSES), "limit": MAX_CASES, "more": len(found) >= MAX_CASES}


@router.get("/cases/{case_no}")
def case(case_no: Annotated[str, Path(pattern=CASE_NO)], ctx: Ctx, user: Viewer,
         request: Request) -> dict[str, Any]:
    """One case, by case or receipt number, with its applicant (masked for viewers); opening it is audited."""
    with ctx.db.transaction() as conn:
        found = case_detail(conn, user, ctx.names, case_no, client_address(request))
    if found is None:
        raise HTTPException(404, f"no case {case_no}")
    return {**found, "statuses": list(CASE_STATUSES)}


@router.post("/cases/{case_no}/status")
def case_status(case_no: Annotated[str, Path(pattern=r"^[0-9]{12}$")], body: CaseStatus, ctx: Ctx, user: Operator,
                request: Request) -> dict[str, Any]:
    try:
        with ctx.db.transaction() as conn:
            return set_status(conn, user, case_no, body.status, body.note.strip(), client_address(request))
    except CaseError as exc:
        raise HTTPException(400, str(exc)) from None
    except LookupError:
        raise HTTPException(404, f"no case {case_no}") from None


@router.get("/export", response_class=Response,
            responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
def export(ctx: Ctx, user: Viewer, request: Request, start: date, end: date,
           format: Literal["xlsx", "csv"] = "xlsx",
           section: Literal["usage", "ratings", "cases", "assists"] = "usage") -> Response:
    """The 台账 (ledger) of the period (inclusive) for the user's regions: XLSX with a sheet per
    section (usage, ratings, cases, assists), or one section as CSV. No personal data."""
    if end < start:
        raise HTTPException(400, f"the period ends ({end}) before it starts ({start})")
    try:
        with ctx.db.read() as conn:
            found = ledger(conn, start, end, user.regions, ctx.names)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    with ctx.db.transaction() as conn:
        audit.record(conn, user.name, "export", f"{start}..{end}", address=client_address(request),
                     details={"format": format, "section": section if format == "csv" else "all",
                              "regions": list(user.regions)})
    name = f"taizhang-{start}-{end}" + (f"-{section}.csv" if format == "csv" else ".xlsx")
    body, kind = (to_csv(found, section), "text/csv; charset=utf-8") if format == "csv" else (to_xlsx(found), XLSX)
    return Response(body, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/audit")
def audit_log(ctx: Ctx, user: Admin, limit: Annotated[int, Query(ge=1, le=5000)] = 200,
              actor: Annotated[str | None, Query(max_length=64)] = None,
              action: Annotated[str | None, Query(max_length=32)] = None) -> list[dict[str, Any]]:
    """The newest lines first: logins, commands, case changes, follow-ups, exports, user changes."""
    with ctx.db.read() as conn:
        return audit.lines(conn, limit, actor, action)
