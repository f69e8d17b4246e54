"""WSGI entry point for gunicorn (`gunicorn aggregator.wsgi`) and runserver: the web process."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")

application = get_wsgi_application()

from aggregator.statement_timeout import bound_web_statements  # noqa: E402 (needs the settings)

bound_web_statements()
