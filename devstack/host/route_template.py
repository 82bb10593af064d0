"""ASP.NET Core route templates, as the Functions host uses them for HTTP triggers.

Supported: literal segments (case-insensitive), ``{p}``, inline constraints ``{p:int}``,
optional ``{p?}``, defaults ``{p=x}``, catch-all ``{*rest}``/``{**rest}``, complex segments such
as ``{name}.{ext?}``, and ``{{``/``}}`` escapes. Pure functions only: no I/O.

Precedence follows ASP.NET's inbound precedence digits (lower wins): literal 1, complex segment or
constrained parameter 2, parameter 3, constrained catch-all 4, catch-all 5, compared segment by
segment, so literal segments beat parameters and parameters beat catch-alls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from devstack.host.route_constraints import ConstraintError, Predicate, build_constraint

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONSTRAINT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENCODED_SLASH = re.compile(r"%2[fF]")


class RouteTemplateError(ValueError):
    """The template is not a valid ASP.NET route template."""


@dataclass(frozen=True)
class Parameter:
    name: str
    constraints: tuple[Predicate, ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.constraints)


Part = str | Parameter


@dataclass(frozen=True)
class Segment:
    parts: tuple[Part, ...]

    @property
    def parameter(self) -> Parameter | None:
        """The parameter when the segment is exactly one parameter, else None."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Parameter):
            return self.parts[0]
        return None

    @property
    def precedence(self) -> int:
        if len(self.parts) > 1:
            return 2
        part = self.parts[0]
        if isinstance(part, str):
            return 1
        digit = 5 if part.catch_all else 3
        return digit - 1 if part.constraints else digit


def _parse_parameter(body: str, template: str) -> Parameter:
    text = body.strip()
    catch_all = False
    if text.startswith("**"):
        catch_all, text = True, text[2:]
    elif text.startswith("*"):
        catch_all, text = True, text[1:]
    name_match = _NAME.match(text)
    if not name_match:
        raise RouteTemplateError(f"invalid parameter '{{{body}}}' in route '{template}'")
    name = name_match.group(0)
    rest = text[name_match.end() :]
    constraints: list[Predicate] = []
    while rest.startswith(":"):
        cname = _CONSTRAINT_NAME.match(rest, 1)
        if not cname:
            raise RouteTemplateError(f"invalid constraint in '{{{body}}}' in route '{template}'")
        pos = cname.end()
        args: str | None = None
        if rest[pos : pos + 1] == "(":
            # The argument list ends at the first ')' that is followed by another constraint,
            # a default, the optional marker or the end (regex arguments may contain parentheses).
            end = next(
                (
                    i
                    for i in range(pos + 1, len(rest))
                    if rest[i] == ")" and (i + 1 == len(rest) or rest[i + 1] in ":=?")
                ),
                -1,
            )
            if end < 0:
                raise RouteTemplateError(f"unclosed '(' in '{{{body}}}' in route '{template}'")
            args, pos = rest[pos + 1 : end], end + 1
        try:
            constraints.append(build_constraint(cname.group(0), args))
        except ConstraintError as exc:
            raise RouteTemplateError(f"route '{template}': {exc}") from None
        rest = rest[pos:]
    optional = False
    default: str | None = None
    if rest.startswith("="):
        default = rest[1:]
    elif rest == "?":
        optional = True
    elif rest:
        raise RouteTemplateError(f"invalid parameter '{{{body}}}' in route '{template}'")
    if catch_all and optional:
        raise RouteTemplateError(f"a catch-all parameter cannot be optional: route '{template}'")
    return Parameter(name, tuple(constraints), optional, default, catch_all)


def _tokenize(template: str) -> list[list[Part]]:
    """Split a template into segments of literal text and parameters."""
    segments: list[list[Part]] = [[]]
    literal: list[str] = []
    i = 0

    def flush() -> None:
        if literal:
            segments[-1].append("".join(literal))
            literal.clear()

    while i < len(template):
        ch = template[i]
        pair = template[i : i + 2]
        if pair in ("{{", "}}"):
            literal.append(ch)
            i += 2
        elif ch == "}":
            raise RouteTemplateError(f"unmatched '}}' in route '{template}'")
        elif ch == "/":
            flush()
            segments.append([])
            i += 1
        elif ch == "{":
            flush()
            body: list[str] = []
            i += 1
            while True:
                if i >= len(template):
                    raise RouteTemplateError(f"unclosed '{{' in route '{template}'")
                pair = template[i : i + 2]
                if pair in ("{{", "}}"):
                    body.append(template[i])
                    i += 2
                elif template[i] == "}":
                    i += 1
                    break
                else:
                    body.append(template[i])
                    i += 1
            segments[-1].append(_parse_parameter("".join(body), template))
        else:
            literal.append(ch)
            i += 1
    flush()
    return segments


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(segment.precedence for segment in self.segments)

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for s in self.segments for p in s.parts if isinstance(p, Parameter)]

    def match(self, path_segments: list[str]) -> dict[str, str] | None:
        """Route values when the decoded path segments match this template, else None."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            param = segment.parameter
            if param is not None and param.catch_all:
                rest = "/".join(path_segments[index:])
                return _bind(param, rest, values)
            if index >= len(path_segments):
                if param is not None and (param.optional or param.default is not None):
                    if param.default is not None:
                        values[param.name] = param.default
                    continue
                return None
            if not _match_segment(segment, path_segments[index], values):
                return None
        if len(path_segments) > len(self.segments):
            return None
        return values


def _bind(param: Parameter, value: str, values: dict[str, str]) -> dict[str, str] | None:
    if value == "":
        if param.default is not None:
            values[param.name] = param.default
        return values
    if not param.accepts(value):
        return None
    values[param.name] = value
    return values


def _segment_regex(parts: tuple[Part, ...]) -> re.Pattern[str]:
    # Greedy groups reproduce ASP.NET's right-to-left matching of complex segments:
    # "{a}-{b}" on "x-y-z" gives a="x-y", b="z".
    pattern = "".join(
        f"(?P<p{i}>.+)" if isinstance(part, Parameter) else re.escape(part)
        for i, part in enumerate(parts)
    )
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


def _match_segment(segment: Segment, value: str, values: dict[str, str]) -> bool:
    parts = segment.parts
    if len(parts) == 1:
        part = parts[0]
        if isinstance(part, str):
            return part.lower() == value.lower()
        if value == "":
            return False
        return _bind(part, value, values) is not None
    candidates = [parts]
    last = parts[-1]
    if isinstance(last, Parameter) and last.optional and len(parts) > 2:
        # "{name}.{ext?}": the literal before a trailing optional parameter is optional too.
        candidates.append(parts[:-2])
    for candidate in candidates:
        found = _segment_regex(candidate).fullmatch(value)
        if not found:
            continue
        bound: dict[str, str] = {}
        for i, part in enumerate(candidate):
            if isinstance(part, Parameter):
                text = found.group(f"p{i}")
                if not part.accepts(text):
                    return False
                bound[part.name] = text
        values.update(bound)
        return True
    return False


def parse_template(text: str) -> RouteTemplate:
    """Parse an ASP.NET route template (leading '/' or '~/' ignored)."""
    stripped = text.strip()
    if stripped.startswith("~/"):
        stripped = stripped[2:]
    stripped = stripped.strip("/")
    if stripped == "":
        return RouteTemplate(text, ())
    raw_segments = _tokenize(stripped)
    segments: list[Segment] = []
    seen: set[str] = set()
    for index, parts in enumerate(raw_segments):
        if not parts:
            raise RouteTemplateError(f"empty segment in route '{text}'")
        for pos, part in enumerate(parts):
            if pos and isinstance(part, Parameter) and isinstance(parts[pos - 1], Parameter):
                raise RouteTemplateError(
                    f"route '{text}': two parameters must be separated by a literal"
                )
            if isinstance(part, Parameter):
                if part.name.lower() in seen:
                    raise RouteTemplateError(f"route '{text}': parameter '{part.name}' repeats")
                seen.add(part.name.lower())
                if part.catch_all and (index != len(raw_segments) - 1 or len(parts) > 1):
                    raise RouteTemplateError(
                        f"route '{text}': a catch-all parameter must be the whole last segment"
                    )
        segments.append(Segment(tuple(parts)))
    for segment in segments[:-1]:
        param = segment.parameter
        if param is not None and param.optional:
            raise RouteTemplateError(
                f"route '{text}': only the last segment may hold an optional parameter"
            )
    return RouteTemplate(text, tuple(segments))


def join_prefix(route_prefix: str, route: str) -> str:
    """The full template the host registers: '<routePrefix>/<route>' (no prefix when empty)."""
    prefix = route_prefix.strip("/")
    route = route.strip().lstrip("~").strip("/")
    if not prefix:
        return route
    return f"{prefix}/{route}" if route else prefix


def split_path(raw_path: str) -> list[str]:
    """Decoded path segments of a raw (still percent-encoded) request path.

    As in ASP.NET Core, an encoded slash (%2F) stays encoded so it cannot split a segment, and
    one trailing slash is ignored.
    """
    path = raw_path.split("?", 1)[0].lstrip("/")
    if path.endswith("/"):
        path = path[:-1]
    if path == "":
        return []
    return [_decode_segment(segment) for segment in path.split("/")]


def _decode_segment(segment: str) -> str:
    pieces = _ENCODED_SLASH.split(segment)
    slashes = _ENCODED_SLASH.findall(segment)
    out = [unquote(pieces[0], errors="replace")]
    for slash, piece in zip(slashes, pieces[1:], strict=True):
        out.append(slash)
        out.append(unquote(piece, errors="replace"))
    return "".join(out)
