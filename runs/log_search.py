"""Full-text search over the log lines of every run (``GET /api/logs/search?q=…``).

A query is words and "quoted phrases", all of which a line must contain, with qualifiers that narrow the runs:
``pipeline:owner/name`` (or ``name``, or ``source/owner/name``), ``branch:main``, ``status:failed`` (or
``status:failed,canceled``) and ``since:7d`` (``h``/``d``/``w``, Estafette's ``1h``…``1y``, or a date or time in ISO
8601, UTC unless it says otherwise). The same qualifier twice matches either value; different qualifiers must all
match. ``parse_log_query`` refuses what it cannot read with a ``BadRequest`` saying how to write it.

Each database finds the words through its own index (``LogSearchIndex``; created by ``runs/migrations/0002``), never
by reading every line: SQLite's FTS5 and PostgreSQL's and CockroachDB's inverted index on a ``tsvector``. A word or
phrase is searched as the sequence of the tokens the index splits it into, so ``ERR_CONN_RESET`` finds exactly that
sequence on every database. The user's text never becomes query syntax: it is bound as a parameter, and for FTS5
quoted as one string (a phrase), so ``OR``, ``NEAR``, ``*``, ``-`` or ``column:`` in a query are words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from django.db import connection
from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import RawSQL

from estafette.lib.errors import BadRequest
from estafette.lib.listing import RUN_STATUSES, SINCE, Filters, Within
from pipelines.models import Pipeline
from pipelines.selectors import filter_by_access
from runs.models import LogSearchLine
from runs.registry import run_kinds

MAX_QUERY_CHARS = 500
SQLITE_CANDIDATES = 10_000
# Fewer lines than this contain the terms: sort them after the index found them (TsvectorIndex.newest_first).
RARE_BELOW = 5_000
MAX_TERMS = 10
MAX_QUALIFIER_VALUES = 20
QUALIFIERS = ("pipeline", "branch", "status", "since")
_RELATIVE = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
# What every index finds a token by: a letter or a digit (both tokenizers split at anything else, underscore too).
_SEARCHABLE = re.compile(r"[^\W_]")
_QUALIFIER = re.compile(r"^([A-Za-z]+):(.*)$", re.DOTALL)


@dataclass(frozen=True)
class LogQuery:
    """A parsed search: the words and phrases a line must all contain, and what narrows the runs."""

    terms: tuple[str, ...]
    pipelines: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    statuses: frozenset[str] = field(default_factory=frozenset)
    since: datetime | None = None


def parse_log_query(raw: str, *, now: datetime) -> LogQuery:
    """Read ``q``; raises ``BadRequest`` naming the problem and how to write it."""
    if "\x00" in raw:
        raise BadRequest("q must not contain a NUL character")
    if len(raw) > MAX_QUERY_CHARS:
        raise BadRequest(f"q is at most {MAX_QUERY_CHARS} characters, got {len(raw)}")
    terms: list[str] = []
    qualified: dict[str, list[str]] = {name: [] for name in QUALIFIERS}
    for token, quoted in _tokens(raw):
        match = None if quoted else _QUALIFIER.match(token)
        if match is None:
            terms.append(token)
        else:
            name, value = _qualifier(match, token)
            qualified[name].append(value)
    for term in terms:
        if not _SEARCHABLE.search(term):
            raise BadRequest(f"{term!r} has no letter or digit to search for; search for words or quoted phrases")
    if not terms:
        raise BadRequest('q needs at least one word or "quoted phrase" to search for, besides its qualifiers')
    if len(terms) > MAX_TERMS:
        raise BadRequest(f"q takes at most {MAX_TERMS} words and phrases, got {len(terms)}")
    for name, values in qualified.items():
        if len(values) > MAX_QUALIFIER_VALUES:
            raise BadRequest(f"q takes {name}: at most {MAX_QUALIFIER_VALUES} times")
    return LogQuery(
        terms=tuple(dict.fromkeys(terms)),
        pipelines=tuple(qualified["pipeline"]),
        branches=tuple(qualified["branch"]),
        statuses=_statuses(qualified["status"]),
        since=_since(qualified["since"], now=now),
    )


def _qualifier(match: re.Match[str], token: str) -> tuple[str, str]:
    name, value = match.group(1).lower(), match.group(2)
    if name not in QUALIFIERS:
        raise BadRequest(
            f"unknown qualifier {match.group(1)!r}: q takes {', '.join(f'{q}:' for q in QUALIFIERS)}; "
            f'put text with a colon in quotes ("{token}")'
        )
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        value = value[1:-1]
    if not value.strip():
        raise BadRequest(f"{name}: needs a value, e.g. {_EXAMPLES[name]}")
    return name, value.strip()


_EXAMPLES = {"pipeline": "pipeline:owner/name", "branch": "branch:main", "status": "status:failed", "since": "since:7d"}


def _tokens(raw: str) -> list[tuple[str, bool]]:
    """Split at blanks outside double quotes: ``(text, quoted)`` pairs. ``branch:"a b"`` is one token."""
    tokens: list[tuple[str, bool]] = []
    position, length = 0, len(raw)
    while position < length:
        if raw[position].isspace():
            position += 1
            continue
        start, quoted_whole = position, raw[position] == '"'
        while position < length and not raw[position].isspace():
            if raw[position] == '"':
                closing = raw.find('"', position + 1)
                if closing == -1:
                    raise BadRequest(f'q has an unclosed quote at character {position + 1}; close it with "')
                position = closing + 1
            else:
                position += 1
        token = raw[start:position]
        if quoted_whole and token.endswith('"') and token.count('"') == 2:
            tokens.append((token[1:-1], True))
        elif '"' not in token or (_QUALIFIER.match(token) is not None and not quoted_whole):
            tokens.append((token, False))
        else:
            raise BadRequest(f'q has a quote inside {token!r}; quote whole phrases: "a phrase"')
    return tokens


def _statuses(values: Sequence[str]) -> frozenset[str]:
    statuses: set[str] = set()
    for value in values:
        for status in value.lower().split(","):
            if status.strip() not in RUN_STATUSES:
                raise BadRequest(f"status: takes {', '.join(RUN_STATUSES)}, got {status.strip()!r}")
            statuses.add(status.strip())
    return frozenset(statuses)


def _since(values: Sequence[str], *, now: datetime) -> datetime | None:
    if len(values) > 1:
        raise BadRequest("q takes since: once")
    if not values:
        return None
    value = values[0]
    if value in SINCE and SINCE[value] is not None:
        return now - SINCE[value]
    relative = _RELATIVE.match(value)
    if relative is not None:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"since: takes an age such as 12h, 7d or 2w, or a date such as 2026-01-31, got {value!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- the indexes ------------------------------------------------------------------------------------


class LogSearchIndex:
    """How one database finds the lines containing every term: a condition on ``runs_logline`` its index serves."""

    vendors: ClassVar[tuple[str, ...]]

    def condition(self, terms: Sequence[str]) -> RawSQL:
        raise NotImplementedError

    def newest_first(self, lines: QuerySet[LogSearchLine], terms: Sequence[str]) -> QuerySet[LogSearchLine]:
        return lines.order_by("-id")


class Fts5Index(LogSearchIndex):
    """SQLite: the FTS5 table ``runs_logline_fts`` (rowid = the line's id). Each term is one FTS5 string (a phrase of
    its tokens), its quotes doubled: nothing the user types is read as FTS5 syntax.

    SQLite cannot stop reading the matches once a page is full (it gathers every matching id, then joins and sorts),
    so a word in most lines would cost seconds at a million lines: it looks at the newest ``SQLITE_CANDIDATES``
    matching lines only, which FTS5 reads newest first from its index. A search narrowed by qualifiers may then miss
    older lines; the API documentation says so. PostgreSQL and CockroachDB have no such limit.
    """

    vendors = ("sqlite",)

    def condition(self, terms: Sequence[str]) -> RawSQL:
        match = " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)
        return RawSQL(
            '"runs_logline"."id" IN (SELECT rowid FROM runs_logline_fts WHERE runs_logline_fts MATCH %s '
            "ORDER BY rowid DESC LIMIT %s)",
            [match, SQLITE_CANDIDATES],
            output_field=BooleanField(),
        )


class TsvectorIndex(LogSearchIndex):
    """PostgreSQL and CockroachDB: the generated ``search_vector`` column and its GIN (inverted) index. One ``@@`` per
    term, each a ``phraseto_tsquery`` of the bound text (no tsquery syntax reaches the database)."""

    vendors = ("postgresql", "cockroachdb")

    def condition(self, terms: Sequence[str]) -> RawSQL:
        sql = " AND ".join('"runs_logline"."search_vector" @@ phraseto_tsquery(\'simple\', %s)' for _ in terms)
        # The SQL is fixed text (one placeholder per term); the terms are bound parameters.
        return RawSQL(f"({sql})", list(terms), output_field=BooleanField())  # noqa: S611

    def newest_first(self, lines: QuerySet[LogSearchLine], terms: Sequence[str]) -> QuerySet[LogSearchLine]:
        """PostgreSQL estimates a word missing from its statistics (most rare words) at thousands of rows, and then
        walks the primary key backwards to find a page of them: every line of the table, seconds at 10M lines.
        A bounded count through the GIN index (no order: a bitmap scan) tells rare from common; a rare term's
        lines are sorted after the index found them (``id + 0`` hides the key's order from the planner), a
        common one's are found walking the key backwards, which stops after a page."""
        found = LogSearchLine.objects.filter(self.condition(terms)).order_by()[:RARE_BELOW]
        if found.count() < RARE_BELOW:
            return lines.alias(newest=F("id") + 0).order_by("-newest")
        return lines.order_by("-id")


INDEXES: tuple[LogSearchIndex, ...] = (Fts5Index(), TsvectorIndex())


def search_index(vendor: str | None = None) -> LogSearchIndex:
    vendor = vendor or connection.vendor
    for index in INDEXES:
        if vendor in index.vendors:
            return index
    raise RuntimeError(f"the log search has no index for the {vendor} database")


# -- the search -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogSearchPage:
    lines: list[LogSearchLine]
    pipelines: dict[int, Pipeline]
    has_more: bool


def log_search(query: LogQuery, *, within: Within | None, page: int, size: int) -> LogSearchPage:
    """The lines matching ``query`` that the caller may see (``within``), newest first; one page of them.

    The index narrows to the lines with every term; the qualifiers and the caller's pipelines narrow further in the
    same statement, so a line of a pipeline the caller may not see is never read.
    """
    index = search_index()
    lines = LogSearchLine.objects.filter(index.condition(query.terms))
    lines = filter_by_access(lines, Filters(within=within), pipeline_key="pipeline_id")
    if query.since is not None:
        lines = lines.filter(inserted_at__gte=query.since)
    if query.pipelines:
        lines = lines.filter(pipeline_id__in=Pipeline.objects.filter(_pipelines_named(query.pipelines)).values("pk"))
    if query.branches or query.statuses:
        lines = lines.filter(_runs_matching(query))
    offset = (page - 1) * size
    ordered = index.newest_first(lines, query.terms).select_related("record", "step")
    found = list(ordered[offset : offset + size + 1])
    pipelines = Pipeline.objects.in_bulk({line.pipeline_id for line in found[:size]})
    return LogSearchPage(lines=found[:size], pipelines=pipelines, has_more=len(found) > size)


def _pipelines_named(names: Sequence[str]) -> Q:
    condition = Q(pk__in=[])
    for name in names:
        parts = name.strip("/").split("/")
        if len(parts) == 1:
            condition |= Q(repo_name=parts[0])
        elif len(parts) == 2:
            condition |= Q(repo_owner=parts[0], repo_name=parts[1])
        elif len(parts) == 3:
            condition |= Q(repo_source=parts[0], repo_owner=parts[1], repo_name=parts[2])
        else:
            raise BadRequest(f"pipeline: takes name, owner/name or source/owner/name, got {name!r}")
    return condition


def _runs_matching(query: LogQuery) -> Q:
    """Lines of runs (of any kind) on one of the branches and in one of the statuses asked for."""
    condition = Q(pk__in=[])
    for kind in run_kinds():
        runs: QuerySet[Any] = kind.model.objects.all()
        if query.branches:
            if kind.branch_field is None:
                continue
            runs = runs.filter(**{f"{kind.branch_field}__in": query.branches})
        if query.statuses:
            runs = runs.filter(status__in=query.statuses)
        condition |= Q(run_kind=kind.name, run_id__in=runs.values("pk"))
    return condition
