"""Loading many rows fast: PostgreSQL COPY through psycopg 3, `bulk_create` in batches elsewhere.

Rows are plain tuples in an order the caller declares by attribute name; every other concrete
field of the model is filled with its default (so a field added later with a default keeps
working, and a new required field fails loudly). Table and column names come from `_meta`.
Primary keys are assigned by the caller from `IdBlock`s so child rows can reference parents;
`reset_sequences` moves PostgreSQL's identity sequences past them afterwards.

For very large loads on PostgreSQL, `deferred_indexes` drops the foreign keys and secondary
indexes of the big tables inside the transaction and recreates them from their saved
definitions at the end (one sort per index and one validating join per foreign key instead of
millions of per-row checks). Nothing is lost if the load fails: the DDL is transactional.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from django.core.management.color import no_style
from django.db import connection, models


class IdBlock:
    """Hands out primary keys above the table's current maximum."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        current = model._default_manager.aggregate(m=models.Max("pk"))["m"] or 0
        self.next = current + 1

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


class TableWriter:
    """Buffers rows of one model and writes them with COPY (PostgreSQL) or bulk_create."""

    def __init__(self, model: type[models.Model], attnames: list[str], *, batch_size: int = 2000) -> None:
        fields = {f.attname: f for f in model._meta.concrete_fields}
        unknown = [a for a in attnames if a not in fields]
        if unknown:
            raise ValueError(f"{model._meta.label} has no fields {unknown}")
        extras = [f for a, f in fields.items() if a not in attnames]
        self.model = model
        self.attnames = [*attnames, *(f.attname for f in extras)]
        self.columns = [fields[a].column for a in self.attnames]
        self.tail = tuple(f.get_default() for f in extras)
        self.rows: list[tuple] = []
        self.written = 0
        self.batch_size = batch_size

    def add(self, row: tuple) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        tail = self.tail
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            sql = "COPY {} ({}) FROM STDIN".format(
                quote(self.model._meta.db_table), ", ".join(quote(c) for c in self.columns)
            )
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                write = copy.write_row
                if tail:
                    for row in rows:
                        write(row + tail)
                else:
                    for row in rows:
                        write(row)
        else:
            names = self.attnames
            model = self.model
            objs = [model(**dict(zip(names, row + tail, strict=True))) for row in rows]
            model._default_manager.bulk_create(objs, batch_size=self.batch_size)
        self.written += len(rows)


def reset_sequences(model_list: Iterable[type[models.Model]]) -> None:
    """Move auto-increment sequences past the highest id (PostgreSQL; SQLite tracks it itself)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_list))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


@contextlib.contextmanager
def deferred_indexes(model_list: Iterable[type[models.Model]], *, log=None) -> Iterator[None]:
    """On PostgreSQL, drop FKs and secondary indexes of the tables, recreate them on exit."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = [m._meta.db_table for m in model_list]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint c
            WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])
            ORDER BY 1, 2
            """,
            [tables],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 1
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    if log:
        log(f"  deferred {len(indexes)} indexes and {len(foreign_keys)} foreign keys on {len(tables)} tables")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    if log:
        log("  indexes and foreign keys recreated and validated")
