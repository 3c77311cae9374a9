"""The API's JSON parser: DRF's, refusing what no field can hold (NUL characters) and JSON nested deeper than any
document of ours (``[`` × 5000 made the decoder recurse until it failed). Form bodies are checked for NUL bytes by
``config.middleware.RequestGuard``."""
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


def check_document(data, *, max_depth: int = MAX_DEPTH) -> None:
    """Walk a decoded JSON document (without recursion): refuse NUL characters and nesting past ``max_depth``."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise ParseError(_("A text holds a NUL character (\\u0000), which no field may contain."))
            continue
        if depth > max_depth:
            raise ParseError(_("The JSON is nested more than %(n)s levels deep.") % {"n": max_depth})
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The JSON is nested more than %(n)s levels deep.") % {"n": MAX_DEPTH}) from None
        check_document(data)
        return data
