"""The negotiation shortcut picks what DRF's own negotiation picks."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from aggregator.negotiation import JSONFirstContentNegotiation
from aggregator.renderers import FastJSONRenderer


@pytest.mark.parametrize("renderers", [[FastJSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()]])
@pytest.mark.parametrize(
    ("accept", "path"),
    [
        (None, "/products"),
        ("*/*", "/products"),
        ("application/json", "/products"),
        ("application/json; indent=4", "/products"),
        ("text/html, application/json;q=0.9", "/products"),
        ("*/*", "/products?format=json"),
        ("application/*", "/products"),
    ],
)
def test_same_choice_as_drf(renderers, accept, path):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(path, **headers))
    chosen = JSONFirstContentNegotiation().select_renderer(request, renderers)
    expected = DefaultContentNegotiation().select_renderer(request, renderers)
    assert (type(chosen[0]), chosen[1]) == (type(expected[0]), expected[1])


def test_unacceptable_is_still_406(api_client):
    response = api_client.get("/products", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
