"""Small pieces every app's admin shows the same way: links, short ids, status words, long text, times.

Links are built from URL names (`admin:<app>_<model>_change`), so an admin links to another app's
pages without importing it.
"""

from datetime import datetime
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.formats import get_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

# Colours of a status word: all readable on the admin's white and dark themes.
TONES = {"ok": "#2e7d32", "warning": "#b26a00", "error": "#c62828", "muted": "#757575"}
NOTHING = "—"


def status_word(word: str, tone: str) -> SafeString:
    """A status as a word in colour ("active" green, "failing" red), not a tick or cross icon."""
    return format_html('<strong class="status-{}" style="color:{}">{}</strong>', tone, TONES[tone], word)


def short_id(value) -> SafeString:
    """The first 8 characters of an id, the whole of it in the tooltip."""
    if value is None:
        return NOTHING
    text = str(value)
    return format_html('<code title="{}">{}</code>', text, text[:8])


def truncated(text: str | None, length: int = 60) -> str:
    """Long text cut to one line of a list, the whole of it in the tooltip (and on the detail page)."""
    if not text:
        return NOTHING
    if len(text) <= length:
        return text
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(length))


def when(value: datetime | None, empty: str = NOTHING) -> str:
    """A time in the admin's format (to the second, in the current time zone); `empty` for none."""
    if value is None:
        return empty
    return date_format(timezone.localtime(value), get_format("DATETIME_FORMAT"))


def when_short(value: datetime | None, empty: str = NOTHING) -> str:
    """`when`, without the date when it is today's (a list's column of times in the next minutes)."""
    if value is None:
        return empty
    local = timezone.localtime(value)
    if local.date() != timezone.localdate():
        return when(value)
    return date_format(local, get_format("TIME_FORMAT"))


def change_link(app_label: str, model_name: str, pk, text) -> str:
    """A link to an object's admin page; the plain text when there is no such object or page."""
    if pk is None:
        return NOTHING
    try:
        url = reverse(f"admin:{app_label}_{model_name}_change", args=[pk])
    except NoReverseMatch:
        return text
    return format_html('<a href="{}">{}</a>', url, text)


def changelist_url(app_label: str, model_name: str, **params) -> str:
    """A model's admin list narrowed by `params` (a search `q`, or field lookups)."""
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def changelist_link(app_label: str, model_name: str, text, **params) -> str:
    """A link to a model's admin list narrowed by `params`: "its events", "its deliveries"."""
    try:
        url = changelist_url(app_label, model_name, **params)
    except NoReverseMatch:
        return ""
    return format_html('<a href="{}">{}</a>', url, text)


class AdminStyle:
    """`Media` of the project's model admins: one stylesheet (one-line rows, short ids, buttons)."""

    css = {"all": ["aggregator/admin.css"]}
