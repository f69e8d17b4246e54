"""Products whose name contains a part, in any case: `name__icontains`, as the API and admin search.

On PostgreSQL the trigram index on `UPPER(name)` answers it. Its one weak spot: a trigram found in
most names (every name of a catalogue saying "product …") has a posting list of most of the
table, and the index reads all of it for every search that contains it: 74 ms for
`duct 0500344` at 1,000,000 products, 5 ms for `0500344`. So of a search of several words only
the rarest, judged on PostgreSQL's own sample of the names (the index's statistics), is looked
up in the index, and the rows it finds get an exact substring check of the whole search
(`STRPOS`). The result is the same rows; only the work differs. A search whose words are all in
more than a tenth of the names matches most names, and stays a plain `LIKE`: the planner then
walks the list's index and fills a page quickly. Other databases scan the names either way.

A part with no word of three characters (`ke`, `é`, `a b`) makes no trigram at all, and one whose
words are all common (`product 7q`) makes only trigrams that find most names. A second index
answers those: `catalogue_name_grams(UPPER(name))`, each name's one- and two-character pieces
(migration 0005). The part's own pieces (the same function of `UPPER(part)`) must all be among
them, which the index answers with its rarest piece's list, and the rows it finds get the exact
check. That is for parts rare in the sample; a part in more than four names in a thousand
(`PIECES_SHARE`) is left to the list's index, which meets a page of them soon.
"""

import bisect
import re
import time
from dataclasses import dataclass
from datetime import datetime

from django.contrib.postgres.fields import ArrayField
from django.db import connections
from django.db.models import Func, QuerySet, TextField, Value
from django.db.models.functions import Collate, StrIndex, Upper

# pg_trgm splits text into words of letters and digits; only those words make trigrams.
WORD = re.compile(r"[^\W_]+")
COMMON_SHARE = 0.1
# Above this share of the names, the list's index meets a page of matches sooner than the pieces'
# index finds, fetches and sorts them all; near this share the two cost the same.
PIECES_SHARE = 0.004
SAMPLE_TTL_SECONDS = 600
INDEX = "product_name_trgm_idx"
TABLE = "catalogue_product"

_samples: dict[str, tuple[float, "_Statistics"]] = {}


class NameGrams(Func):
    """`catalogue_name_grams(text)`: the text's 1- and 2-character pieces (PostgreSQL, migration 0005)."""

    function = "catalogue_name_grams"
    output_field = ArrayField(TextField())


def name_contains_all(queryset: QuerySet, parts: list[str], *, through_index: bool = False) -> QuerySet:
    """The rows of `queryset` whose name contains every one of `parts`, in any case.

    `through_index`: every part with no word of three characters is looked up in the pieces'
    index, however common the sample says it is, so that PostgreSQL can find all the matches
    through an index rather than by reading the names (for a caller that sorts them itself).
    """
    parts = [part for part in parts if part]
    if connections[queryset.db].vendor != "postgresql":
        for part in parts:
            queryset = queryset.filter(name__icontains=part)
        return queryset
    sample = _name_sample(queryset.db)
    indexed, checked, pieces = [], [], []
    for part in parts:
        words = [word for word in WORD.findall(part) if len(word) >= 3]  # shorter ones make no trigram
        if not sample:
            indexed.append(part)
            continue
        rarest = min(words, key=lambda word: (_share(word, sample), -len(word))) if words else None
        if rarest is None or _share(rarest, sample) > COMMON_SHARE:
            # No trigram narrows it down; its pieces may, if the part is rare. A common one is
            # a plain LIKE when there is no other part, so the planner walks the list.
            if _share(part, sample) <= PIECES_SHARE or (through_index and not words):
                pieces.append(part)
            elif words:
                checked.append(part)
            else:
                indexed.append(part)
        elif words == [part]:
            indexed.append(part)
        else:
            # One rare word finds few rows; the others' trigrams would only add posting lists to read.
            indexed.append(rarest)
            checked.append(part)
    if not indexed and not pieces:
        # Only common words: most names match, and a plain LIKE lets the planner judge so.
        indexed, checked = parts, []
    for part in indexed:
        queryset = queryset.filter(name__icontains=part)
    if pieces:
        queryset = queryset.alias(name_grams=Collate(NameGrams(Upper("name")), "C"))  # as the index (0005)
    for part in pieces:
        queryset = queryset.filter(name_grams__contains=NameGrams(Upper(Value(part))))
        if len(part) <= 2:
            # Its LIKE makes no trigram, and tells the planner the part is rare (from the sample):
            # one character is one piece, which the index's statistics only know as "not common".
            queryset = queryset.filter(name__icontains=part)
        else:
            checked.append(part)  # a LIKE could lure the planner to common words' trigrams (`a b`)
    return _each_name_checked(queryset, checked)


def name_contains_all_checked(queryset: QuerySet, parts: list[str]) -> QuerySet:
    """`name_contains_all` as a check of each name that no index answers (`STRPOS`), on PostgreSQL.

    For a walk of a bounded stretch of the list: with a filter an index could answer, the planner
    may prefer to look every match of the whole table up in it, and sort them.
    """
    parts = [part for part in parts if part]
    if connections[queryset.db].vendor != "postgresql":
        return name_contains_all(queryset, parts)
    return _each_name_checked(queryset, parts)


def _each_name_checked(queryset: QuerySet, parts: list[str]) -> QuerySet:
    """The rows whose name contains every one of `parts`, in any case, by `STRPOS` (no index answers it)."""
    for n, part in enumerate(parts):
        position = f"name_contains_{n}"
        queryset = queryset.alias(**{position: StrIndex(Upper("name"), Upper(Value(part)))}).filter(
            **{f"{position}__gt": 0}
        )
    return queryset


def _share(word: str, sample: list[str]) -> float:
    """The share of the sampled names that contain `word`."""
    if not sample:
        return 0.0
    word = word.upper()
    return sum(word in name for name in sample) / len(sample)


@dataclass(frozen=True, slots=True)
class SearchEstimate:
    """PostgreSQL's view of a search, from its sample of the names and the table's statistics."""

    share: float  # of the names that contain every part
    looked_up: float  # of the names `name_contains_all(…, through_index=True)` has its indexes find and check
    names: int
    # `created_at` at each hundredth (or so) of the table in list order: PostgreSQL's histogram.
    created_at_bounds: list[datetime]

    def created_at_ahead(self, after: datetime | None, names: int) -> datetime | None:
        """A `created_at` at least about `names` products after `after` in the list; None near its end."""
        bounds = self.created_at_bounds
        if not bounds or not self.names:
            return None
        start = 0 if after is None else bisect.bisect_right(bounds, after)
        step = -(-names * (len(bounds) - 1) // self.names)  # buckets, rounded up
        end = start + max(step, 1)
        return bounds[end] if end < len(bounds) else None


def search_estimate(alias: str, parts: list[str]) -> SearchEstimate | None:
    """What a search would find and cost; None without statistics (other databases, before ANALYZE)."""
    if connections[alias].vendor != "postgresql":
        return None
    statistics = _statistics(alias)
    sample = statistics.sample
    parts = [part.upper() for part in parts if part]
    if not sample or not parts:
        return None
    return SearchEstimate(
        share=sum(all(part in name for part in parts) for name in sample) / len(sample),
        looked_up=min(_looked_up(part, sample) for part in parts),
        names=statistics.names,
        created_at_bounds=statistics.created_at_bounds,
    )


def _looked_up(part: str, sample: list[str]) -> float:
    """The share of the names the indexes find for this part, as `name_contains_all(…, through_index=True)`."""
    words = [word for word in WORD.findall(part) if len(word) >= 3]
    if words:
        rarest = min(_share(word, sample) for word in words)
        if rarest <= COMMON_SHARE:
            return rarest  # the rarest word's trigrams
        return _share(part, sample) if _share(part, sample) <= PIECES_SHARE else 1.0  # pieces, or every name
    return _share(part, sample)  # the pieces' index


def _name_sample(alias: str) -> list[str]:
    """Upper-cased names PostgreSQL sampled for the index's statistics (empty before its first ANALYZE)."""
    return _statistics(alias).sample


@dataclass(frozen=True, slots=True)
class _Statistics:
    sample: list[str]
    names: int
    created_at_bounds: list[datetime]


def _statistics(alias: str) -> _Statistics:
    now = time.monotonic()
    cached = _samples.get(alias)
    if cached is not None and cached[0] > now:
        return cached[1]
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT histogram_bounds::text::text[], most_common_vals::text::text[] FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = %s",
            [INDEX],
        )
        row = cursor.fetchone()
        cursor.execute(
            "SELECT (SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)), ("
            "  SELECT histogram_bounds::text::timestamptz[] FROM pg_stats"
            "  WHERE schemaname = current_schema() AND tablename = %s AND attname = 'created_at')",
            [TABLE, TABLE],
        )
        names, created_at_bounds = cursor.fetchone()
    sample = [name for values in (row or ()) if values for name in values]
    statistics = _Statistics(sample, max(int(names or 0), len(sample)), sorted(created_at_bounds or []))
    _samples[alias] = (now + SAMPLE_TTL_SECONDS, statistics)
    return statistics


def forget_name_sample() -> None:
    """Read the sample afresh at the next search (tests, after ANALYZE)."""
    _samples.clear()
