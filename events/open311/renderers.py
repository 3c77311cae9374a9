"""The bodies of GeoReport v2 responses in XML and JSON, and the spec's error format.

The spec's JSON is the "Spark convention" mapping of its XML: a list is a JSON array and, in XML, a wrapper element
whose items are named after it (services → service, service_requests → request, …); an empty value is an empty
element in XML and null in JSON. XML is UTF-8 with the declaration, schemaless, without a namespace.
"""

import json
import re
from xml.etree.ElementTree import Element, SubElement, tostring

from django.http import HttpResponse

CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
FORMATS = tuple(CONTENT_TYPES)

# The element name of the items of each list.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "service_request_updates": "request_update",
}

# Characters XML 1.0 cannot carry at all (not even escaped): a description with one would break every parser.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: Element, value) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _fill(SubElement(element, name), child)
    elif isinstance(value, list | tuple):
        item_name = ITEM_NAMES[element.tag]
        for child in value:
            _fill(SubElement(element, item_name), child)
    else:
        element.text = _text(value)


def xml_body(root: str, value) -> bytes:
    element = Element(root)
    _fill(element, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(element, encoding="unicode").encode("utf-8")


def json_body(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "replace")


def render(fmt: str, root: str, value, *, status: int = 200, headers: dict | None = None) -> HttpResponse:
    """``value`` as the document ``root`` in ``fmt`` (a list root is a JSON array, a dict root a JSON object)."""
    body = xml_body(root, value) if fmt == "xml" else json_body(value)
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])
    for name, header in (headers or {}).items():
        response[name] = header
    return response


def render_errors(fmt: str, status: int, descriptions: list[str], *, headers: dict | None = None) -> HttpResponse:
    """The spec's error document: ``<errors><error><code/><description/></error>…</errors>`` or
    ``[{"code": …, "description": …}, …]``; the code is the HTTP status."""
    errors = [{"code": status, "description": str(description)} for description in descriptions]
    return render(fmt if fmt in FORMATS else "xml", "errors", errors, status=status, headers=headers)


def http_error(request, status: int, message: str, headers: dict) -> HttpResponse:
    """An error no Open311 view answered (config.http_errors): the spec's error document, in the path's format."""
    fmt = "json" if request.path.lower().endswith(".json") else "xml"
    return render_errors(fmt, status, [message], headers=headers)
