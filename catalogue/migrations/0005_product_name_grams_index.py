"""An index of each name's one- and two-character pieces, for ?search= of parts too short for trigrams.

`catalogue_name_grams(text)` returns the 1- and 2-character substrings of its argument; the GIN
index holds those of `UPPER(name)`. Migration 0006 drops both: the search uses the trigram index
alone.
PostgreSQL only, and not atomic: the index is built with `CREATE INDEX CONCURRENTLY`, which cannot
run in a transaction, while products are created and updated (at 1,000,000 products, see
docs/performance.md). ANALYZE takes the statistics of the new expression now rather than at
autovacuum's next pass.

The pieces are compared byte by byte (collation "C"; the search says so too, or the planner
would not use the index): with the database's collation, building and updating the index spends
most of its time comparing them. New rows' pieces wait in GIN's pending list, which every search
reads whole, until it is merged into the index; 256 kB rather than the default 4 MB keeps that
read short (docs/performance.md has the figures), for about the same work merged more often.

The function is one SQL expression, so PostgreSQL inlines it into the index expression and the
query alike. Its second half writes every character twice around a separator (`abc` ->
`a|ab|bc|c`) and splits there: the pairs, plus the first and last character. U+0001 is that
separator, so it is read as U+0002 first; the search applies the same function to what it looks
for, so the two agree (and the exact check of each row keeps the answer right).
"""

import django.db.models.functions.comparison
import django.db.models.functions.text
from django.contrib.postgres.fields import ArrayField
from django.db import migrations
from django.db.models import Func, TextField

import aggregator.postgres

FUNCTION = r"""
CREATE OR REPLACE FUNCTION catalogue_name_grams(text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT string_to_array(translate($1, E'\x01', E'\x02'), NULL)
    || string_to_array(regexp_replace(translate($1, E'\x01', E'\x02'), '.', E'\\&\x01\\&', 'g'), E'\x01')
$$
"""


class NameGrams(Func):
    """`catalogue_name_grams(text)`: the text's 1- and 2-character pieces (the function above)."""

    function = "catalogue_name_grams"
    output_field = ArrayField(TextField())


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("catalogue", "0004_product_name_trigram_index"),
    ]

    operations = [
        aggregator.postgres.RunSQLOnPostgres(FUNCTION, reverse_sql="DROP FUNCTION IF EXISTS catalogue_name_grams(text)"),
        aggregator.postgres.AddIndexConcurrentlyOnPostgres(
            model_name="product",
            index=aggregator.postgres.PostgresOnlyGinIndex(
                django.db.models.functions.comparison.Collate(
                    NameGrams(django.db.models.functions.text.Upper("name")), "C"
                ),
                gin_pending_list_limit=256,
                name="product_name_grams_idx",
            ),
        ),
        aggregator.postgres.RunSQLOnPostgres("ANALYZE catalogue_product", reverse_sql=migrations.RunSQL.noop),
    ]
