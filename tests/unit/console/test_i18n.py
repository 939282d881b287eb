"""Vietnamese first: every message in the code and templates has its Vietnamese
translation in the catalogue, and numbers, dates and times read as in Vietnam."""

from datetime import UTC, date, datetime
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from services.console.i18n import (
    LOCALE_DIR,
    current_locale,
    format_day,
    format_moment,
    format_number,
    gettext_,
)

CONSOLE = Path(LOCALE_DIR).parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_noop": None}


def _extracted() -> set[str]:
    found = extract_from_dir(
        str(CONSOLE),
        METHODS,
        keywords=KEYWORDS,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    )
    return {message if isinstance(message, str) else message[0] for *_, message, _, _ in found}


def test_every_message_has_its_vietnamese_translation() -> None:
    with (LOCALE_DIR / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale="vi")
    translated = {message.id for message in catalogue if message.id and message.string}
    missing = _extracted() - translated
    assert not missing, f"translate in locale/vi (see babel.cfg): {sorted(missing)}"


def test_numbers_dates_and_times_as_read_in_vietnam() -> None:
    token = current_locale.set("vi")
    try:
        assert format_number(3437) == "3.437"
        assert format_number(1.5) == "1,5"
        assert format_day(date(2026, 8, 19)) == "19/08/2026"
        # 17:30 UTC is half past midnight the next day in Vietnam (UTC+7).
        assert format_moment(datetime(2026, 8, 18, 17, 30, tzinfo=UTC)) == "19/08/2026 00:30"
        assert gettext_("Log out") == "Đăng xuất"
    finally:
        current_locale.reset(token)
    token = current_locale.set("en")
    try:
        assert format_number(3437) == "3,437" and gettext_("Log out") == "Log out"
    finally:
        current_locale.reset(token)
