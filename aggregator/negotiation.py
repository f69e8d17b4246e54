"""DRF's content negotiation, with a shortcut for what nearly every API client asks for.

Parsing the Accept header and matching it against the renderers cost about as much as rendering
a product's offers. A request that accepts anything (no Accept header, or `*/*`) or exactly
`application/json`, without a `?format=`, gets the first renderer when it is the JSON one, which
is what DRF's own negotiation would pick; every other request goes through DRF's negotiation.
Installed through DRF's documented `DEFAULT_CONTENT_NEGOTIATION_CLASS` setting, and written
against DRF's public API only: `select_renderer`, the renderers' `media_type` and `api_settings`.
"""

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.settings import api_settings

_ANY_OR_JSON = frozenset({"*/*", "application/json"})


class JSONFirstContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0] if renderers else None
        if (
            renderer is not None
            and renderer.media_type == "application/json"
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT", "*/*") in _ANY_OR_JSON
            and api_settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)
