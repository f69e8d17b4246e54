"""An array parameter reads back in PostgreSQL as the values it was made of."""

import uuid
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection

from aggregator.array_parameters import array_literal

ARRAYS = [
    ("uuid", [uuid.UUID("0885aab1-4da3-54c2-f626-acc74bab381e"), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]),
    ("bigint", [0, 1, -5, 2**63 - 1]),
    ("timestamptz", [datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                     datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt_timezone(timedelta(hours=-3)))]),
    ("varchar", ["appeared", "changed", "vanished", "NULL", "null"]),
    ("uuid", []),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's array input")
@pytest.mark.parametrize(("kind", "values"), ARRAYS, ids=[f"{kind}-{len(values)}" for kind, values in ARRAYS])
def test_an_array_literal_reads_back_as_its_values(kind, values):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{kind}[]", [array_literal(values)])
        assert cursor.fetchone()[0] == values


@pytest.mark.parametrize("value", [None, True, "two words", "quo'te", "{brace}", "a,b", datetime(2026, 1, 1), 1.5])
def test_an_array_literal_refuses_what_it_cannot_write_plainly(value):
    with pytest.raises(ValueError):
        array_literal([value])
