"""Settings for the test suite: the real settings, with the values a test run cannot lack."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("CURRENCY", "EUR")
# The tests stand up their own fake offers service where they need one.
os.environ["OFFERS_SERVICE_URL"] = ""
os.environ["OFFERS_REFRESH_TOKEN"] = ""
# The fake offers service (devtools); in os.environ so that the processes tests start have it too.
os.environ["DEV_TOOLS"] = "true"

from aggregator.settings import *  # noqa: E402,F403
from aggregator.settings import BASE_DIR, DATABASES  # noqa: E402

# Tests make many requests from one address in little time; the throttling tests turn it on.
THROTTLE_RATES = {"anon_read": None, "write": None, "failed_auth": None}
# The same for the admin's lockout; its tests turn it on (aggregator/tests/test_admin_security.py).
AXES_ENABLED = False
# Hashing passwords properly is slow on purpose; tests only need it to work.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests don't run collectstatic; serve assets unhashed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that worker processes started by end-to-end tests see the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
# Serve static files from the apps (no collectstatic in tests), as in development.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# The tests' webhook receivers listen on loopback; the refusal tests turn this off again.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
