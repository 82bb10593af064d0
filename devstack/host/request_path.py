"""The request path as Kestrel hands it on: dot segments removed after percent-decoding.

Kestrel decodes the request target (every escape but %2F) and then removes `.` and `..`
segments by RFC 3986 section 5.2.4 (aspnetcore `PathNormalizer.DecodePath`), before any
middleware or routing sees it. So `/api/x/../index`, `/api/x/%2e%2E/index` and `/api/./index`
all reach the function routed as `api/index`, and `..` never climbs above the root. `%2F` is
not decoded, so `..%2F` is an ordinary segment.

The host here keeps the raw (still-encoded) text so routing can keep `%2F` inside a segment;
each raw segment decodes to exactly one segment (decoding never yields a '/'), so the dot
segments are found by decoding each raw segment and dropped from the raw text.
"""

from __future__ import annotations

from urllib.parse import unquote


def remove_dot_segments(raw_path: str) -> str:
    """`raw_path` (no query) with its `.` and `..` segments removed, as Kestrel does."""
    if not raw_path.startswith("/") or "." not in unquote(raw_path):
        return raw_path
    segments = raw_path[1:].split("/")
    kept: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        decoded = unquote(segment, errors="replace")
        if decoded not in (".", ".."):
            kept.append(segment)
            continue
        if decoded == ".." and kept:
            kept.pop()
        if index == last:
            # "/a/b/.." is "/a/": a final dot segment leaves its directory's slash.
            kept.append("")
    return "/" + "/".join(kept)
