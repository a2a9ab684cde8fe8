"""SQL expressions that behave the same on SQLite, PostgreSQL and CockroachDB."""

from __future__ import annotations

from django.db.models import CharField, Func


class PipesConcat(Func):
    """``a || b || …`` over text that is never NULL.

    Django's ``Concat`` renders as ``CONCAT(…)`` on the CockroachDB backend, and PostgreSQL's CONCAT()
    is only STABLE, so it cannot define a generated column or an expression index there; ``||`` is
    IMMUTABLE on all three databases. Unlike ``Concat`` it does not turn NULL into ``''``: a NULL
    argument makes the whole value NULL.
    """

    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = CharField()
