"""PostgreSQL-only schema pieces that leave other databases (SQLite in development) as they are.

Search by part of a name is a trigram index on PostgreSQL and a plain scan elsewhere. Django has
no "this index on that database only", so the index says so itself: a `PostgresOnlyGinIndex`
renders to nothing outside PostgreSQL, also when Django re-creates every index of a model as
SQLite rebuilds its table (which it does for most column changes). Migrations add indexes to
large tables with `AddIndexConcurrentlyOnPostgres`: `CREATE INDEX CONCURRENTLY` on PostgreSQL, a
plain `CREATE INDEX` elsewhere (nothing at all for a PostgreSQL-only index).
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import AddIndexConcurrently, CreateExtension
from django.db.migrations.operations import AddIndex, RunSQL


def _is_postgresql(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class PostgresOnlyGinIndex(GinIndex):
    """A GIN index on PostgreSQL; no index at all on another database."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if not _is_postgresql(schema_editor):
            return ""  # the schema editor runs an empty statement as nothing
        return super().create_sql(model, schema_editor, using=using, **kwargs)

    def remove_sql(self, model, schema_editor, **kwargs):
        if not _is_postgresql(schema_editor):
            return ""
        return super().remove_sql(model, schema_editor, **kwargs)


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """`CREATE INDEX CONCURRENTLY` on PostgreSQL (writes go on meanwhile); a plain `CREATE INDEX` elsewhere.

    Elsewhere a PostgresOnlyGinIndex renders to nothing, so only the model state has it. The
    migration holding this must be `atomic = False`. If the build fails half-way, PostgreSQL
    keeps an INVALID index of that name; drop it (`DROP INDEX CONCURRENTLY`) and migrate again.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _is_postgresql(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _is_postgresql(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class CreateExtensionOnPostgres(CreateExtension):
    """`CREATE EXTENSION IF NOT EXISTS` on PostgreSQL (skipped when it is there already); nothing elsewhere.

    Unapplying leaves the extension installed: other objects may use it, and dropping it needs
    the privileges that creating it did.
    """

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass


class RunSQLOnPostgres(RunSQL):
    """SQL for PostgreSQL only; nothing on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _is_postgresql(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _is_postgresql(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)
