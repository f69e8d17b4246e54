"""The apps depend one way (the contracts in .importlinter): an import against an arrow fails the build."""

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True) == 0


def test_product_holds_catalogue_fields_only():
    from catalogue.models import Product

    assert {field.name for field in Product._meta.concrete_fields} == {
        "id",
        "name",
        "description",
        "created_at",
        "updated_at",
    }
