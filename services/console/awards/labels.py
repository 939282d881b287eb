"""Awards' codes as the officers read them: forms and authorities from awards' own
catalogue (configured, so named there), kinds, statuses, recipients and criteria here."""

from datetime import date
from typing import Any

from fastapi import Request

from services.console.common import _noop
from services.console.i18n import current_locale
from services.console.incidents.lookups import call, label, today

AWARD_KIND_LABELS = {
    "regular": _noop("Regular"),
    "ad_hoc": _noop("Ad hoc"),
    "campaign": _noop("Campaign"),
}
RECIPIENT_KIND_LABELS = {
    "individual": _noop("Individual"),
    "collective": _noop("Collective"),
    "household": _noop("Household"),
}
NOMINATION_STATUS_LABELS = {
    "nominated": _noop("Awaiting decision"),
    "approved": _noop("Approved"),
    "rejected": _noop("Rejected"),
}
AWARD_STATUS_LABELS = {
    "active": _noop("In force"),
    "revoked": _noop("Revoked"),
}
SUGGESTION_STATUS_LABELS = {
    "suggested": _noop("Waiting for an officer"),
    "accepted": _noop("Accepted"),
    "dismissed": _noop("Dismissed"),
}
SUBJECT_LABELS = {
    "person": _noop("Person"),
    "team": _noop("Team"),
    "area": _noop("Area"),
}
CRITERION_LABELS = {
    "incidents_not_up": _noop("Incidents not above the previous year's"),
    "no_serious_incidents": _noop("No serious incidents"),
    "active_security_team": _noop("At least one active security team"),
    "household_pledges": _noop("Share of households that signed the pledge"),
}
FESTIVAL = "festival-19-8-"


async def awards_catalogue(request: Request) -> dict[str, Any]:
    catalogue: dict[str, Any] = await call(request, "awards", "GET", "/catalogue")
    return catalogue


def form_names(catalogue: dict[str, Any]) -> dict[str, str]:
    key = "name_en" if current_locale.get() == "en" else "name_vi"
    return {
        code: str(names.get(key) or names.get("name_vi") or code)
        for code, names in catalogue["award_forms"].items()
    }


def authority_names(catalogue: dict[str, Any]) -> dict[str, str]:
    return {code: str(spec.get("name") or code) for code, spec in catalogue["authorities"].items()}


def campaign_choices(catalogue: dict[str, Any]) -> list[tuple[str, str]]:
    """This year's and last year's 19 August festival, then the configured campaigns."""
    festival = catalogue["campaigns"].get(f"{FESTIVAL}<year>", {}).get("name", "19/8")
    year = today().year
    choices = [(f"{FESTIVAL}{y}", f"{festival} {y}") for y in (year, year - 1)]
    choices += [
        (code, str(spec.get("name") or code))
        for code, spec in catalogue["campaigns"].items()
        if not code.startswith(FESTIVAL)
    ]
    return choices


def campaign_name(catalogue: dict[str, Any], code: str | None) -> str:
    if not code:
        return ""
    if code.startswith(FESTIVAL):
        festival = catalogue["campaigns"].get(f"{FESTIVAL}<year>", {}).get("name", "19/8")
        return f"{festival} {code.removeprefix(FESTIVAL)}"
    return str(catalogue["campaigns"].get(code, {}).get("name") or code)


def describe(record: dict[str, Any], catalogue: dict[str, Any], areas: dict[str, str]) -> None:
    """A nomination's or award's codes as words, added beside them."""
    record["form_label"] = form_names(catalogue).get(record["award_form"], record["award_form"])
    record["authority_label"] = authority_names(catalogue).get(
        record["authority"], record["authority"]
    )
    record["kind_label"] = label(AWARD_KIND_LABELS, record.get("award_kind"))
    record["recipient_kind_label"] = label(RECIPIENT_KIND_LABELS, record["recipient_kind"])
    record["campaign_label"] = campaign_name(catalogue, record.get("campaign"))
    record["area_label"] = areas.get(record.get("area_id") or "", "")


def day_of(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None
