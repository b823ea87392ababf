"""The HTML standard's tree-construction rules, reduced to how they move the stack of open elements.

Used by html_depth, which feeds it the tags of a document. Each rule is the
standard's (as the lexbor parser behind selectolax implements it, where the
two differ: a `select` may hold any element, and is a boundary for end tags
inside it); where following it exactly is not worth it, the rule keeps
elements open rather than closing them, so the depth is over-estimated. Never
popping more than the parser matters more than precision: an element popped
here but still open there would let markup nest without being counted.
"""

from __future__ import annotations

import re

from docqa.ingest.html_stack import (
    ANNOTATION,
    BLOCK_ENDS,
    BREAKOUT,
    BUTTON,
    CELL,
    CLOSES_P,
    FORMATTING,
    HEADING,
    HEADINGS,
    HTML,
    HTML_POINT,
    IGNORED,
    IMPLIED_ENDS,
    LIST,
    MARKERS,
    MATH_BOUNDARIES,
    NO_RECONSTRUCT,
    NOT_A_POINT,
    NOT_ADP,
    SCOPE,
    SECTIONS,
    SPECIAL,
    SVG_POINTS,
    TABLE_CTX,
    TABLE_PARTS,
    TEXT_POINT,
    VOID,
    OpenElements,
)

_FONT_BREAKOUT = re.compile(r"(?:^|[\t\n\f\r /])(?:color|face|size)(?=[\t\n\f\r /=]|$)", re.I)
_HTML_ENCODING = re.compile(
    r"(?:^|[\t\n\f\r /])encoding[\t\n\f\r ]*=[\t\n\f\r ]*[\"']?(?:text/html|application/xhtml\+xml)(?:[\"'\t\n\f\r /]|$)",
    re.I,
)


_HEAD_NOSCRIPT = "\x00noscript"  # a noscript in the head: closed as soon as anything but head content comes
_HEAD_CONTENT = frozenset(
    ["html", "head", "base", "basefont", "bgsound", "link", "meta", "title", "style", "script", "noframes", "noscript"]
)
_HEAD_NOSCRIPT_CONTENT = frozenset(["basefont", "bgsound", "link", "meta", "noframes", "style"])


def _template_mode(first: str) -> str:
    if first in ("col", "colgroup"):
        return "columns"
    return "table" if first in TABLE_PARTS else "body"


def _point(name: str, space: str, rest: str) -> int:
    if space == "svg":
        return HTML_POINT if name in SVG_POINTS else NOT_A_POINT
    if name == "annotation-xml":
        return HTML_POINT if _HTML_ENCODING.search(rest) else ANNOTATION
    return TEXT_POINT if name in MATH_BOUNDARIES else NOT_A_POINT


class TreeRules:
    """The parser's tree-construction rules, reduced to what moves the stack of open elements."""

    def __init__(self, limit: int, quirks: bool) -> None:
        self.stack = OpenElements(limit)
        # In quirks mode (no doctype, or not an html one) a table does not close an open p. A doctype html
        # with a legacy public id may still mean quirks: then p is closed here and not there, which errs low by
        # one element per table, never more.
        self.quirks = quirks
        # what the templates open (by stack position) hold, decided by their first start tag: "columns",
        # "table" (table parts) or "body" (anything else; table parts are then ignored)
        self.template_modes: dict[int, str] = {}
        self.head = True  # still in the document's head, where noscript, style, script ... are closed early

    # --- the head ---------------------------------------------------------------------

    def at_head(self) -> bool:
        """Whether the current node is the head (or a noscript in it)."""
        return self.head and (not self.stack.names or self.stack.names[-1] == _HEAD_NOSCRIPT)

    def leave_head(self) -> None:
        if self.stack.names:  # a noscript in the head
            self.stack.pop_to(0)
        self.head = False

    def head_start(self, name: str) -> bool | None:
        """A start tag in the head: True/False when the head takes it, None when it is for the body."""
        stack = self.stack
        if stack.names:  # in the head's noscript (scripting is off)
            if name in _HEAD_NOSCRIPT_CONTENT:
                return True
            stack.pop_to(0)
        if name in _HEAD_CONTENT:
            if name == "noscript":
                stack.push(_HEAD_NOSCRIPT)
            return True
        if name != "template":
            self.head = False
        return None

    def head_end(self, name: str) -> None:
        if self.stack.names:
            if name == "noscript":
                self.stack.pop_to(0)
            elif name == "br":
                self.leave_head()
        elif name in ("head", "body", "html", "br"):
            self.head = False

    # --- start tags ---------------------------------------------------------------

    def start(self, name: str, rest: str, self_closing: bool) -> bool:
        """Apply a start tag; True when the HTML rules handled it (so raw-text elements are raw text)."""
        stack = self.stack
        if self.head and self.at_head():
            taken = self.head_start(name)
            if taken is not None:
                return taken
        if stack.meta and stack.meta[-1][0] != "html" and not stack.html_rules_for(name):
            if name in BREAKOUT or (name == "font" and _FONT_BREAKOUT.search(rest)):
                while not stack.at_breakout_stop():
                    stack.pop_to(len(stack.names) - 1)
            else:
                if not self_closing:
                    space = stack.top_space()
                    stack.push(name, space, point=_point(name, space, rest))
                return False
        if stack.names and stack.names[-1] == "template":
            mode = self.template_modes.setdefault(len(stack.names) - 1, _template_mode(name))
            if mode == "columns" and name != "template":
                return False  # a template holding table columns ignores everything but columns
        if name in ("svg", "math"):
            stack.reconstruct()
            if not self_closing:
                stack.push(name, name)
            return True
        if name == "hr" or (name == "table" and not self.quirks):
            self.close_p()
        if name in ("input", "select") and self.in_scope(stack.pos("select")):
            stack.pop_to(stack.pos("select"))
            if name == "select":
                return True  # a select inside a select just closes it
        if name in TABLE_PARTS:
            self.table_part(name)
            return True
        if name in VOID or name in IGNORED:
            if name not in NO_RECONSTRUCT:
                stack.reconstruct()
            return True
        if name in CLOSES_P:
            self.close_p()
            if name == "li":
                self.close_list_item(stack.pos("li"))
            elif name in ("dd", "dt"):
                self.close_list_item(max(stack.pos("dd"), stack.pos("dt")))
            elif name in HEADINGS and stack.names and stack.names[-1] in HEADINGS:
                stack.pop_to(len(stack.names) - 1)
        elif name == "table":
            table = stack.pos("table")
            if (
                table >= 0
                and table == stack.top(TABLE_CTX)
                and stack.top(CELL) < table
                and stack.pos("caption") < table
            ):
                stack.pop_to(table, close_cells=True)  # <table> straight inside a table closes it
        elif name == "button" and self.in_scope(stack.pos("button")):
            stack.pop_to(stack.pos("button"))
        elif name == "a" and stack.last_entry("a") is not None:
            entry = stack.last_entry("a")
            self.end_formatting("a")
            if entry is not None and entry.alive:  # still there: the parser takes it out of list and stack
                if entry.index >= 0 and not entry.moved:
                    stack.remove(entry.index)
                stack.close_entry(entry)
        elif name == "nobr" and self.in_scope(stack.pos("nobr")):
            self.end_formatting("nobr")
        elif name in ("option", "optgroup"):
            if self.in_scope(stack.pos("select")):
                self.implied_ends(except_for="optgroup" if name == "option" else "")
            elif stack.names and stack.names[-1] == "option":
                stack.pop_to(len(stack.names) - 1)
        elif name in ("rb", "rtc", "rp", "rt") and self.in_scope(stack.pos("ruby")):
            self.implied_ends(except_for="rtc" if name in ("rp", "rt") else "")
        if name not in NO_RECONSTRUCT:
            stack.reconstruct()
        key = f"{name}\x00{rest}" if name in FORMATTING else ""  # alike only if written alike: errs high
        stack.push(name, "html", key)
        return True

    def text(self, blank: bool) -> None:
        """Text between tags: reopens the formatting elements closed implicitly (not blank text in a table)."""
        stack = self.stack
        if self.at_head():
            if blank:
                return
            self.leave_head()
        if stack.foreign() and not stack.at_breakout_stop():
            return
        if blank and stack.names and stack.names[-1] in ("table", "tbody", "thead", "tfoot", "tr"):
            return
        stack.reconstruct()

    def implied_ends(self, except_for: str = "") -> None:
        """The standard's "generate implied end tags": pop p, li, option ... while one is the current node."""
        stack = self.stack
        while stack.names and stack.names[-1] in IMPLIED_ENDS and stack.names[-1] != except_for:
            stack.pop_to(len(stack.names) - 1)

    def close_p(self) -> None:
        found = self.stack.positions.get("p")
        if found:
            p = found[-1]
            if p > self.stack.top(SCOPE) and p > self.stack.top(BUTTON):
                self.stack.pop_to(p)

    def close_list_item(self, item: int) -> None:
        # the parser walks down the stack to the item, stopping at a special element other than address, div, p
        if item >= 0 and item == self.stack.top(NOT_ADP):
            self.stack.pop_to(item)

    def in_scope(self, index: int) -> bool:
        """Whether the element at `index` is in (default) scope: no scope boundary above it."""
        return index >= 0 and index >= self.stack.top(SCOPE)

    def table_part(self, name: str) -> None:
        stack = self.stack
        context = stack.top(TABLE_CTX)
        if context < 0:
            return  # outside a table the parser ignores these
        if stack.names[context] == "template" and self.template_modes.get(context) == "body":
            return  # a template holding body content ignores table parts
        if name in ("colgroup", "col"):
            if stack.names[context] != "template":
                stack.pop_to(context + 1, close_cells=True)
                stack.push("colgroup")
            return
        if name == "caption":
            stack.pop_to(context + 1, close_cells=True)
            stack.push("caption")
            return
        section = max(stack.pos(s) for s in SECTIONS)
        row = stack.pos("tr")
        if name in SECTIONS:
            stack.pop_to(context + 1, close_cells=True)
            stack.push(name)
            return
        if name == "tr":
            if section > context:
                stack.pop_to(section + 1, close_cells=True)
            else:
                stack.pop_to(context + 1, close_cells=True)
                stack.push("tbody")
            stack.push("tr")
            return
        if row > context:  # td, th
            stack.pop_to(row + 1, close_cells=True)
        elif section > context:
            stack.pop_to(section + 1, close_cells=True)
            stack.push("tr")
        else:
            stack.pop_to(context + 1, close_cells=True)
            stack.push("tbody")
            stack.push("tr")
        stack.push(name)

    # --- end tags -------------------------------------------------------------------

    def end(self, name: str) -> None:
        stack = self.stack
        if self.head and self.at_head():
            self.head_end(name)
            return
        if self.template_modes and self.template_modes.get(len(stack.names) - 1) == "columns" and name != "template":
            return
        if stack.meta and stack.meta[-1][0] != "html":
            if name in ("br", "p"):
                while not stack.at_breakout_stop():
                    stack.pop_to(len(stack.names) - 1)
            else:
                match = max(stack.pos(f"svg:{name}"), stack.pos(f"math:{name}"))
                if match > stack.top(HTML):
                    stack.pop_to(match)
                    return
        if name in FORMATTING:
            self.end_formatting(name)
        elif name in ("td", "th", "tr", "caption", *SECTIONS):
            found = stack.pos(name)
            if found > stack.top(TABLE_CTX):
                stack.pop_to(found, close_cells=True)
        elif name == "table":
            found = stack.pos("table")
            if found >= 0 and found == stack.top(TABLE_CTX):
                stack.pop_to(found, close_cells=True)
        elif name in HEADINGS:
            heading = stack.top(HEADING)
            if self.in_scope(heading):
                stack.pop_to(heading)
        elif name == "p":
            self.close_p()
        elif name in ("dd", "dt"):
            item = stack.pos(name)
            if self.in_scope(item):
                stack.pop_to(item)
        elif name == "li":
            item = stack.pos("li")
            if self.in_scope(item) and item > stack.top(LIST):
                stack.pop_to(item)
        elif name == "form":
            if stack.names and stack.names[-1] == "form":
                stack.pop_to(len(stack.names) - 1)
        elif name in MARKERS:
            found = stack.pos(name)
            if found >= 0 and (name == "template" or self.in_scope(found)):
                stack.pop_to(found)
                stack.clear_level()
                for index in [index for index in self.template_modes if index >= found]:
                    del self.template_modes[index]
        elif name == "select":
            if self.in_scope(stack.pos("select")):
                stack.pop_to(stack.pos("select"))
        elif name in BLOCK_ENDS:
            found = stack.pos(name)
            if self.in_scope(found):
                stack.pop_to(found)
        else:
            found = stack.pos(name)
            if found >= 0 and found >= stack.top(SPECIAL):  # reached before any other special element
                stack.pop_to(found)

    def end_formatting(self, name: str) -> None:
        """The standard's adoption agency algorithm, as it moves the stack of open elements."""
        stack = self.stack
        for _ in range(8):
            entry = stack.last_entry(name)
            if entry is None:
                found = stack.pos(name)
                if found >= 0 and found >= stack.top(SPECIAL):
                    stack.pop_to(found)
                return
            if entry.index < 0:
                stack.close_entry(entry)
                return
            at = entry.index
            if not self.in_scope(at):
                return
            block = stack.first_special_above(at)
            if block < 0:  # no furthest block: pop up to and including the element (or its clone)
                stack.pop_to(at + 1 if entry.moved else at, closing=entry)
                if entry.moved:
                    entry.alive = False
                return
            counter = 0
            for between in range(block - 1, at, -1):  # the inner loop: what lies between stays only if formatting
                if not stack.names[between]:
                    continue
                counter += 1
                other = stack.entry_at(between)
                if other is not None and other.alive and counter > 3:
                    stack.close_entry(other)
                if other is None or not other.alive:
                    stack.remove(between)
            if not entry.moved:
                stack.remove(at)
            entry.index, entry.moved = block, True  # its clone goes just above the furthest block
        if entry is not None:  # eight rounds done: the clone stays somewhere in the stack; count it
            stack.make_dormant(entry)
