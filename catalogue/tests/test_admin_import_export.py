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


def test_xlsx_round_trip_changes_nothing():
    kettle = ProductFactory(name="Kettle")
    xlsx = ProductResource().export().export("xlsx")
    dataset = tablib.Dataset().load(xlsx, format="xlsx")
    result = ProductResource().import_data(dataset, dry_run=False, raise_errors=True)
    assert not result.has_validation_errors()
    assert list(Product.objects.values()) == [Product.objects.filter(pk=kettle.pk).values().get()]
    assert Product.objects.get().updated_at == kettle.updated_at


def test_the_preview_shows_the_rows_before_anything_is_written(admin_client):
    upload = io.BytesIO(csv_of([("Preview me", "a description")]))
    upload.name = "products.csv"
    preview = admin_client.post("/admin/catalogue/product/import/", {"import_file": upload, "format": 0, "resource": 0})
    assert "Preview me" in preview.content.decode()
    assert Product.objects.count() == 0


def test_reimporting_an_export_changes_nothing(admin_client):
    products = [ProductFactory(name=f"Kettle {i}", description="Boils" if i % 2 else "") for i in range(30)]
    before = {p["id"]: p for p in Product.objects.values()}
    exported = ProductResource().export().export("csv").encode()
    response = admin_import(admin_client, exported)
    assert response.status_code in (200, 302)
    assert {p["id"]: p for p in Product.objects.values()} == before
    assert len(products) == Product.objects.count()


def test_an_export_edited_and_imported_updates_by_id_and_creates_rows_without_one(admin_client):
    kettle, lamp = ProductFactory(name="Kettle"), ProductFactory(name="Lamp", description="Bright")
    dataset = ProductResource().export()
    rows = [dict(row) for row in dataset.dict]
    for row in rows:
        if row["name"] == "Kettle":
            row["name"] = "Kettle 2000"
    rows.append({"id": "", "name": "Toaster", "description": "", "created_at": "", "updated_at": ""})
    edited = tablib.Dataset(*[tuple(r.values()) for r in rows], headers=list(rows[0])).export("csv").encode()
    lamp_before = Product.objects.get(pk=lamp.pk)
    admin_import(admin_client, edited)
    kettle.refresh_from_db()
    assert kettle.name == "Kettle 2000" and kettle.updated_at > lamp_before.updated_at
    assert Product.objects.get(pk=lamp.pk).updated_at == lamp_before.updated_at
    assert Product.objects.filter(name="Toaster").count() == 1
    assert Product.objects.count() == 3
    assert products_claim_due_registrations(now=timezone.now(), limit=10)  # the new one waits for the worker


@pytest.mark.parametrize("bad_id", ["8d7c0000-0000-0000-0000-000000000000", "not-an-id"])
def test_a_row_with_an_id_no_product_has_imports_nothing(admin_client, bad_id):
    ProductFactory(name="Kettle")
    content = (
        tablib.Dataset(("", "New one", ""), (bad_id, "Ghost", ""), headers=["id", "name", "description"])
        .export("csv")
        .encode()
    )
    response = admin_import(admin_client, content)
    assert Product.objects.count() == 1
    assert "leave it empty to create a new product" in response.content.decode()
