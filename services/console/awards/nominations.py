"""Nominations (list, nominate a team, a person or a named recipient for what they did,
approve with the decision's number and date, reject with a reason) and the suggested
nominations awards makes from the emulation scores (accept or dismiss)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.awards.labels import (
    AWARD_KIND_LABELS,
    NOMINATION_STATUS_LABELS,
    RECIPIENT_KIND_LABELS,
    SUBJECT_LABELS,
    SUGGESTION_STATUS_LABELS,
    authority_names,
    awards_catalogue,
    campaign_choices,
    describe,
    form_names,
)
from services.console.common import _noop, check_csrf, error_page, redirect, render
from services.console.i18n import _
from services.console.incidents.lookups import (
    CHOICES_LIMIT,
    PAGE_SIZE,
    area_choices,
    aware,
    call,
    call_page,
    category_label,
    form_errors,
    label,
    page_of,
    parse_day,
    team_choices,
    today,
)

SOLVED = ("resolved", "mediated", "referred")
NOMINATION_FIELDS = {
    "recipient_id": "recipient",
    "recipient_kind": "recipient_kind",
    "recipient_name": "recipient_name",
    "area_id": "area_id",
    "award_form": "award_form",
    "authority": "authority",
    "award_kind": "award_kind",
    "campaign": "campaign",
    "reason": "reason",
    "achievements": "achievements",
}
APPROVE_FIELDS = {"decision_number": "decision_number", "decided_on": "decided_on"}
REJECT_FIELDS = {"reason": "reject_reason"}
DONE = {
    "nominated": _noop("The nomination was recorded."),
    "rejected": _noop("The nomination was rejected."),
    "accepted": _noop("The suggestion was accepted: here is its nomination."),
}
ALREADY_AWARDED = _noop(
    "An achievement cited here has already earned this recipient an award, "
    "or the nomination has already been decided."
)


async def _nomination_choices(request: Request) -> dict[str, Any]:
    catalogue = await awards_catalogue(request)
    teams = await team_choices(request)
    people: list[dict[str, Any]] = await call(
        request, "registry", "GET", "/people", params={"limit": CHOICES_LIMIT}
    )
    incidents: list[dict[str, Any]] = await call(
        request, "reporting", "GET", "/incidents", params={"limit": PAGE_SIZE}
    )
    forms = form_names(catalogue)
    return {
        "teams": teams,
        "people": sorted(people, key=lambda person: person["full_name"]),
        "areas": await area_choices(request),
        "incidents": [
            {
                **incident,
                "occurred": aware(incident["occurred_at"]),
                "category_label": category_label(incident["category"]),
            }
            for incident in incidents
            if incident["status"] in SOLVED and not incident["duplicate_of"]
        ],
        "forms": list(forms.items()),
        "authorities": [
            (code, name)
            for code, name in authority_names(catalogue).items()
            if catalogue["authorities"][code].get("level") != "district"  # gone since 7/2025
        ],
        "kinds": [(code, label(AWARD_KIND_LABELS, code)) for code in catalogue["award_kinds"]],
        "recipient_kinds": [(code, _(text)) for code, text in RECIPIENT_KIND_LABELS.items()],
        "campaigns": campaign_choices(catalogue),
    }


async def _nomination_page(
    request: Request,
    nomination_id: uuid.UUID,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    try:
        nomination = await call(request, "awards", "GET", f"/nominations/{nomination_id}")
        catalogue = await awards_catalogue(request)
        areas = {area["id"]: area["label"] for area in await area_choices(request)}
    except ApiError as error:
        return await error_page(request, error)
    describe(nomination, catalogue, areas)
    nomination["status_label"] = label(NOMINATION_STATUS_LABELS, nomination["status"])
    nomination["created"] = aware(nomination["created_at"])
    nomination["decided"] = aware(nomination["decided_at"]) if nomination["decided_at"] else None
    done = request.query_params.get("done", "")
    return render(
        request,
        "awards/nomination.html",
        {
            "nomination": nomination,
            "values": values or {"decided_on": today().isoformat()},
            "errors": errors or {},
            "general": general or [],
            "done": _(DONE[done]) if done in DONE else "",
        },
        status=status,
    )


async def _suggestions_page(
    request: Request,
    offset: int = 0,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    query = request.query_params
    filters = {"status": query.get("status", "suggested").strip()}
    try:
        catalogue = await awards_catalogue(request)
        areas = {area["id"]: area["label"] for area in await area_choices(request)}
        rows, total = await call_page(
            request,
            "awards",
            "/suggestions",
            params={
                **{k: v for k, v in filters.items() if v},
                "offset": offset,
                "limit": PAGE_SIZE + 1,
            },
        )
    except ApiError as error:
        if error.status == 422:
            return render(request, "errors/bad_request.html", status=422)
        return await error_page(request, error)
    shown, page = page_of(rows, offset, "/suggestions", filters, total=total)
    for suggestion in shown:
        describe(suggestion, catalogue, areas)
        suggestion["status_label"] = label(SUGGESTION_STATUS_LABELS, suggestion["status"])
        suggestion["subject_label"] = label(SUBJECT_LABELS, suggestion["subject"])
    return render(
        request,
        "awards/suggestions.html",
        {
            "suggestions": shown,
            "page": page,
            "filters": filters,
            "statuses": [(code, _(text)) for code, text in SUGGESTION_STATUS_LABELS.items()],
            "errors": errors or {},
            "values": values or {},
            "done": _("The suggestion was dismissed.") if query.get("done") else "",
        },
        status=status,
    )


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/nominations")
    async def list_nominations(request: Request, offset: int = 0) -> Response:
        filters = {"status": request.query_params.get("status", "").strip()}
        offset = max(0, min(offset, 1_000_000))
        try:
            catalogue = await awards_catalogue(request)
            areas = {area["id"]: area["label"] for area in await area_choices(request)}
            rows, total = await call_page(
                request,
                "awards",
                "/nominations",
                params={
                    **{k: v for k, v in filters.items() if v},
                    "offset": offset,
                    "limit": PAGE_SIZE + 1,
                },
            )
        except ApiError as error:
            if error.status == 422:
                return render(request, "errors/bad_request.html", status=422)
            return await error_page(request, error)
        shown, page = page_of(rows, offset, "/nominations", filters, total=total)
        for nomination in shown:
            describe(nomination, catalogue, areas)
            nomination["status_label"] = label(NOMINATION_STATUS_LABELS, nomination["status"])
            nomination["created"] = aware(nomination["created_at"])
        return render(
            request,
            "awards/nominations.html",
            {
                "nominations": shown,
                "page": page,
                "filters": filters,
                "statuses": [(code, _(text)) for code, text in NOMINATION_STATUS_LABELS.items()],
            },
        )

    @router.get("/nominations/new")
    async def nomination_form(request: Request) -> Response:
        try:
            choices = await _nomination_choices(request)
        except ApiError as error:
            return await error_page(request, error)
        values = {
            "submission": str(uuid.uuid4()),
            "recipient": request.query_params.get("recipient", ""),
            "award_form": "giay_khen",
            "authority": "ward_committee",
            "award_kind": "regular",
            "recipient_kind": "individual",
        }
        return render(
            request,
            "awards/nominate.html",
            {**choices, "values": values, "cited": [], "errors": {}, "general": []},
        )

    @router.post("/nominations/new", dependencies=[Depends(check_csrf)])
    async def nominate(
        request: Request,
        submission: Annotated[str, Form(max_length=64)] = "",
        recipient: Annotated[str, Form(max_length=80)] = "",
        recipient_name: Annotated[str, Form(max_length=200)] = "",
        recipient_kind: Annotated[str, Form(max_length=32)] = "",
        area_id: Annotated[str, Form(max_length=64)] = "",
        award_form: Annotated[str, Form(max_length=64)] = "",
        authority: Annotated[str, Form(max_length=64)] = "",
        award_kind: Annotated[str, Form(max_length=32)] = "",
        campaign: Annotated[str, Form(max_length=64)] = "",
        reason: Annotated[str, Form(max_length=4000)] = "",
        incidents: Annotated[list[str] | None, Form(max_length=50)] = None,
        achievement_text: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        values = {
            "submission": submission or str(uuid.uuid4()),
            "recipient": recipient,
            "recipient_name": recipient_name,
            "recipient_kind": recipient_kind,
            "area_id": area_id,
            "award_form": award_form,
            "authority": authority,
            "award_kind": award_kind,
            "campaign": campaign,
            "reason": reason,
            "achievement_text": achievement_text,
        }
        cited = [incident for incident in incidents or [] if incident]
        try:
            choices = await _nomination_choices(request)
        except ApiError as error:
            return await error_page(request, error)

        def again(errors: dict[str, str], general: list[str], status: int) -> Response:
            context = {"values": values, "cited": cited, "errors": errors, "general": general}
            return render(request, "awards/nominate.html", {**choices, **context}, status=status)

        errors: dict[str, str] = {}
        body: dict[str, Any] = {
            "award_form": award_form,
            "authority": authority,
            "award_kind": award_kind or "regular",
            "reason": reason.strip(),
            "achievements": [{"kind": "incident", "ref_id": ref} for ref in cited],
        }
        if achievement_text.strip():
            body["achievements"].append({"kind": "text", "text": achievement_text.strip()})
        if campaign:
            body["campaign"] = campaign
        kind, _sep, recipient_id = recipient.partition(":")
        if kind in ("team", "person") and recipient_id:
            body["recipient_kind"] = "collective" if kind == "team" else "individual"
            body["recipient_id"] = recipient_id
        elif recipient_name.strip():  # a recipient the registry does not hold
            body["recipient_kind"] = recipient_kind or "individual"
            body["recipient_name"] = recipient_name.strip()
            if not area_id:
                errors["area_id"] = _("This field is required.")
            body["area_id"] = area_id
        else:
            errors["recipient"] = _("Choose a team or a person, or name the recipient.")
        if not reason.strip():
            errors["reason"] = _("This field is required.")
        if errors:
            return again(errors, [], 422)
        try:
            created = await call(
                request,
                "awards",
                "POST",
                "/nominations",
                json=body,
                headers={"Idempotency-Key": values["submission"]},
            )
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = form_errors(error, NOMINATION_FIELDS, ALREADY_AWARDED)
                return again(by_field, general, error.status)
            return await error_page(request, error)
        return redirect(request, f"/nominations/{created['id']}?done=nominated")

    @router.get("/nominations/{nomination_id}")
    async def nomination_page(request: Request, nomination_id: uuid.UUID) -> Response:
        return await _nomination_page(request, nomination_id)

    @router.post("/nominations/{nomination_id}/approve", dependencies=[Depends(check_csrf)])
    async def approve(
        request: Request,
        nomination_id: uuid.UUID,
        decision_number: Annotated[str, Form(max_length=64)] = "",
        decided_on: Annotated[str, Form(max_length=32)] = "",
    ) -> Response:
        values = {"decision_number": decision_number, "decided_on": decided_on}
        errors: dict[str, str] = {}
        if not decision_number.strip():
            errors["decision_number"] = _("This field is required.")
        day = parse_day(decided_on)
        if day is None:
            errors["decided_on"] = _("Enter a valid date.")
        elif day > today():
            errors["decided_on"] = _("The date must not be in the future.")
        if errors:
            return await _nomination_page(request, nomination_id, values, errors, status=422)
        try:
            award = await call(
                request,
                "awards",
                "POST",
                f"/nominations/{nomination_id}/approve",
                json={"decision_number": decision_number.strip(), "decided_on": decided_on},
            )
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = form_errors(error, APPROVE_FIELDS, ALREADY_AWARDED)
                return await _nomination_page(
                    request, nomination_id, values, by_field, general, error.status
                )
            return await error_page(request, error)
        return redirect(request, f"/awards/{award['id']}?done=granted")

    @router.post("/nominations/{nomination_id}/reject", dependencies=[Depends(check_csrf)])
    async def reject(
        request: Request,
        nomination_id: uuid.UUID,
        reject_reason: Annotated[str, Form(max_length=4000)] = "",
    ) -> Response:
        values = {"reject_reason": reject_reason, "decided_on": today().isoformat()}
        if not reject_reason.strip():
            errors = {"reject_reason": _("This field is required.")}
            return await _nomination_page(request, nomination_id, values, errors, status=422)
        try:
            await call(
                request,
                "awards",
                "POST",
                f"/nominations/{nomination_id}/reject",
                json={"reason": reject_reason.strip()},
            )
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = form_errors(error, REJECT_FIELDS, ALREADY_AWARDED)
                return await _nomination_page(
                    request, nomination_id, values, by_field, general, error.status
                )
            return await error_page(request, error)
        return redirect(request, f"/nominations/{nomination_id}?done=rejected")

    @router.get("/suggestions")
    async def list_suggestions(request: Request, offset: int = 0) -> Response:
        return await _suggestions_page(request, max(0, min(offset, 1_000_000)))

    @router.post("/suggestions/{suggestion_id}/accept", dependencies=[Depends(check_csrf)])
    async def accept(request: Request, suggestion_id: uuid.UUID) -> Response:
        try:
            nomination = await call(
                request, "awards", "POST", f"/suggestions/{suggestion_id}/accept", json={}
            )
        except ApiError as error:
            if error.status in (409, 422):
                errors = {f"reason-{suggestion_id}": _(ALREADY_AWARDED)}
                return await _suggestions_page(request, errors=errors, status=error.status)
            return await error_page(request, error)
        return redirect(request, f"/nominations/{nomination['id']}?done=accepted")

    @router.post("/suggestions/{suggestion_id}/dismiss", dependencies=[Depends(check_csrf)])
    async def dismiss(
        request: Request,
        suggestion_id: uuid.UUID,
        reason: Annotated[str, Form(max_length=4000)] = "",
    ) -> Response:
        field = f"reason-{suggestion_id}"
        if not reason.strip():
            errors = {field: _("This field is required.")}
            return await _suggestions_page(request, errors=errors, status=422)
        try:
            await call(
                request,
                "awards",
                "POST",
                f"/suggestions/{suggestion_id}/dismiss",
                json={"reason": reason.strip()},
            )
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = form_errors(error, {"reason": field}, ALREADY_AWARDED)
                errors = by_field or {field: general[0] if general else _(ALREADY_AWARDED)}
                values = {field: reason}
                return await _suggestions_page(request, 0, errors, values, error.status)
            return await error_page(request, error)
        return redirect(request, "/suggestions?done=1")

    return router
