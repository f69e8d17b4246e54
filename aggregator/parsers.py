"""The API's JSON parser: DRF's, plus a 400 (not a 500) for JSON nested too deeply to parse."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # `[[[[…]]]]` a few thousand deep fits easily in the body limit and exhausts
            # Python's recursion limit inside json.loads; it is a malformed body like any other.
            raise ParseError("JSON parse error - nested too deeply.") from None
