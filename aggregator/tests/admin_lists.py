"""A check the apps' admin tests share: a change list's queries do not grow with its rows."""

from collections.abc import Callable

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext


def assert_a_thousand_rows_take_the_queries_of_a_few(
    admin_client, assert_max_num_queries, model, column: str, make: Callable[[int], object]
) -> None:
    """Count the queries of `model`'s change list as it is, `make(1000)` more rows, and load all of
    them on one page: no more queries than before, and every row shows `column`."""
    path = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(admin.site.get_model_admin(model)), "list_per_page", 1000)
        admin_client.get(path)
        with CaptureQueriesContext(connection) as few:
            admin_client.get(path)
        make(1000)
        with assert_max_num_queries(len(few)):
            html = admin_client.get(path).content.decode()
    assert html.count(f'class="field-{column}"') == 1000
