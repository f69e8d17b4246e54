"""A bound on every database statement of the web process (WEB_STATEMENT_TIMEOUT), PostgreSQL only.

A request whose query runs longer is cancelled by PostgreSQL and answered 503 with a JSON error
(aggregator.exceptions), instead of holding a gunicorn worker and a database backend until the
worker's own timeout kills it. Only the web opts in (aggregator/wsgi.py, which runserver uses too):
the workers and management commands (migrations, prunes, imports) keep the server's setting.
"""

from django.conf import settings
from django.db.backends.signals import connection_created

DISPATCH_UID = "aggregator.statement_timeout"


def set_statement_timeout(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: set the session's `statement_timeout` to WEB_STATEMENT_TIMEOUT."""
    seconds = settings.WEB_STATEMENT_TIMEOUT
    if connection.vendor != "postgresql" or not seconds:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{seconds}s"])


def bound_web_statements() -> None:
    """Bound the statements of every database connection this process opens from now on."""
    connection_created.connect(set_statement_timeout, dispatch_uid=DISPATCH_UID)
