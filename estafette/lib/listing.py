"""Estafette's list conventions: ``page[number]``, ``page[size]``, ``filter[<name>]`` and ``sort``.

``parse_list_query`` turns the query string into a ``ListQuery`` or raises ``BadRequest`` naming the
parameter and what it accepts, so a malformed list request is a 400 with a reason, never a 500.
The envelope is ``{"items": [...], "pagination": {"page", "size", "totalPages", "totalItems"}}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from estafette.lib.errors import BadRequest

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
RUN_STATUSES = ("pending", "running", "succeeded", "failed", "canceling", "canceled")
SINCE = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
    "1m": timedelta(days=31),
    "1y": timedelta(days=366),
    "eternity": None,
}
# "all" switches a filter off, as in Estafette.
ALL = "all"
# Counting every match of a filter over a million builds costs more than the page itself; past this
# many matches the count stops (selectors may substitute an exact total they keep elsewhere).
COUNT_CAP = 10_000

_FILTER_PARAM = re.compile(r"^filter\[([a-z-]+)\]$")
# Every filter Estafette's API reads (api:pkg/api/helpers.go ``GetFilters`` and the stats' ``filter[last]``). Its lists
# read only theirs and ignore the others, and its web UI relies on that (it sends ``filter[search]`` and
# ``filter[labels]`` to lists that take neither): a list here ignores these names too. A name Estafette does not have
# is a typo, refused with a 400 naming what the list supports.
ESTAFETTE_FILTERS = frozenset(
    {
        "status",
        "since",
        "labels",
        "target",
        "search",
        "recent-committer",
        "recent-releaser",
        "group-id",
        "organization-id",
        "pipeline",
        "parent",
        "entity",
        "branch",
        "bot",
        "last",
        "archived",
        "groups",
        "organizations",
    }
)
_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True)
class Within:
    """What a caller may see: pipelines of these organizations, or (when they belong to none) of these groups.
    Set by the view from the caller (``estafette.access.visibility.visible_to``), never from the query string."""

    group_ids: frozenset[int] = frozenset()
    organization_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Filters:
    """The parsed ``filter[...]`` values; None (or empty) means "not filtered"."""

    statuses: frozenset[str] | None = None
    since: datetime | None = None
    labels: tuple[tuple[str, str], ...] = ()
    branch: str | None = None
    search: str | None = None
    target: str | None = None
    bot: str | None = None
    recent_committer: str | None = None
    recent_releaser: str | None = None
    archived: bool | None = None
    groups: tuple[str, ...] = ()  # filter[groups]: names; pipelines of any of these groups
    organizations: tuple[str, ...] = ()  # filter[organizations]: names; pipelines of any of these organizations
    within: Within | None = None  # None: everything (an administrator, or a caller of no group or organization)

    @property
    def is_empty(self) -> bool:
        return self == Filters(archived=self.archived)


@dataclass(frozen=True)
class ListQuery:
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE
    filters: Filters = field(default_factory=Filters)
    order_by: tuple[str, ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def parse_list_query(
    params: Mapping[str, Any],
    *,
    filters: Collection[str],
    sort_fields: Collection[str],
    default_sort: Sequence[str],
    tie_breaker: Sequence[str] = ("-id",),
    now: datetime | None = None,
    within: Within | None = None,
) -> ListQuery:
    """Parse a list request's query parameters.

    ``params`` is a ``QueryDict`` (``getlist`` is used for repeatable filters). ``filters`` names the
    filters this endpoint understands; another of Estafette's filters is ignored, as Estafette does
    (``ESTAFETTE_FILTERS``), and any other ``filter[...]`` is refused, so a typo is a 400 rather than a
    silently unfiltered list. ``sort_fields`` are the snake_case fields ``sort`` may name
    (camelCase is accepted too); ``default_sort`` applies when ``sort`` is absent. The fields of
    ``tie_breaker`` that the sort does not name yet are appended, so pages never overlap; make it a
    unique key an index can serve in that order.
    """
    page = _positive_int(params, "page[number]", default=1)
    size = _positive_int(params, "page[size]", default=DEFAULT_PAGE_SIZE)
    if size > MAX_PAGE_SIZE:
        raise BadRequest(f"page[size] must be at most {MAX_PAGE_SIZE}, got {size}")
    parsed = _parse_filters(params, allowed=filters, now=now or timezone.now(), within=within)
    order_by = _parse_sort(params.get("sort"), sort_fields=sort_fields, default_sort=default_sort)
    named = {term.lstrip("-") for term in order_by}
    order_by = (*order_by, *(term for term in tie_breaker if term.lstrip("-") not in named))
    return ListQuery(page=page, size=size, filters=parsed, order_by=order_by)


def _positive_int(params: Mapping[str, Any], name: str, *, default: int) -> int:
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise BadRequest(f"{name} must be 1 or more, got {value}")
    return value


def _values(params: Mapping[str, Any], name: str, *, split_commas: bool = False) -> list[str]:
    """Every value of a repeatable parameter; ``split_commas`` also splits ``a,b`` (statuses only:
    branch names, labels and search terms may contain commas)."""
    getlist = getattr(params, "getlist", None)
    raw = getlist(name) if getlist else ([params[name]] if name in params else [])
    values: list[str] = []
    for item in raw:
        if "\x00" in str(item):
            # PostgreSQL refuses NUL in any string; no name, label or search term contains one.
            raise BadRequest(f"{name} must not contain a NUL character")
        parts = str(item).split(",") if split_commas else [str(item)]
        values.extend(part.strip() for part in parts if part.strip())
    return values


def _single(params: Mapping[str, Any], name: str) -> str | None:
    # The same value twice is one value: Estafette's web UI sends ``filter[since]=1w&filter[since]=1w``.
    values = list(dict.fromkeys(_values(params, f"filter[{name}]")))
    if not values or values == [ALL]:
        return None
    if len(values) > 1:
        raise BadRequest(f"filter[{name}] takes one value, got {len(values)}")
    return values[0]


def _parse_filters(
    params: Mapping[str, Any], *, allowed: Collection[str], now: datetime, within: Within | None = None
) -> Filters:
    for key in params:
        match = _FILTER_PARAM.match(key)
        known = match is not None and (match.group(1) in allowed or match.group(1) in ESTAFETTE_FILTERS)
        if key.startswith("filter") and not known:
            supported = ", ".join(f"filter[{name}]" for name in sorted(allowed)) or "none"
            raise BadRequest(f"unknown filter {key!r}; this list supports {supported}")
    values: dict[str, Any] = {}
    if "status" in allowed:
        values["statuses"] = _parse_statuses(_values(params, "filter[status]", split_commas=True))
    if "since" in allowed:
        values["since"] = _parse_since(_single(params, "since"), now=now)
    if "labels" in allowed:
        values["labels"] = tuple(_parse_label(raw) for raw in _values(params, "filter[labels]"))
    for name in ("branch", "search", "target", "bot", "recent-committer", "recent-releaser"):
        if name in allowed:
            values[name.replace("-", "_")] = _single(params, name)
    if "archived" in allowed:
        values["archived"] = _parse_archived(_values(params, "filter[archived]"))
    for name in ("groups", "organizations"):
        if name in allowed:
            values[name] = tuple(value for value in _values(params, f"filter[{name}]") if value != ALL)
    return Filters(**values, within=within)


def _parse_archived(raw: list[str]) -> bool | None:
    """Archived pipelines are hidden unless asked for: absent → False, ``all`` → None (both)."""
    if not raw:
        return False
    if raw == [ALL]:
        return None
    if len(raw) > 1 or raw[0] not in ("true", "false"):
        raise BadRequest(f"filter[archived] must be true, false or all, got {','.join(raw)!r}")
    return raw[0] == "true"


def _parse_statuses(raw: list[str]) -> frozenset[str] | None:
    if not raw or ALL in raw:
        return None
    unknown = [value for value in raw if value not in RUN_STATUSES]
    if unknown:
        raise BadRequest(f"filter[status] must be one of {', '.join(RUN_STATUSES)} or all, got {unknown[0]!r}")
    return frozenset(raw)


def _parse_since(raw: str | None, *, now: datetime) -> datetime | None:
    if raw is None:
        return None
    if raw not in SINCE:
        raise BadRequest(f"filter[since] must be one of {', '.join(SINCE)}, got {raw!r}")
    window = SINCE[raw]
    return None if window is None else now - window


def _parse_label(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key.strip():
        raise BadRequest(f"filter[labels] must look like key=value, got {raw!r}")
    return key.strip(), value.strip()


def _parse_sort(raw: str | None, *, sort_fields: Collection[str], default_sort: Sequence[str]) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return tuple(default_sort)
    order: list[str] = []
    for part in raw.split(","):
        term = part.strip()
        descending = term.startswith("-")
        name = _CAMEL_HUMP.sub("_", term.lstrip("-+")).lower()
        if name not in sort_fields:
            raise BadRequest(f"cannot sort by {term!r}; sort by one of {', '.join(sorted(sort_fields))}")
        order.append(f"-{name}" if descending else name)
    return tuple(order)


# -- pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    size: int
    total_items: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_items / self.size) if self.size else 0

    def envelope(self, render: Callable[[list[Any]], list[Any]]) -> dict[str, Any]:
        return {
            "items": render(self.items),
            "pagination": {
                "page": self.page,
                "size": self.size,
                "totalPages": self.total_pages,
                "totalItems": self.total_items,
            },
        }


def capped_count(queryset: QuerySet, *, cap: int = COUNT_CAP) -> int:
    """The number of rows, counting at most ``cap`` of them (``SELECT COUNT(*) FROM (… LIMIT cap)``)."""
    return queryset.order_by().values("pk")[:cap].count()


def page_of(queryset: QuerySet, query: ListQuery, *, total: int | None = None) -> Page:
    """One page of ``queryset`` in ``query.order_by``; ``total`` defaults to an exact count.

    Two steps: the page's primary keys from the filtered, sorted table alone, then those rows with
    their joins. The database never joins more than one page, whatever plan it would pick for the
    sort (a hash join of every pipeline with its latest build before sorting costs ~50 ms at 10k).
    """
    ids = list(
        queryset.order_by(*query.order_by).values_list("pk", flat=True)[query.offset : query.offset + query.size]
    )
    rows = queryset.order_by().in_bulk(ids)
    items = [rows[pk] for pk in ids if pk in rows]
    if total is None:
        total = queryset.order_by().count()
    return Page(items=items, page=query.page, size=query.size, total_items=total)
