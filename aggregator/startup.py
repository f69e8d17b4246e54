"""Checks the web process runs before it serves anything (gunicorn.conf.py's `on_starting`).

A misconfiguration found here stops the process with one line, as `aggregator.config` does for
the environment, rather than answering 500 to the first request that needs it.
"""

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage

from aggregator.config import ConfigError

STATIC_NOT_COLLECTED = "static files are not collected (run manage.py collectstatic)"


def check_static_files_collected() -> None:
    """Stop unless the manifest of hashed static file names exists, when the storage needs one.

    With the manifest storage and DEBUG off, every page that names a static file (`/docs`, the
    admin) looks it up in the manifest, and a missing one is a 500. With DEBUG on Django uses the
    plain names and needs no manifest.
    """
    if settings.DEBUG or not isinstance(staticfiles_storage, ManifestFilesMixin):
        return
    if not staticfiles_storage.exists(staticfiles_storage.manifest_name):
        raise ConfigError(STATIC_NOT_COLLECTED)
