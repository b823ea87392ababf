"""The HTML parser's stack of open elements, as html_depth models it (names, scopes, formatting elements).

Element categories follow the HTML standard's tree-construction section:
"special" elements, the elements that bound the default, button, list and
table scopes, SVG/MathML integration points, and the list of active
formatting elements with its markers and "Noah's Ark" clause.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


VOID = _names(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param source track wbr"
)
IGNORED = _names("html head body frameset")
RAW_TEXT = _names("script style xmp iframe noembed noframes textarea title")
FORMATTING = _names("a b big code em font i nobr s small strike strong tt u")
MARKERS = _names("applet marquee object template")
SPECIAL_NAMES = _names(
    "address applet area article aside base basefont bgsound blockquote body br button caption center col colgroup "
    "dd details dialog dir div dl dt embed fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 "
    "head header hgroup hr html iframe img input keygen li link listing main marquee menu meta nav noembed noframes "
    "noscript object ol p param plaintext pre script search section select source style summary table tbody td "
    "template textarea tfoot th thead title tr track ul wbr xmp"
)
# select is not a scope boundary in the standard, but parsers differ on what may nest inside it (the
# "customizable select" change): as a boundary, nothing pops past it, which can only make the estimate high.
SCOPE_NAMES = _names("applet caption html table td th marquee object template select")
SVG_POINTS = _names("foreignobject desc title")  # HTML integration points, and scope boundaries
MATH_BOUNDARIES = _names("mi mo mn ms mtext annotation-xml")  # the first five are MathML text integration points
NOT_A_POINT, TEXT_POINT, HTML_POINT, ANNOTATION = range(4)
BLOCK_ENDS = _names(  # end tags that pop to their element when it is in scope
    "address article aside blockquote button center details dialog dir div dl fieldset figcaption figure footer "
    "header hgroup listing main menu nav ol pre search section summary ul"
)
CLOSES_P = _names(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer header "
    "hgroup main menu nav ol p search section summary ul h1 h2 h3 h4 h5 h6 pre listing form li dd dt xmp plaintext"
)
NO_RECONSTRUCT = _names(  # start tags that do not reopen implicitly closed formatting elements first
    "html base basefont bgsound link meta noframes script style template title body frameset head address article "
    "aside blockquote center details dialog dir div dl fieldset figcaption figure footer header hgroup main menu nav "
    "ol p search section summary ul h1 h2 h3 h4 h5 h6 pre listing form li dd dt plaintext table hr textarea iframe "
    "noembed param source track caption col colgroup frame tbody td tfoot th thead tr rb rtc rp rt"
)
IMPLIED_ENDS = _names("dd dt li optgroup option p rb rp rt rtc")
HEADINGS = _names("h1 h2 h3 h4 h5 h6")
BREAKOUT = _names(
    "b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img li listing menu "
    "meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var"
)
TABLE_PARTS = _names("caption colgroup col tbody thead tfoot tr td th")
SECTIONS = ("tbody", "thead", "tfoot")

# Categories of open elements, each kept as a stack of positions.
SPECIAL, SCOPE, BUTTON, LIST, TABLE_CTX, HTML, NOT_ADP, HEADING, CELL = range(9)


OWNS_LEVEL = _names("td th caption applet marquee object template")  # elements that put a marker in the list


def _html_categories(name: str) -> tuple[int, ...]:
    cats = [HTML]
    if name in SPECIAL_NAMES:
        cats.append(SPECIAL)
        if name not in ("address", "div", "p"):
            cats.append(NOT_ADP)
    for cat, names in (
        (SCOPE, SCOPE_NAMES),
        (BUTTON, ("button",)),
        (LIST, ("ol", "ul")),
        (TABLE_CTX, ("table", "template")),
        (HEADING, HEADINGS),
        (CELL, ("td", "th")),
    ):
        if name in names:
            cats.append(cat)
    return tuple(cats)


_HTML_CATEGORIES = {name: _html_categories(name) for name in SPECIAL_NAMES | SCOPE_NAMES}
_FOREIGN_BOUNDARY = (SPECIAL, NOT_ADP, SCOPE)
_PLAIN = (HTML,)


def _categories(name: str, space: str) -> tuple[int, ...]:
    if space == "html":
        return _HTML_CATEGORIES.get(name, _PLAIN)
    boundaries = SVG_POINTS if space == "svg" else MATH_BOUNDARIES
    return _FOREIGN_BOUNDARY if name in boundaries else ()


@dataclass
class Entry:
    """An element in the parser's list of active formatting elements."""

    name: str
    key: str
    level: Level
    index: int  # position in the stack, or -1 while closed implicitly (the parser will reopen it)
    seq: int = 0  # order in the list
    alive: bool = True
    moved: bool = False  # its clone sits just above `index` (during the adoption agency algorithm)


@dataclass
class Level:
    """The formatting elements after one marker (a table cell, object, template ...)."""

    by_name: dict[str, list[Entry]] = field(default_factory=dict)
    by_key: dict[str, list[Entry]] = field(default_factory=dict)
    dormant: int = 0
    waiting: list[Entry] = field(default_factory=list)  # closed implicitly, to be reopened


class DepthExceeded(Exception):
    """The model's stack (with the formatting elements the parser would reopen) passed the limit."""


class OpenElements:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.names: list[str] = []  # "" for an element taken out of the middle
        self.meta: list[tuple[str, int, tuple[int, ...], Entry | None, bool]] = []  # space, point, cats, entry, owns
        self.positions: dict[str, list[int]] = {}
        self.by_cat: list[list[int]] = [[] for _ in range(9)]
        self.removed = 0  # elements taken out of the middle of the stack (kept as placeholders)
        self.sequence = 0
        self.levels = [Level()]
        self.dormant = 0
        self.deepest = 0

    def top(self, cat: int) -> int:
        found = self.by_cat[cat]
        return found[-1] if found else -1

    def pos(self, name: str) -> int:
        found = self.positions.get(name)
        return found[-1] if found else -1

    def top_space(self) -> str:
        return self.meta[-1][0] if self.meta else "html"

    def entry_at(self, index: int) -> Entry | None:
        return self.meta[index][3]

    def foreign(self) -> bool:
        """Whether the current node is an SVG or MathML element."""
        return bool(self.meta) and self.meta[-1][0] != "html"

    def html_rules_for(self, name: str) -> bool:
        """Whether a start tag `name` is handled by the HTML rules (not as foreign content) here."""
        if not self.meta or self.meta[-1][0] == "html":
            return True
        point = self.meta[-1][1]
        if point == TEXT_POINT:
            return name not in ("mglyph", "malignmark")
        return point == HTML_POINT or (point == ANNOTATION and name == "svg")

    def at_breakout_stop(self) -> bool:
        """Where a breakout tag stops popping foreign elements: HTML, or an integration point."""
        return not self.meta or self.meta[-1][0] == "html" or self.meta[-1][1] in (TEXT_POINT, HTML_POINT)

    def push(
        self, name: str, space: str = "html", key: str = "", point: int = NOT_A_POINT, entry: Entry | None = None
    ) -> None:
        index = len(self.names)
        cats = _HTML_CATEGORIES.get(name, _PLAIN) if space == "html" else _categories(name, space)
        if entry is not None:  # reopened
            entry.index = index
        elif key:
            entry = self._remember(name, key, index)
        owns = name in OWNS_LEVEL and space == "html"
        if owns:
            self.levels.append(Level())
        if space != "html":
            name = f"{space}:{name}"  # HTML rules look elements up by name among HTML elements only
        self.names.append(name)
        self.meta.append((space, point, cats, entry, owns))
        found = self.positions.get(name)
        if found is None:
            self.positions[name] = [index]
        else:
            found.append(index)
        for cat in cats:
            self.by_cat[cat].append(index)
        depth = index + 1 - self.removed + self.dormant
        if depth > self.deepest:
            self.deepest = depth
            if depth > self.limit:
                raise DepthExceeded

    def _remember(self, name: str, key: str, index: int) -> Entry:
        level = self.levels[-1]
        same = level.by_key.setdefault(key, [])
        if len(same) >= 3:  # the standard's "Noah's Ark" clause: at most three alike after a marker
            self._forget(same.pop(0))
        self.sequence += 1
        entry = Entry(name, key, level, index, self.sequence)
        same.append(entry)
        level.by_name.setdefault(name, []).append(entry)
        return entry

    def _forget(self, entry: Entry) -> None:
        if entry.alive and entry.index < 0:
            entry.level.dormant -= 1
            self.dormant -= 1
        entry.alive = False

    def last_entry(self, name: str) -> Entry | None:
        found = self.levels[-1].by_name.get(name)
        while found and not found[-1].alive:
            found.pop()
        return found[-1] if found else None

    def close_entry(self, entry: Entry) -> None:
        """An explicit end tag for a formatting element that is not open: the parser drops it."""
        self._forget(entry)

    def first_special_above(self, index: int) -> int:
        found = self.by_cat[SPECIAL]
        at = bisect_right(found, index)
        return found[at] if at < len(found) else -1

    def remove(self, index: int) -> None:
        """Take the element at `index` out of the stack (the elements above it stay)."""
        name = self.names[index]
        if not name:
            return
        self.positions[name].remove(index)
        space, point, cats, _entry, owns = self.meta[index]
        for cat in cats:
            self.by_cat[cat].remove(index)
        self.names[index] = ""
        self.meta[index] = (space, point, (), None, owns)
        self.removed += 1

    def make_dormant(self, entry: Entry) -> None:
        entry.index = -1
        entry.moved = False
        entry.level.dormant += 1
        entry.level.waiting.append(entry)
        self.dormant += 1

    def reconstruct(self) -> None:
        """The standard's "reconstruct the active formatting elements": reopen those closed implicitly."""
        level = self.levels[-1]
        if not level.waiting:
            return
        waiting = sorted((e for e in level.waiting if e.alive and e.index < 0), key=lambda e: e.seq)
        level.waiting.clear()
        for entry in waiting:
            level.dormant -= 1
            self.dormant -= 1
            self.push(entry.name, entry=entry)

    def pop_to(self, index: int, closing: Entry | None = None, close_cells: bool = False) -> None:
        """Pop the elements at `index` and above; with `close_cells`, each cell popped clears its marker."""
        names, meta, by_cat, positions = self.names, self.meta, self.by_cat, self.positions
        index = max(index, 0)
        while len(names) > index:
            name = names.pop()
            _space, _point, cats, entry, owns = meta.pop()
            for cat in cats:
                by_cat[cat].pop()
            if name:
                positions[name].pop()
            else:
                self.removed -= 1
            if entry is not None and entry.alive:
                if entry is closing:
                    entry.alive = False
                else:
                    self.make_dormant(entry)
            if owns and close_cells and name in ("td", "th", "caption"):
                self.clear_level()

    def clear_level(self) -> None:
        if len(self.levels) > 1:
            level = self.levels.pop()
            self.dormant -= level.dormant
            for same in level.by_key.values():
                for entry in same:
                    entry.alive = False
