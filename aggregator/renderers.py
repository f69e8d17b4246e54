"""The API's JSON renderer: DRF's JSONRenderer output, written by orjson (C) instead of `json` + Python hooks.

DRF's renderer calls back into Python for every UUID and datetime (its encoder's `default`), a
large share of rendering a page of products. orjson writes UUIDs and datetimes itself,
as DRF does (`str(uuid)`; ISO 8601 with `Z` for UTC, microseconds only when there are some), and
hands anything else it does not know (Decimal, timedelta, lazy translations, querysets …) to DRF's
encoder. Output is byte for byte DRF's compact UTF-8 JSON, including its escaping of U+2028/U+2029
(tests compare the two), except that floats may be spelled differently (`1e16` vs `1e+16`) and NaN
becomes null where DRF's strict mode raises; the API has no floats. A request for indentation
(`Accept: application/json; indent=4`) or an integer beyond 64 bits goes to DRF's renderer.
"""

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


class FastJSONRenderer(JSONRenderer):
    _default = staticmethod(JSONEncoder().default)

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if (
            self.ensure_ascii
            or not self.compact
            or (
                accepted_media_type not in (None, self.media_type)
                and self.get_indent(accepted_media_type, {}) is not None
            )
            or (renderer_context and renderer_context.get("indent"))
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            output = orjson.dumps(data, default=self._default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF does: keep the output a strict subset of JavaScript.
        return output.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
