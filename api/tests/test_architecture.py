"""The apps depend one way (the contracts in .importlinter): an import against an arrow fails the build."""

import logging
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def loggers_left_enabled():
    # import-linter configures logging itself, which disables every logger that exists by then:
    # the tests after these would lose their log lines.
    loggers = [logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)]
    enabled = [logger for logger in loggers if not logger.disabled]
    yield
    for logger in enabled:
        logger.disabled = False


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


def test_an_import_against_the_arrows_fails(tmp_path, monkeypatch):
    # offers_sync does import catalogue: a contract forbidding that must break, or the check sees nothing.
    config = tmp_path / "contracts.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    catalogue\n    offers_sync\n\n"
        "[importlinter:contract:reversed]\nname = reversed\ntype = forbidden\n"
        "source_modules =\n    offers_sync\nforbidden_modules =\n    catalogue\n"
    )
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(config), no_cache=True, no_logo=True) != 0
