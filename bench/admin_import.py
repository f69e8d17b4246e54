"""Time the admin's CSV import of 10,000 products: upload (a dry run that shows the preview), then confirm.

Runs the admin in process (Django's test client, as a logged-in superuser, the test settings) on PostgreSQL, in a
database of its own that is dropped and created (`--database-url`). Prints both steps' times and
how many products are left pending for the worker.

    .venv/bin/python bench/admin_import.py [--rows 10000]
"""

import argparse
import io
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_env, drop_database, setup_django  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aggregator_importbench")
    args = parser.parse_args()
    # The test settings: plain static files storage (no collectstatic for the admin pages), fast hashing.
    setup_django(
        bench_env(args.database_url, DJANGO_SETTINGS_MODULE="aggregator.test_settings", ALLOWED_HOSTS="testserver")
    )
    import tablib
    from django.contrib.auth import get_user_model
    from django.test import Client

    from catalogue.models import Product

    admin = get_user_model().objects.create_superuser("import-bench", password="not-used")
    client = Client()
    client.force_login(admin)
    rows = [(f"Imported product {i}", f"Row {i} of the import.") for i in range(args.rows)]
    upload = io.BytesIO(tablib.Dataset(*rows, headers=["name", "description"]).export("csv").encode())
    upload.name = "products.csv"

    started = time.monotonic()
    preview = client.post("/admin/catalogue/product/import/", {"import_file": upload, "format": 0, "resource": 0})
    previewed = time.monotonic()
    fields = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', preview.content.decode()))
    confirm = {k: fields[k] for k in ("import_file_name", "original_file_name", "format", "resource") if k in fields}
    client.post("/admin/catalogue/product/process_import/", confirm)
    finished = time.monotonic()
    pending = Product.objects.filter(
        sync_state__registered_at__isnull=True, sync_state__next_registration_at__isnull=False
    ).count()
    print(
        f"{args.rows:,} rows: upload and preview {previewed - started:.1f} s, confirm {finished - previewed:.1f} s; "
        f"{Product.objects.count():,} products created, {pending:,} pending for the worker"
    )
    from django.db import connections

    connections.close_all()
    drop_database(args.database_url)


if __name__ == "__main__":
    main()
