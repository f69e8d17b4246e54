"""Benchmark the catalogue at a million products: search, the list, the admin lists, the sync's claim.

    .venv/bin/python bench/million.py                  # 1,000,000 products, 5,000,000 offers, 10,000,000 events
    .venv/bin/python bench/million.py --names realistic   # the same with realistic names, in a database of its own
    .venv/bin/python bench/million.py --products 100000 --keep-db
    .venv/bin/python bench/million.py --reuse-db       # measure again on a database kept by --keep-db
    .venv/bin/python bench/million.py --reuse-db --keep-db --cases "admin products"   # only those cases

Steps: (re)create the benchmark's own PostgreSQL database (BENCH_DATABASE_URL, by default
postgres://postgres@127.0.0.1:5432/aggregator_bench_million, `_realistic` appended for realistic
names; the name must start with "aggregator_bench"), migrate it, and build the catalogue in SQL
with generate_series: products named either from a small vocabulary, every name saying
"product" ("Blue steel kettle, product 0123456", `--names synthetic`, the default), or from word
lists of brands, kinds, model codes, sizes and finishes ("Bosch electric kettle KX-4821 1.7 L,
black", `--names realistic`); one name in 100,000 ends in RARE_SUFFIX, and a line of products
added last (NEW_LINE) ends the list. Five offers per product (--offers-per-product) and two price
events per offer (--events-per-offer) over the last year. The secondary indexes are dropped for the load and rebuilt
after it (as fast as PostgreSQL can build them), except the search's trigram index, which is
rebuilt with `CREATE INDEX CONCURRENTLY`, as its migration does on a populated table, while
another connection writes products: the report gives the build's time, the index's size and the
slowest of those writes. Loading needs a superuser (it skips foreign-key checks with
`session_replication_role`, the rows being consistent by construction).

Then, in this process through Django's test client (routing, views, queries, rendering; no HTTP
server), with DEBUG off: each case RUNS times after a warm-up, median and slowest wall time, this
process's CPU per request, and `EXPLAIN (ANALYZE, BUFFERS)` of every query the case ran (sessions
and users aside) with their total execution time. For
comparison, in SQL alone, the same work without the mechanisms that avoid it: the search and
the events' kind filter without their indexes (dropped in a transaction rolled back), the admin's
offers of a name's products joined rather than looked up by id, a full
COUNT(*) of each table and the OFFSET of the product list's page 5,000. Last, the sync's claim of a batch
(`products_claim_for_tick`, rolled back), at the start of a cycle and half-way through it (half
the products claimed and committed just before, not yet vacuumed). The report (Markdown) is
printed and written to bench/results/; the database is dropped unless --keep-db.
"""

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/aggregator_bench_million"
TABLES = ["catalogue_product", "offers_sync_offer", "price_history_priceevent"]
TRIGRAM_INDEX = "product_name_trgm_idx"
KIND_INDEX = "priceevent_kind_time_idx"
EVENT_TRANSACTIONS = 2000
# Built concurrently, as their migrations do, with what the report calls them.
CONCURRENT_INDEXES = {TRIGRAM_INDEX: "trigram index"}

COLOURS = ["Red", "Blue", "Green", "Black", "White", "Silver", "Yellow", "Orange", "Purple", "Grey"]
MATERIALS = ["steel", "glass", "oak", "cotton", "ceramic", "plastic", "copper", "bamboo", "leather", "wool"]
# 40 things, a few of them not in ASCII; each is in 2.5 % of the synthetic names.
THINGS = (
    "kettle mug lamp chair table teapot blender toaster skillet wok grater ladle whisk colander"
    " carafe tumbler bowl plate platter jug vase candle clock mirror shelf stool bench rug"
    " cushion blanket towel basket bin hook rack crème-brûlée-torch чайник 急須 café-press tray"
).split()
# Realistic names: "Bosch electric kettle KX-4821 1.7 L, black". A model comes in VARIANTS sizes
# and colours (consecutive products); its brand and kind are spread through the catalogue, every
# brand with every kind. Model codes have no Q or Z, so that `qz` is only where RARE_SUFFIX is.
BRANDS = (
    "Bosch Philips Tefal Braun Siemens Miele Smeg Kenwood DeLonghi Krups Moulinex Rowenta Dyson Samsung"
    " Sony Panasonic Sharp Toshiba Hitachi Makita DeWalt Ryobi Stanley Fiskars Zwilling WMF Logitech"
    " Lenovo Asus Acer Canon Nikon Garmin JBL Bose Sennheiser Anker Xiaomi Nokia Brother Epson Kärcher"
    " Vileda Leifheit Severin Gorenje Electrolux AEG Beko Grundig Melitta Nespresso Hama Tristar Gardena"
    " Einhell Metabo Festool Victorinox Sage"
).split()
KINDS = [
    "electric kettle", "tea kettle", "toaster", "coffee machine", "espresso machine", "hand blender",
    "stand mixer", "food processor", "microwave oven", "vacuum cleaner", "robot vacuum", "steam iron",
    "hair dryer", "electric toothbrush", "shaver", "air fryer", "rice cooker", "slow cooker", "frying pan",
    "saucepan", "chef's knife", "cutting board", "drill driver", "impact driver", "circular saw", "jigsaw",
    "angle grinder", "lawn mower", "hedge trimmer", "pressure washer", "headphones", "earbuds",
    "bluetooth speaker", "soundbar", "television", "monitor", "laptop", "tablet", "smartphone", "smartwatch",
    "keyboard", "wireless mouse", "webcam", "printer", "camera", "camera lens", "wi-fi router", "power bank",
    "charger", "usb-c cable", "memory card", "external ssd", "desk lamp", "ceiling light", "led bulb",
    "fan heater", "dehumidifier", "air purifier", "tower fan", "fridge freezer", "dishwasher",
    "washing machine", "tumble dryer", "built-in oven", "induction hob", "cooker hood", "blender", "juicer",
    "waffle maker", "sandwich toaster", "contact grill", "kitchen scales", "thermometer", "spray mop",
    "ironing board", "storage box", "water filter jug", "garden hose", "pocket knife", "multitool",
]  # fmt: skip
SIZES = ["1.7 L", "500 ml", "20 cm", "28 cm", "64 GB", "256 GB", "27 in", "55 in", "1200 W", "2000 W", "XL", "S"]
FINISHES = ["black", "white", "silver", "stainless steel", "graphite", "red", "blue", "cream", "anthracite"]
VARIANTS = 4
MODEL_LETTERS = "ABCDEFGHJKLMNPRSTUVWXY"
# Added to one name in 100,000: a pair no other name has, too short for a trigram.
RARE_SUFFIX = " Øx qz7"
# A line of products added together, after everything else, not yet synced (no offers or events):
# the matches of a search for it are all at the list's end.
NEW_LINE = "Zebra Quux lamp"
NEW_LINE_PRODUCTS = 6_000


def log(message: str) -> None:
    print(f"million: {message}", flush=True)


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def recreate_database(url: str) -> None:
    name = database_name(url)
    if not name.startswith("aggregator_bench"):
        sys.exit(f"million: refusing to drop {name!r}; the benchmark's database name must start with aggregator_bench")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    if not database_name(url).startswith("aggregator_bench"):
        sys.exit(f"million: refusing to drop {database_name(url)!r}; not a benchmark's database")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database_name(url))))


def django_env(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        "CURRENCY": os.environ.get("CURRENCY") or "EUR",
        "ALLOWED_HOSTS": "testserver",
        "THROTTLE_ANON_READ_RATE": "off",
        "THROTTLE_WRITE_RATE": "off",
        "OFFERS_SERVICE_URL": "",
        "DJANGO_SETTINGS_MODULE": "aggregator.settings",
    }


def text_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


def synthetic_name_sql() -> str:
    """Product n's synthetic name, "Blue steel kettle, product 0123456": every name says "product"."""
    return (
        f"({text_array(COLOURS)})[1 + n % 10] || ' ' || ({text_array(MATERIALS)})[1 + (n / 10) % 10]"
        f" || ' ' || replace(({text_array(THINGS)})[1 + (n / 100) % 40], '-', ' ')"
        " || ', product ' || lpad(n::text, 7, '0')"
    )


def realistic_name_sql() -> str:
    """Product n's realistic name, "Bosch electric kettle KX-4821 1.7 L, black", from the word lists.

    Model m = n / VARIANTS: its brand and kind are m's remainders, mixed so that every pair occurs
    and each kind is spread through the list; its code two letters and four digits, one per model.
    """
    letters, m, brands, kinds = len(MODEL_LETTERS), f"(n / {VARIANTS})", len(BRANDS), len(KINDS)
    code = (
        f"substr('{MODEL_LETTERS}', 1 + {m} * 7 % {letters}, 1)"
        f" || substr('{MODEL_LETTERS}', 1 + ({m} / {letters}) % {letters}, 1)"
        f" || '-' || lpad((({m} / {letters * letters}) * 7919 % 10000)::text, 4, '0')"
    )
    return (
        f"({text_array(BRANDS)})[1 + {m} % {brands}]"
        f" || ' ' || ({text_array(KINDS)})[1 + ({m} / {brands} + {m} * 7) % {kinds}]"
        f" || ' ' || {code} || ' ' || ({text_array(SIZES)})[1 + ({m} + n % {VARIANTS}) % {len(SIZES)}]"
        f" || ', ' || ({text_array(FINISHES)})[1 + n % {len(FINISHES)}]"
    )


NAMES = {"synthetic": synthetic_name_sql, "realistic": realistic_name_sql}


def product_insert_sql(conn, first: int, last: int, names: str = "synthetic") -> str:
    """The INSERT of products `first` to `last` (catalogue columns only; the sync state is its own table)."""
    columns = {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'catalogue_product'"
        )
    }
    values = {
        "id": "gen_random_uuid()",
        "name": f"{NAMES[names]()} || CASE WHEN n % 100000 = 54321 THEN '{RARE_SUFFIX}' ELSE '' END",
        "description": "'Description of product ' || n || ', long enough to look like a real one.'",
        # One a second, oldest first: the list's (created_at, id) order is the insertion order.
        "created_at": "now() - interval '400 days' + n * interval '1 second'",
        "updated_at": "now() - interval '400 days' + n * interval '1 second'",
    }
    unknown = columns - values.keys()
    if unknown:
        sys.exit(f"million: catalogue_product has columns this benchmark does not fill: {sorted(unknown)}")
    filled = [c for c in values if c in columns]
    return (
        f"INSERT INTO catalogue_product ({', '.join(filled)}) "
        f"SELECT {', '.join(values[c] for c in filled)} FROM generate_series({int(first)}, {int(last)}) AS n"
    )


@contextmanager
def timed(timings: dict, key: str, what: str):
    """Time the block into `timings[key]`, and log it as `what`."""
    started = time.monotonic()
    yield
    timings[key] = time.monotonic() - started
    log(f"{what} in {timings[key]:.0f} s")


def build(url: str, *, names: str, products: int, offers_per_product: int, events_per_offer: int) -> dict:
    """Fill the migrated database; return the build's timings."""
    timings = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [TABLES],
        ).fetchall()
        # Statistics targets set on index columns (the trigram index's, by its migration) go with the index.
        targets = conn.execute(
            "SELECT c.relname, a.attnum, a.attstattarget FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relname = ANY(%s) AND a.attstattarget > 0",
            [[name for name, _ in indexes]],
        ).fetchall()
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))

        conn.execute("SET session_replication_role = replica")  # no foreign-key checks while loading
        with timed(timings, "products inserted", f"{products:,} products"):
            conn.execute(product_insert_sql(conn, 1, products, names))

        with timed(timings, "sync states inserted", "sync states"):
            # Every product's sync state: registered long ago, mirrored an hour ago, never claimed.
            conn.execute(
                "INSERT INTO offers_sync_productsyncstate (product_id, registered_at, registration_attempts, "
                "next_registration_at, sync_claimed_for, sync_claimed_by, offers_synced_at, last_sync_error, "
                "last_sync_error_at) SELECT id, now() - interval '400 days', 1, NULL, '1970-01-01T00:00:00Z', '', "
                "now() - interval '1 hour', '', NULL FROM catalogue_product"
            )

        with timed(timings, "offers inserted", "offers"):
            conn.execute(
                "INSERT INTO offers_sync_offer (id, product_id, price, items_in_stock, created_at, updated_at) "
                "SELECT gen_random_uuid(), p.id, 500 + (random() * 99500)::bigint, (random() * 40)::bigint, "
                "p.created_at, now() - random() * interval '30 days' "
                f"FROM catalogue_product p CROSS JOIN generate_series(1, {int(offers_per_product)})"
            )

        with timed(timings, "events inserted", "events"):
            # In time order over the last year, as the sync appends them: each offer appears, then changes.
            # The changes feed's key, the writing transaction's id, is spread over EVENT_TRANSACTIONS
            # values in the same order (below the cluster's real ids, so the feed serves them all).
            offers = products * offers_per_product
            for k in range(events_per_offer):
                conn.execute(
                    "INSERT INTO price_history_priceevent "
                    "(offer_id, product_id, kind, price, items_in_stock, observed_at, xact_id) "
                    "SELECT o.id, o.product_id, %s, o.price + %s, o.items_in_stock, "
                    "now() - interval '365 days' + (%s + n) * (interval '365 days' / %s), 1 + (%s + n) * %s / %s "
                    "FROM (SELECT o.*, row_number() OVER () AS n FROM offers_sync_offer o) o",
                    [
                        "appeared" if k == 0 else "changed",
                        k,
                        k * offers,
                        offers * events_per_offer,
                        k * offers,
                        EVENT_TRANSACTIONS,
                        offers * events_per_offer + 1,
                    ],
                )
        add_new_line(conn)
        conn.execute("SET session_replication_role = DEFAULT")

        with timed(timings, "other indexes built", "indexes"):
            concurrent = {}
            for name, definition in indexes:
                if name in CONCURRENT_INDEXES:
                    concurrent[name] = definition
                else:
                    conn.execute(definition)

        restore_targets = [
            sql.SQL("ALTER INDEX {} ALTER COLUMN {} SET STATISTICS {}").format(
                sql.Identifier(name), sql.Literal(attnum), sql.Literal(target)
            )
            for name, attnum, target in targets
        ]
        for statement in restore_targets:
            if not any(name in statement.as_string(conn) for name in concurrent):
                conn.execute(statement)

        with timed(timings, "vacuum analyze", "vacuum analyze"):
            conn.execute("VACUUM ANALYZE catalogue_product")
            conn.execute("VACUUM ANALYZE offers_sync_productsyncstate")
            conn.execute("VACUUM ANALYZE offers_sync_offer")
            conn.execute("VACUUM ANALYZE price_history_priceevent")

        for name, definition in concurrent.items():
            concurrently = definition.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1)
            label = CONCURRENT_INDEXES[name]
            timings.update(build_concurrently(url, conn, concurrently, product_insert_sql(conn, 0, 0), label))
            size = conn.execute("SELECT pg_relation_size(%s::regclass)", [name]).fetchone()[0]
            timings[f"{label} size (MB)"] = size / 2**20
            for statement in restore_targets:
                if name in statement.as_string(conn):
                    conn.execute(statement)
        if concurrent:
            started = time.monotonic()
            conn.execute("ANALYZE catalogue_product")  # statistics of the indexes' expressions, as the migrations
            timings["analyze after the search indexes"] = time.monotonic() - started
    return timings


def add_new_line(conn) -> bool:
    """The NEW_LINE products, created after every other, unless they are there; True if added."""
    if conn.execute("SELECT 1 FROM catalogue_product WHERE name LIKE %s LIMIT 1", [NEW_LINE + " %"]).fetchone():
        return False
    conn.execute(
        "INSERT INTO catalogue_product (id, name, created_at, updated_at) "
        "SELECT gen_random_uuid(), %s || ' ' || n, now() + n * interval '1 ms', now() FROM generate_series(1, %s) n",
        [NEW_LINE, NEW_LINE_PRODUCTS],
    )
    return True


def build_concurrently(url: str, conn, definition: str, insert_product: str, label: str) -> dict:
    """Build an index as its migration does while another connection writes products.

    Each write is a transaction that updates the newest product and creates one, as the API does.
    """
    stop = threading.Event()
    waits: list[float] = []

    def write_products():
        with psycopg.connect(url, autocommit=True) as writer:
            while not stop.is_set():
                started = time.monotonic()
                with writer.transaction():
                    writer.execute(
                        "UPDATE catalogue_product SET updated_at = now() "
                        "WHERE id = (SELECT id FROM catalogue_product ORDER BY created_at DESC, id DESC LIMIT 1)"
                    )
                    writer.execute(insert_product)
                waits.append(time.monotonic() - started)
                stop.wait(0.05)

    writer = threading.Thread(target=write_products, daemon=True)
    writer.start()
    started = time.monotonic()
    conn.execute(definition)
    elapsed = time.monotonic() - started
    stop.set()
    writer.join()
    log(f"{label} concurrently in {elapsed:.0f} s; {len(waits)} writes meanwhile, slowest {max(waits) * 1000:.0f} ms")
    return {
        f"{label} built concurrently": elapsed,
        f"writes during the {label} build": len(waits),
        f"slowest write during the {label} build (ms)": max(waits) * 1000,
        f"median write during the {label} build (ms)": statistics.median(waits) * 1000,
    }


def migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=django_env(url), check=True
    )


@dataclass
class Case:
    title: str
    path: str
    admin: bool = False
    status: int = 200


def cases(sample: dict) -> list[Case]:
    """The cases for the database's names: `sample` has a middle product's `one` (its model code,
    or `duct 0500000` of the synthetic names) and a word in many names, `common` (a kind, or `kettle`)."""
    one, common, q = sample["one"], sample["common"], quote
    if sample["names"] == "realistic":
        searches = [
            Case(f"API search, a model code (`{one}`)", f"/products?search={q(one)}"),
            Case(f"API search, a brand (`{sample['brand']}`)", f"/products?search={q(sample['brand'])}"),
            Case(f"API search, a kind (`{common}`)", f"/products?search={q(common)}"),
            Case(f"API search, brand + kind (`{sample['brand_kind']}`)", f"/products?search={q(sample['brand_kind'])}"),
            Case("API search, a whole name", f"/products?search={q(sample['whole_name'])}"),
            Case("API search, no match (`xylophone`)", "/products?search=xylophone"),
        ]
    else:
        n = sample["middle_number"]
        searches = [
            Case(f"API search, every word in most names (`{one}`)", f"/products?search={q(one)}"),
            Case(
                f"API search, every word in most names (`Product {n + 1:07d}`)",
                f"/products?search=Product%20{n + 1:07d}",
            ),
            Case("API search, a whole name", f"/products?search={q(sample['whole_name'])}"),
            Case("API search, no match (`zzzz`)", "/products?search=zzzz"),
            Case("API search, 0.25 % match (`steel kettle`)", "/products?search=steel%20kettle"),
            Case(f"API search, 2.5 % match, other case (`{common.upper()}`)", f"/products?search={q(common.upper())}"),
            Case("API search, 2.5 % match, not ASCII (`чайник`)", f"/products?search={q('чайник')}"),
            Case("API search, every product matches (`product`)", "/products?search=product"),
        ]
    return [
        Case("API list, first page (100)", "/products"),
        Case("API list, a page from the middle", sample["middle_list_page"]),
        *searches,
        Case(f"API search, next page of `{common}`", sample["common_next_page"]),
        Case("API search, 1 character (`k`)", "/products?search=k"),
        Case("API search, too short for a trigram, 1 name in 100,000 (`qz`)", "/products?search=qz"),
        Case(f"API search, a line of {NEW_LINE_PRODUCTS:,} products added last (`zebra`)", "/products?search=zebra"),
        Case("API search, 2 words of the line added last (`quux lamp`)", "/products?search=quux%20lamp"),
        Case("Admin products, page 1", "/admin/catalogue/product/", admin=True),
        Case("Admin products, page 2", "/admin/catalogue/product/?p=2", admin=True),
        Case("Admin products, page 100 (the last offered)", "/admin/catalogue/product/?p=100", admin=True),
        Case("Admin products, oldest first, page 50", "/admin/catalogue/product/?o=6&p=50", admin=True),
        Case(f"Admin products, search one (`{one}`)", f"/admin/catalogue/product/?q={q(one)}", admin=True),
        Case("Admin products, search no match", "/admin/catalogue/product/?q=xylophone", admin=True),
        Case(f"Admin products, search `{common}`", f"/admin/catalogue/product/?q={q(common)}", admin=True),
        Case(
            f"Admin products, search `{common}`, page 10 (the last offered)",
            f"/admin/catalogue/product/?q={q(common)}&p=10",
            admin=True,
        ),
        Case("Admin products, search `qz`", "/admin/catalogue/product/?q=qz", admin=True),
        Case("Admin products, search the line added last (`zebra`)", "/admin/catalogue/product/?q=zebra", admin=True),
        Case(
            "Admin products, not registered filter",
            "/admin/catalogue/product/?sync_state__registered_at__isempty=1",
            admin=True,
        ),
        Case(
            "Admin products, registered filter",
            "/admin/catalogue/product/?sync_state__registered_at__isempty=0",
            admin=True,
        ),
        Case("Admin offers, page 1", "/admin/offers_sync/offer/", admin=True),
        Case("Admin offers, page 100", "/admin/offers_sync/offer/?p=100", admin=True),
        Case("Admin offers, search an offer id", f"/admin/offers_sync/offer/?q={sample['offer_id']}", admin=True),
        Case("Admin offers, search a product id", f"/admin/offers_sync/offer/?q={sample['product_id']}", admin=True),
        Case(f"Admin offers, search a product name (`{one}`)", f"/admin/offers_sync/offer/?q={q(one)}", admin=True),
        Case(f"Admin offers, search `{common}`", f"/admin/offers_sync/offer/?q={q(common)}", admin=True),
        Case(
            f"Admin offers, search `{common}`, page 10 (the last offered)",
            f"/admin/offers_sync/offer/?q={q(common)}&p=10",
            admin=True,
        ),
        Case(
            "Admin offers, search the line added last (`zebra`, no offers yet)",
            "/admin/offers_sync/offer/?q=zebra",
            admin=True,
        ),  # fmt: skip
        Case("Admin price events, page 1", "/admin/price_history/priceevent/", admin=True),
        Case("Admin price events, page 100", "/admin/price_history/priceevent/?p=100", admin=True),
        Case("Admin price events, kind = changed", "/admin/price_history/priceevent/?kind__exact=changed", admin=True),
        # Every "appeared" event is older than every "changed" one, and none is "vanished": walked
        # newest first without the kind's index, these read all the changed events, or all events.
        Case(
            "Admin price events, kind = appeared (all older)",
            "/admin/price_history/priceevent/?kind__exact=appeared",
            admin=True,
        ),  # fmt: skip
        Case(
            "Admin price events, kind = vanished (none)",
            "/admin/price_history/priceevent/?kind__exact=vanished",
            admin=True,
        ),  # fmt: skip
        Case("Admin price events, past 7 days", sample["events_past_week"], admin=True),
        Case(
            "Admin price events, search an offer id",
            f"/admin/price_history/priceevent/?q={sample['offer_id']}",
            admin=True,
        ),
        Case(
            "Admin price events, search a vanished offer's id",
            f"/admin/price_history/priceevent/?q={sample['vanished_offer_id']}",
            admin=True,
        ),
        Case(
            f"Admin price events, search a product name (`{one}`)",
            f"/admin/price_history/priceevent/?q={q(one)}",
            admin=True,
        ),  # fmt: skip
        Case(
            "Admin price events, search the line added last (`zebra`, none yet)",
            "/admin/price_history/priceevent/?q=zebra",
            admin=True,
        ),  # fmt: skip
        Case(
            "Admin products, page 101 (refused: not offered)", "/admin/catalogue/product/?p=101", admin=True, status=302
        ),
    ]


def measure(url: str, runs: int, only: list[str]) -> tuple[list[dict], list[tuple[str, str]], dict]:
    os.environ.update(django_env(url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import uuid

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    from catalogue.models import Product
    from offers_sync.models import Offer

    # The admin's pages name static files; without collectstatic, by their plain names.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}).enable()

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM catalogue_product")  # exact, once, for the report
        sizes = {"products": cursor.fetchone()[0]}
        for table, key in [("offers_sync_offer", "offers"), ("price_history_priceevent", "price events")]:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
            sizes[key] = cursor.fetchone()[0]
    middle = sizes["products"] // 2
    api, admin = Client(), Client()
    user = get_user_model().objects.filter(username="bench-admin").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench-admin", password=uuid.uuid4().hex)
    admin.force_login(user)

    def next_of(path: str) -> str:
        response = api.get(path)
        link = response.headers["Link"]
        return re.fullmatch(r'<http://testserver([^>]+)>; rel="next"', link).group(1)

    # Product n is the n-th in the list's order (created one second after the one before).
    in_order = Product.objects.order_by("created_at", "id")
    middle_product = in_order.values("id", "name")[middle - 1]
    offer = Offer.objects.filter(product_id=middle_product["id"]).values("id", "product_id")[0]
    week = re.search(
        r'<a href="(\?observed_at__gte=[^"]+)">Past 7 days',
        admin.get("/admin/price_history/priceevent/").content.decode(),
    ).group(1)
    code = re.search(r"\b[A-Z]{2}-\d{4}\b", middle_product["name"])
    names = "realistic" if code else "synthetic"
    sizes["names"] = names
    sample = {
        "names": names,
        "middle_number": middle,
        "one": code.group(0) if code else f"duct {middle:07d}",
        "common": "kettle",
        "brand": middle_product["name"].split()[0],
        "brand_kind": middle_product["name"][: code.start()].strip() if code else "",
        "whole_name": in_order.values_list("name", flat=True)[middle - 2],
        "middle_list_page": next_of(f"/products?limit=100&cursor={_cursor_at(in_order, middle)}"),
        "common_next_page": next_of("/products?search=kettle"),
        "offer_id": offer["id"],
        "product_id": offer["product_id"],
        "vanished_offer_id": uuid.uuid4(),  # never mirrored: as for an offer since deleted
        "events_past_week": "/admin/price_history/priceevent/" + week.replace("&amp;", "&"),
    }

    rows, explains = [], []
    for case in cases(sample):
        if only and not any(word.lower() in case.title.lower() for word in only):
            continue
        row, case_explains = measure_case(
            admin if case.admin else api, case, runs, lambda response, case=case: _summary(case, response)
        )
        rows.append(row)
        explains += case_explains
        log(f"{case.title}: {rows[-1]['median_ms']:.1f} ms median, {rows[-1]['max_ms']:.1f} max, {rows[-1]['summary']}")
    return rows, explains, sizes


def measure_case(client, case: Case, runs: int, summarise) -> tuple[dict, list[tuple[str, str]]]:
    """One case: two warm-up requests, `runs` timed ones (wall and this process's CPU), then
    `EXPLAIN (ANALYZE, BUFFERS)` of each query of one more (the admin's session and user lookups left out)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        client.get(case.path)
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(case.path)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    assert response.status_code == case.status, (case.path, response.status_code, response.content[:300])
    with CaptureQueriesContext(connection) as queries:
        client.get(case.path)
    statements = [q["sql"] for q in queries.captured_queries if not re.search(r"django_session|auth_user", q["sql"])]
    database_ms, explains = 0.0, []
    for statement in statements:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        database_ms += float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))
        explains.append((case.title, f"{statement}\n\n{plan}"))
    row = {
        "case": case.title,
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "app_cpu_ms": statistics.median(cpu),
        "database_ms": database_ms,
        "queries": len(statements),
        "summary": summarise(response),
    }
    return row, explains


def _cursor_at(in_order, number: int) -> str:
    """The list's cursor just before product `number` of `in_order`."""
    import base64
    import json

    row = in_order.values("created_at", "id")[number - 1]
    raw = json.dumps([row["created_at"].isoformat(), str(row["id"])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _summary(case: Case, response) -> str:

    if case.status != 200:
        return f"answered {response.status_code}"
    if not case.admin:
        found = len(response.json())
        return f"{found} product{'' if found == 1 else 's'}" + (", Link next" if "Link" in response.headers else "")
    html = response.content.decode()
    table = re.search(r'<table id="result_list">.*?</table>', html, re.S)
    shown = len(re.findall(r"<tr>\s*<t[dh]", table.group(0))) - 1 if table else 0  # less the header
    count = re.search(r'<p class="paginator">.*?((?:about |more than )?[\d,]+ [a-z ]+?)\s*\n', html, re.S)
    return f"{shown} row{'' if shown == 1 else 's'} shown, '{count.group(1).strip() if count else '?'}'"


def comparisons(url: str) -> tuple[list[dict], list[tuple[str, str]]]:
    """What the replaced behaviour ran: the search's scan, the full counts, a deep OFFSET."""
    statements = [
        (
            "Search `zzzz` without the trigram index (the scan the index replaced)",
            "SELECT id, name FROM catalogue_product WHERE UPPER(name::text) LIKE UPPER('%zzzz%') "
            "ORDER BY created_at, id LIMIT 101",
            TRIGRAM_INDEX,
        ),
        (
            "Admin offers searched for the line added last, joined to the products (no offers)",
            "SELECT o.id FROM offers_sync_offer o WHERE o.product_id IN (SELECT id FROM catalogue_product "
            "WHERE UPPER(name::text) LIKE UPPER('%zebra%')) ORDER BY o.product_id, o.price, o.id LIMIT 51",
            None,
        ),
        # The admin's events filtered by a kind the newest events lack: its page and its count.
        (
            "Admin price events `kind = appeared`, the page without the kind index",
            "SELECT id, offer_id, kind, price FROM price_history_priceevent WHERE kind = 'appeared' "
            "ORDER BY observed_at DESC, id DESC LIMIT 50",
            KIND_INDEX,
        ),
        (
            "Admin price events `kind = vanished` (none), the count without the kind index",
            "SELECT COUNT(*) FROM (SELECT id FROM price_history_priceevent WHERE kind = 'vanished' LIMIT 1001) matches",
            KIND_INDEX,
        ),
        *[(f"Full COUNT(*) of {table}", f"SELECT COUNT(*) FROM {table}", None) for table in TABLES],
        (
            "Admin product list page 5,000 with OFFSET (Django's paginator)",
            "SELECT id, name FROM catalogue_product ORDER BY created_at DESC, id DESC LIMIT 100 OFFSET 499900",
            None,
        ),
    ]
    rows, explains = [], []
    with psycopg.connect(url) as conn:
        for title, statement, without_index in statements:
            if without_index:
                conn.execute(f"DROP INDEX {without_index}")  # rolled back below
            conn.execute(statement)  # warm
            times = []
            for _ in range(3):
                started = time.perf_counter()
                conn.execute(statement).fetchall()
                times.append((time.perf_counter() - started) * 1000)
            plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"))
            conn.rollback()
            rows.append({"case": title, "median_ms": statistics.median(times), "max_ms": max(times)})
            explains.append((title, f"{statement}\n\n{plan}"))
            log(f"{title}: {rows[-1]['median_ms']:.1f} ms")
    return rows, explains


def claim_plans(url: str) -> list[tuple[str, str]]:
    """EXPLAIN of the sync's claim of one batch, at the start of a cycle and half-way through it."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from offers_sync import sync_states

    tick = datetime.now(UTC).replace(microsecond=0)
    limit = max(16, 16 * 8)  # the default batch: SYNC_CONCURRENCY 16 × 8
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        sync_states.products_claim_for_tick(tick=tick, worker="bench", limit=limit)
        transaction.set_rollback(True)
    (statement,) = [q["sql"] for q in queries.captured_queries]
    plans = []
    with psycopg.connect(url) as conn:
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"))
        plans.append(
            ("Claim of a batch of 128, start of a cycle (nothing claimed for this tick)", f"{statement}\n\n{plan}")
        )
        conn.rollback()
        # Half the products claimed for this tick and committed, as workers do batch by batch; their
        # old index entries wait for vacuum, and the claim's index scan steps over them.
        started = time.monotonic()
        conn.execute(
            # The products the claims would have taken, in the claim's own order.
            "UPDATE offers_sync_productsyncstate SET sync_claimed_for = %s, sync_claimed_by = 'other' "
            "WHERE product_id IN (SELECT product_id FROM offers_sync_productsyncstate "
            "WHERE registered_at IS NOT NULL AND sync_claimed_for < %s "
            "ORDER BY sync_claimed_for LIMIT (SELECT count(*) / 2 FROM offers_sync_productsyncstate))",
            [tick, tick],
        )
        conn.commit()
        log(f"half the products claimed in {time.monotonic() - started:.0f} s")
        for attempt in ("first claim after", "second claim after"):
            plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"))
            plans.append((f"Claim of a batch of 128, half-way through a cycle, {attempt}", f"{statement}\n\n{plan}"))
            conn.rollback()
        # Back to unclaimed and vacuumed, so that a --reuse-db run starts from the same state.
        conn.execute(
            "UPDATE offers_sync_productsyncstate SET sync_claimed_for = '1970-01-01T00:00:00Z', sync_claimed_by = ''"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE offers_sync_productsyncstate")
    return plans


def report(*, sizes, build_timings, rows, comparison_rows, explains, load_before) -> str:
    lines = [
        f"# A million products, {sizes['names']} names: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Sizes: {sizes['products']:,} products, about {sizes['offers']:,} offers, about "
        f"{sizes['price events']:,} price events. Load average before: {load_before}.",
        "",
    ]
    if build_timings:
        lines += ["| build step | figure |", "|---|---:|"]
        lines += [
            f"| {k} | {v:,.1f} |" if isinstance(v, float) else f"| {k} | {v:,} |" for k, v in build_timings.items()
        ]
        lines += ["", "(seconds unless stated)", ""]
    lines += [
        "Wall time of a request in this process (median and slowest), its CPU here (routing, view, rendering),",
        "and the database's execution time of its queries (EXPLAIN ANALYZE, sessions and users aside):",
        "",
        "| case | median ms | slowest ms | app CPU ms | DB ms | queries | what it showed |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r['case']} | {r['median_ms']:.1f} | {r['max_ms']:.1f} | {r['app_cpu_ms']:.1f} | {r['database_ms']:.1f} "
        f"| {r['queries']} | {r['summary']} |"
        for r in rows
    ]
    lines += [
        "",
        "For comparison (SQL alone, PostgreSQL's time):",
        "",
        "| query | median ms | slowest ms |",
        "|---|---:|---:|",
    ]
    lines += [f"| {r['case']} | {r['median_ms']:.1f} | {r['max_ms']:.1f} |" for r in comparison_rows]
    lines += ["", "## EXPLAIN (ANALYZE, BUFFERS)", ""]
    for title, text in explains:
        lines += [f"### {title}", "", "```", text, "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--offers-per-product", type=int, default=5)
    parser.add_argument("--events-per-offer", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20, help="timed requests per case")
    parser.add_argument(
        "--names",
        choices=sorted(NAMES),
        default="synthetic",
        help="the products' names when building (the default database's name ends in _realistic for those)",
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", action="store_true", help="measure a database an earlier --keep-db run built")
    parser.add_argument(
        "--cases",
        action="append",
        default=[],
        metavar="WORDS",
        help="measure only the cases whose title contains WORDS (any case; repeatable), without the comparisons",
    )
    args = parser.parse_args()
    default_url = DEFAULT_DATABASE_URL + ("_realistic" if args.names == "realistic" else "")
    url = os.environ.get("BENCH_DATABASE_URL", default_url)
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    build_timings = {}
    if not args.reuse_db:
        started = time.monotonic()
        recreate_database(url)
        migrate(url)
        build_timings = build(
            url,
            names=args.names,
            products=args.products,
            offers_per_product=args.offers_per_product,
            events_per_offer=args.events_per_offer,
        )
        build_timings["whole build"] = time.monotonic() - started
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            if add_new_line(conn):  # a database built before the line was part of the build
                conn.execute("ANALYZE catalogue_product")
    try:
        rows, explains, sizes = measure(url, args.runs, args.cases)
        comparison_rows = []
        if not args.cases:
            comparison_rows, comparison_explains = comparisons(url)
            explains += comparison_explains + claim_plans(url)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            drop_database(url)
    text = report(
        sizes=sizes,
        build_timings=build_timings,
        rows=rows,
        comparison_rows=comparison_rows,
        explains=explains,
        load_before=load_before,
    )
    write_report(text, f"million-{sizes['names']}")


def write_report(text: str, name: str) -> Path:
    """Print the report and keep it in bench/results/, named `name` and the time; its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.md"
    path.write_text(text)
    print(text)
    log(f"written to {path.relative_to(ROOT)}")
    return path


if __name__ == "__main__":
    main()
