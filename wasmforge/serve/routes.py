"""Route patterns of ``wasmforge serve``, as Spin writes them: an exact path (``/hello``) or a prefix
(``/api/...``: ``/api`` and everything under it; ``/...``: every path).

Matching is on the raw request path (before percent-decoding), as Spin does: ``/a%2Fb`` is one
segment, not two. An exact route wins over a prefix; among prefixes the longest wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

WILDCARD = "/..."
_T = TypeVar("_T")


@dataclass(frozen=True)
class RoutePattern:
    """A parsed route: ``pattern`` as written, ``base`` the path it stands for (``/api`` for
    ``/api/...``, ``""`` for ``/...``)."""

    pattern: str
    base: str
    prefix: bool

    def matches(self, path: str) -> bool:
        if not self.prefix:
            return path == self.base
        return path == self.base or path.startswith(self.base + "/") or self.base == ""

    @property
    def script_name(self) -> str:
        """CGI's SCRIPT_NAME: the part of the path the route names (empty for ``/...``)."""
        return self.base

    def path_info(self, path: str) -> str:
        """The raw part of ``path`` after the route (``/x`` of ``/api/x``; empty for an exact
        route). ``path`` must match."""
        return path[len(self.base):] if self.prefix else ""


def parse_route(pattern: str) -> RoutePattern:
    """A route pattern; ValueError saying what is wrong with it."""
    if not pattern.startswith("/"):
        msg = f"route {pattern!r} must start with '/'"
        raise ValueError(msg)
    if any(c in pattern for c in "?# \t\r\n"):
        msg = f"route {pattern!r}: a route is a path, without a query, fragment or spaces"
        raise ValueError(msg)
    prefix = pattern == WILDCARD or pattern.endswith(WILDCARD)
    base = pattern[: -len(WILDCARD)] if prefix else pattern
    if "..." in base:
        msg = f"route {pattern!r}: '...' may only end a route, as '/...'"
        raise ValueError(msg)
    if base.endswith("/") and base != "/":
        # "/api/" would never match "/api" and always the same as "/api/..." otherwise: say so.
        msg = f"route {pattern!r}: drop the trailing '/' (or write '{base}...' for a prefix)"
        raise ValueError(msg)
    return RoutePattern(pattern=pattern, base=base, prefix=prefix)


def best_match(
    routes: Iterable[tuple[RoutePattern, _T]], path: str
) -> tuple[RoutePattern, _T] | None:
    """The route (and its value) that answers ``path``: the exact one, else the longest prefix."""
    best: tuple[RoutePattern, _T] | None = None
    for route, value in routes:
        if not route.matches(path):
            continue
        if not route.prefix:
            return route, value
        if best is None or len(route.base) > len(best[0].base):
            best = route, value
    return best
