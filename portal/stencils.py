"""Pages rendered once per shape and filled in per request: the booker's overview in a burst.

After a confirmation mailing, thousands of bookers of one event open pages that
differ only in a few values: the link token, the order number, the form token.
Rendering the template (inheritance, macros, dozens of translations) cost more
than everything else in such a request. So a page is rendered a second way too,
with a marker in place of each of those values (its *holes*): the result,
split at the markers, is a stencil for every page of the same shape, and a
later request only puts its own values into the holes.

The shape is everything else the template sees: the context with markers in
place of the holes, the language and the mount point. Two requests of one shape
render the same page but for the hole values, as long as the template only
prints those values and does not branch on them; a value becomes a hole only
when it is made of characters that HTML escaping and URL quoting leave as they
are (letters, digits and ``-._``), so it reads the same wherever the template
prints it. Any other value stays in the shape. A new stencil is kept only if,
filled in with the values of the request that made it, it gives exactly the
page the template renders; otherwise that shape is always rendered in full.

The stencils are derived data kept per process (a bounded LRU): nothing another
app server needs.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app, get_flashed_messages, render_template, request
from flask_babel import get_locale

#: What a hole value may consist of: text that escaping and URL quoting leave unchanged.
_INVARIANT = re.compile(r"[A-Za-z0-9._-]+")
#: Markers are letters and digits only (so they survive escaping and quoting themselves), with a
#: per-process nonce so that no real text contains one.
_MARKER_PREFIX = f"stencil{secrets.token_hex(8)}h"
_MARKER = re.compile(_MARKER_PREFIX + r"(\d+)e")
#: Shapes kept per process: a shop's pages in a language and a few ticket states each.
MAX_STENCILS = 512

#: Makes a template's context: given `hole`, which it applies to each value that may be a hole.
ContextMaker = Callable[[Callable[[Any], Any]], dict[str, Hashable]]


class Stencil:
    """A rendered page split at its markers: literal text, then (hole number, literal text) pairs."""

    def __init__(self, marked_page: str) -> None:
        parts = _MARKER.split(marked_page)
        self.head = parts[0]
        self.rest = [(int(number), text) for number, text in zip(parts[1::2], parts[2::2], strict=True)]

    def fill(self, values: list[str]) -> str:
        return self.head + "".join(values[number] + text for number, text in self.rest)


class _Holes:
    """`hole` for a marked rendering: numbers each hole value and puts its marker in its place."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or not _INVARIANT.fullmatch(value):
            return value  # part of the shape
        self.values.append(value)
        return f"{_MARKER_PREFIX}{len(self.values) - 1}e"


_UNKNOWN: Any = object()


def _as_is(value: Any) -> Any:
    return value


class _Shape:
    """A page's shape as a dict key, hashed once (the context can hold hundreds of values)."""

    __slots__ = ("parts", "hash")

    def __init__(self, parts: tuple[Hashable, ...]) -> None:
        self.parts = parts
        self.hash = hash(parts)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Shape) and self.hash == other.hash and self.parts == other.parts


class _Stencils:
    """A bounded LRU of stencils by shape; None for a shape that cannot have one."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._by_shape: OrderedDict[_Shape, Stencil | None] = OrderedDict()

    def get(self, shape: _Shape) -> tuple[bool, Stencil | None]:
        with self._lock:
            stencil = self._by_shape.get(shape, _UNKNOWN)
            if stencil is _UNKNOWN:
                return False, None
            self._by_shape.move_to_end(shape)
            return True, stencil

    def put(self, shape: _Shape, stencil: Stencil | None) -> None:
        with self._lock:
            self._by_shape[shape] = stencil
            if len(self._by_shape) > self.size:
                self._by_shape.popitem(last=False)


def _stencils() -> _Stencils:
    """The app's stencils (each app has its own: another configuration may render other pages)."""
    kept = current_app.extensions.get("stencils")
    if kept is None:
        kept = current_app.extensions["stencils"] = _Stencils(MAX_STENCILS)
    return kept


def render_stencilled(template: str, make_context: ContextMaker) -> str:
    """What render_template(template, **make_context(lambda value: value)) renders, from a stencil when it can.

    The context's values must be hashable (frozen records, tuples, strings): together
    they are the page's shape.
    """
    def rendered_in_full() -> str:
        return render_template(template, **make_context(_as_is))

    # A page with messages to show is rendered in full (and shows them once, as always).
    if get_flashed_messages():
        return rendered_in_full()
    holes = _Holes()
    marked = make_context(holes)
    shape = _Shape((template, str(get_locale()), request.script_root, tuple(marked.items())))
    stencils = _stencils()
    known, stencil = stencils.get(shape)
    if known:
        return rendered_in_full() if stencil is None else stencil.fill(holes.values)
    page = rendered_in_full()
    candidate = Stencil(render_template(template, **marked))
    stencils.put(shape, candidate if candidate.fill(holes.values) == page else None)
    return page
