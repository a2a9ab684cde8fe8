"""The API's one request parser (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``): JSON through ``load_json``.

DRF's own ``JSONParser`` has no depth limit (a body nested ~1000 deep became a 500) and honours any text charset; this
one takes UTF-8 JSON only, nested at most ``estafette.lib.json_input.MAX_DEPTH`` deep, and refuses anything else with
a 400 ``{"code", "message"}`` (DRF's ``ParseError`` through ``estafette.lib.api.exception_handler``). The body's size is
bounded before any parser runs (``estafette.lib.body_limits``). Form and multipart bodies are not parsed: the API and
the web UI speak JSON only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from estafette.lib.json_input import InvalidJson, load_json


class BoundedJSONParser(BaseParser):
    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = str((parser_context or {}).get("encoding") or "utf-8")
        if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise ParseError(f"send JSON as UTF-8, not {encoding[:40]}")
        try:
            return load_json(stream.read())
        except InvalidJson as error:
            raise ParseError(str(error)) from None
