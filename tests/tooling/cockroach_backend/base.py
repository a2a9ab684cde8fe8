"""Test-only database backend: django-cockroachdb running against a PostgreSQL server.

No CockroachDB binary can be installed on the development and CI machines, so the suite exercises
django-cockroachdb's SQL generation and schema editor (``unique_rowid()`` ids, no deferrable
constraints, its own introspection) against PostgreSQL. Only the version probe is faked; everything
else is the real backend. Serialization failures are surfaced by running PostgreSQL at SERIALIZABLE.
"""

from django.utils.functional import cached_property
from django_cockroachdb.base import DatabaseWrapper as CockroachDatabaseWrapper


class DatabaseWrapper(CockroachDatabaseWrapper):
    # CockroachDB's INTEGER is INT8 (its default_int_size is 8); PostgreSQL's is 32 bits. Without this, ids of the size
    # unique_rowid() makes (19 digits) would not fit here though they fit on a real CockroachDB.
    data_types = {
        field: ("bigint" if column_type == "integer" else column_type)
        for field, column_type in CockroachDatabaseWrapper.data_types.items()
    }

    @cached_property
    def cockroachdb_server_info(self) -> str:
        return "CockroachDB CCL v25.2.0 (faked by the Estafette test suite on PostgreSQL)"
