"""The admin's CSV/XLSX import and export of products, as an admin uses them."""

import io
import re

import pytest
import tablib
from django.utils import timezone

from catalogue.models import Product
from catalogue.resources import ProductResource
from catalogue.tests.factories import ProductFactory
from offers_sync.registration import products_claim_due_registrations

pytestmark = pytest.mark.django_db


def csv_of(rows) -> bytes:
    return tablib.Dataset(*rows, headers=["name", "description"]).export("csv").encode()


def admin_import(admin_client, content: bytes, *, name="products.csv", format_index=0):
    """Upload, then confirm, as the admin's two-step import does."""
    upload = io.BytesIO(content)
    upload.name = name
    first = admin_client.post(
        "/admin/catalogue/product/import/", {"import_file": upload, "format": format_index, "resource": 0}
    )
    assert first.status_code == 200
    html = first.content.decode()
    if "confirm_form" not in html and 'name="import_file_name"' not in html:
        return first
    fields = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', html))
    confirm = {k: fields[k] for k in ("import_file_name", "original_file_name", "format", "resource") if k in fields}
    return admin_client.post("/admin/catalogue/product/process_import/", confirm)


def test_an_import_of_many_rows_creates_them_pending_for_the_worker(admin_client):
    rows = [(f"Imported {i}", f"row {i}" if i % 2 else "") for i in range(2500)]
    response = admin_import(admin_client, csv_of(rows))
    assert response.status_code in (200, 302)
    assert Product.objects.count() == 2500
    assert Product.objects.filter(name="Imported 1", description="row 1").exists()
    due = products_claim_due_registrations(now=timezone.now(), limit=5000)
    assert len(due) == 2500


def test_a_bad_row_imports_nothing_and_is_reported(admin_client):
    response = admin_import(admin_client, csv_of([("Fine", ""), ("", "blank name"), ("bad\x07bell", "")]))
    assert Product.objects.count() == 0
    assert b"errors" in response.content.lower()


def test_export_has_every_product_with_its_columns():
    ProductFactory(name="Kettle", description="Boils")
    dataset = ProductResource().export()
    assert dataset.headers == ["id", "name", "description", "created_at", "updated_at"]
    assert dataset.dict[0]["name"] == "Kettle"


def test_an_exported_file_imports_as_new_products_whatever_its_ids():
    original = ProductFactory(name="Kettle")
    dataset = ProductResource().export()
    result = ProductResource().import_data(dataset, dry_run=False, raise_errors=True)
    assert not result.has_validation_errors()
    assert Product.objects.count() == 2
    assert Product.objects.filter(name="Kettle").exclude(pk=original.pk).count() == 1


def test_xlsx_round_trip():
    ProductFactory(name="Kettle")
    xlsx = ProductResource().export().export("xlsx")
    dataset = tablib.Dataset().load(xlsx, format="xlsx")
    ProductResource().import_data(dataset, dry_run=False, raise_errors=True)
    assert Product.objects.filter(name="Kettle").count() == 2


def test_the_preview_shows_the_rows_before_anything_is_written(admin_client):
    upload = io.BytesIO(csv_of([("Preview me", "a description")]))
    upload.name = "products.csv"
    preview = admin_client.post("/admin/catalogue/product/import/", {"import_file": upload, "format": 0, "resource": 0})
    assert "Preview me" in preview.content.decode()
    assert Product.objects.count() == 0
