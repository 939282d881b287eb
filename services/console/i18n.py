"""Vietnamese first, English on request: gettext catalogues managed with Babel, and the
formats people in Vietnam read (dd/mm/yyyy, 3.437 and 1,5, Vietnam's time).

The ``.po`` files under ``locale/`` are the source; they are compiled in memory when the
app starts (a few milliseconds) instead of committing ``.mo`` files: a binary beside its
source can go stale unnoticed, and there is no build step to forget.
"""

import functools
import gettext
import io
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
LANGUAGE_COOKIE = "antt_console_lang"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

current_locale: ContextVar[str] = ContextVar("console_locale", default=DEFAULT_LOCALE)


def compile_catalogues(directory: Path = LOCALE_DIR) -> dict[str, gettext.NullTranslations]:
    """Every locale's ``.po`` compiled in memory; English falls back to the msgids."""
    catalogues: dict[str, gettext.NullTranslations] = {}
    for locale in LOCALES:
        po_file = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        with po_file.open("rb") as source:
            catalogue = read_po(source, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalogue)
        buffer.seek(0)
        catalogues[locale] = gettext.GNUTranslations(buffer)
    return catalogues


@functools.cache
def catalogues() -> dict[str, gettext.NullTranslations]:
    """The compiled catalogues, once per process (the app asks at start-up, so a broken
    ``.po`` stops the start rather than a page)."""
    return compile_catalogues()


def _catalogue() -> gettext.NullTranslations:
    found = catalogues()
    return found.get(current_locale.get(), found[DEFAULT_LOCALE])


def gettext_(message: str) -> str:
    """``message`` in the request's language (``current_locale``)."""
    return _catalogue().gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return _catalogue().ngettext(singular, plural, n)


_ = gettext_


def pick_locale(query: str | None, cookie: str | None) -> str:
    """The query's ``lang`` wins, then the cookie, then Vietnamese."""
    for candidate in (query, cookie):
        if candidate in LOCALES:
            return str(candidate)
    return DEFAULT_LOCALE


def format_number(value: int | float | Decimal) -> str:
    """3.437 and 1,5 in Vietnamese; 3,437 and 1.5 in English."""
    return str(format_decimal(value, locale=current_locale.get()))


def format_day(value: date | datetime) -> str:
    """dd/mm/yyyy in both languages (the form every Vietnamese document uses); a moment
    is read in Vietnam's time first."""
    if isinstance(value, datetime):
        value = value.astimezone(VIETNAM).date()
    return str(format_date(value, "dd/MM/yyyy", locale=current_locale.get()))


def format_moment(value: datetime) -> str:
    """dd/mm/yyyy HH:mm in Vietnam's time (Asia/Ho_Chi_Minh), whatever zone it came in."""
    return str(
        format_datetime(value, "dd/MM/yyyy HH:mm", tzinfo=VIETNAM, locale=current_locale.get())
    )
