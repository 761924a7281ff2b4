"""json.loads with a bound on nesting, for bodies from the network.

py-evm (and py_ecc) raise the interpreter's recursion limit to 100,000 on import, so json's C
decoder no longer stops at ~1,000 levels: a body of ~100k "[" overflows the C stack and kills
the process (segfault) before RecursionError. Every process here imports py-evm, so check the
depth first.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 128
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class JsonTooDeep(ValueError):
    """JSON nested deeper than the bound."""


class JsonNotStandard(ValueError):
    """NaN or Infinity, which Python's json accepts but JSON has not (echoing them back is invalid JSON)."""


def _refuse_constant(name: str) -> Any:
    raise JsonNotStandard(f"{name} is not valid JSON")


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if brackets outside JSON strings nest deeper than `limit` (cheap when they cannot)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def loads_bounded(body: bytes | str, limit: int = MAX_JSON_DEPTH) -> Any:
    """json.loads, raising JsonTooDeep (a ValueError) past `limit` levels, ValueError if not JSON
    (NaN and Infinity included)."""
    if json_depth_exceeds(body.encode() if isinstance(body, str) else body, limit):
        raise JsonTooDeep(f"JSON nested deeper than {limit} levels")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise JsonTooDeep(f"JSON nested too deep: {exc}") from exc
