"""`POST /admin/functions/<name>`: run a non-HTTP function by hand, as Core Tools and the portal do.

The host's AdminController (`Invoke`): the route needs the admin level (the master key, in
`x-functions-key`, in Azure; locally `func start` enforces no keys, so here only with
--enforce-keys). The body binds `{"input": <string, number or boolean>}` through MVC's JSON
input formatter, so a body that is not JSON by its Content-Type is 415 and one that does not
bind (empty, malformed, `null`, not an object, an object or array `input`) is 400; an unknown
function is 404. Otherwise the host starts the run in the background and answers 202 at once
with an empty body. Only timer functions are run this way here (the app has no other
non-HTTP trigger).
"""

from __future__ import annotations

import json

from devstack.host.route_template import split_path

_JSON_TYPES = ("application/json", "text/json")


def function_name(method: str, raw_path: str) -> str | None:
    """The name in `POST /admin/functions/<name>` (matched case-insensitively), else None."""
    if method != "POST":
        return None
    segments = split_path(raw_path)
    if len(segments) != 3 or [s.lower() for s in segments[:2]] != ["admin", "functions"]:
        return None
    return segments[2] or None


def refusal(content_type: str | None, body: bytes) -> int | None:
    """The status the host answers for this body instead of 202, or None when it binds."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    suffixed = media.startswith("application/") and media.endswith("+json")
    if media not in _JSON_TYPES and not suffixed:
        return 415
    try:
        invocation = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return 400
    if not isinstance(invocation, dict):
        return 400
    if isinstance(invocation.get("input"), dict | list):
        return 400
    return None
