"""The start-up check: without collected static files the web process stops with one line saying so.

The same check under a real gunicorn is a system test: tests/system/test_gunicorn_startup.py.
"""

import pytest

from aggregator.config import ConfigError
from aggregator.startup import check_static_files_collected

MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


@pytest.fixture
def manifest_storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST_STORAGE}}
    settings.STATIC_ROOT = tmp_path
    settings.DEBUG = False
    return tmp_path


def test_without_the_manifest_it_stops_with_one_line(manifest_storage):
    with pytest.raises(ConfigError) as stopped:
        check_static_files_collected()
    assert str(stopped.value) == "configuration error: static files are not collected (run manage.py collectstatic)"


def test_with_the_manifest_it_goes_on(manifest_storage):
    (manifest_storage / "staticfiles.json").write_text('{"paths": {}, "version": "1.1", "hash": ""}')
    check_static_files_collected()


def test_debug_needs_no_manifest(manifest_storage, settings):
    settings.DEBUG = True  # Django then links the plain names
    check_static_files_collected()


def test_a_storage_without_a_manifest_needs_none(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.DEBUG = False
    check_static_files_collected()  # the test settings' plain StaticFilesStorage
