"""How deep HTML nests, estimated from the markup before the HTML parser sees it.

The HTML parser's tree building is quadratic in the nesting depth (start tags
such as `<div>` look down the whole stack of open elements), so 100,000 nested
elements (~1 MB) kept it busy for minutes before docqa's guard could run. This
scan refuses such input in linear time, stopping as soon as the limit is
passed.

It tokenizes like the HTML standard (comments, doctype, quoted attributes,
raw-text elements such as script and style, script escapes, CDATA in SVG and
MathML) and replays the standard's tree-construction rules on a model of the
parser's stack of open elements (html_rules, html_stack): implied end tags,
scopes, tables, select, templates, SVG and MathML, and the list of active
formatting elements (the parser reopens `<b>` and `<font>` closed implicitly,
and the adoption agency algorithm moves them). The model must never pop an
element the parser keeps: one stale element popped later takes everything
above it along, and markup could then nest without being counted. Where a rule
is simplified it keeps elements open instead, so the estimate errs high; real
pages nest 10-50 deep, far below the 512-element default.
tests/test_html_depth.py holds the estimate against the parser's own tree on
random and adversarial markup. The parsed tree is checked again (parse_html).
"""

from __future__ import annotations

import re

from docqa.errors import ParseError
from docqa.ingest.html_rules import TreeRules
from docqa.ingest.html_stack import RAW_TEXT, DepthExceeded

_SEPARATOR = r"[\t\n\f\r /]+"
_ATTRIBUTE = r"[^\t\n\f\r />][^\t\n\f\r />=]*(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"[^\"]*\"|'[^']*'|[^\t\n\f\r >]*))?"
# No capturing group inside the possessive repeat: CPython 3.11's re mishandles those.
_TAG = re.compile(rf"([A-Za-z][^\t\n\f\r />]*)((?:{_SEPARATOR}|{_ATTRIBUTE})*+)>")
_ATTRIBUTES = re.compile(rf"({_SEPARATOR})|{_ATTRIBUTE}")
_DOCTYPE_HTML = re.compile(r"<!doctype[\t\n\f\r ]+html[\t\n\f\r >]", re.I)
_BLANK = "\t\n\f\r "
_BLANKS = re.compile(r"[\t\n\f\r ]*")
_COMMENT_END = re.compile(r"--!?>")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SCRIPT_TOKEN = re.compile(r"<!--|-->|<(/?)script(?=[\t\n\f\r />])", re.I | re.A)


def _lower(name: str) -> str:
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)  # ASCII only, as the tokenizer


def _quirks(markup: str) -> bool:
    """No `<!DOCTYPE html>` before the first element (after blanks, comments and `<?...>`): quirks mode."""
    position = 0
    while True:
        position = _BLANKS.match(markup, position).end()  # type: ignore[union-attr]
        if markup.startswith("<!--", position):
            end = markup.find("-->", position + 4)
            if end < 0:
                return True
            position = end + 3
        elif markup.startswith("<?", position):
            end = markup.find(">", position)
            if end < 0:
                return True
            position = end + 1
        else:
            return not _DOCTYPE_HTML.match(markup, position)


def _ends_in_separator(rest: str) -> bool:
    """Whether the final "/" of a tag is the self-closing mark, not the end of an unquoted attribute value."""
    last = None
    for last in _ATTRIBUTES.finditer(rest):  # noqa: B007
        pass
    return last is not None and last.group(1) is not None


def _skip_script(markup: str, start: int) -> int:
    """The position of the `</script` that ends script data starting at `start`, or -1 (the standard's escapes)."""
    state = "data"  # data, escaped, double
    position = start
    while True:
        match = _SCRIPT_TOKEN.search(markup, position)
        if match is None:
            return -1
        token = match.group(0)
        position = match.start() + (2 if token == "<!--" else len(token))
        if token == "<!--":
            if state == "data":
                state = "escaped"
        elif token == "-->":
            state = "data"
        elif match.group(1):  # </script
            if state == "double":
                state = "escaped"
            else:
                return match.start()
        elif state == "escaped":  # <script inside an escaped script
            state = "double"


def _raw_text_end(markup: str, name: str, start: int) -> int:
    if name == "script":
        return _skip_script(markup, start)
    match = re.compile(rf"</{name}(?=[\t\n\f\r />])", re.I | re.A).search(markup, start)
    return match.start() if match else -1


def estimate_depth(markup: str, limit: int) -> int:
    """An upper estimate of how deep `markup` nests; `limit + 1` as soon as it is known to pass `limit`."""
    tags = markup.count("<")
    if tags <= limit:
        return tags  # every open element takes a tag
    return scan_depth(markup, limit)


def scan_depth(markup: str, limit: int) -> int:
    """The deepest the modelled stack of open elements gets, stopping at `limit + 1`."""
    builder = TreeRules(limit, quirks=_quirks(markup))
    stack = builder.stack
    position = 0
    length = len(markup)
    try:
        while True:
            start = markup.find("<", position)
            if start < 0 or start + 1 >= length:
                break
            if start > position and (builder.head or stack.levels[-1].waiting):  # text matters only then
                builder.text(not markup[position:start].strip(_BLANK))
            after = markup[start + 1]
            if after in _LETTERS:
                tag = _TAG.match(markup, start + 1)
                if tag is None:
                    break  # a start tag that runs to the end of the file: the parser drops it
                name = _lower(tag.group(1))
                rest = tag.group(2)
                self_closing = rest.endswith("/") and _ends_in_separator(rest)
                as_html = builder.start(name, rest, self_closing)
                position = tag.end()
                if name in RAW_TEXT and as_html:
                    position = _raw_text_end(markup, name, position)
                    if position < 0:
                        break
                elif name == "plaintext" and as_html:
                    break
            elif after == "/":
                tag = _TAG.match(markup, start + 2)
                if tag is not None:
                    builder.end(_lower(tag.group(1)))
                    position = tag.end()
                elif markup.startswith(">", start + 2):
                    position = start + 3
                elif start + 2 < length and markup[start + 2] in _LETTERS:
                    break  # an end tag that runs to the end of the file
                else:
                    end_at = markup.find(">", start + 2)
                    if end_at < 0:
                        break
                    position = end_at + 1
            elif markup.startswith("!--", start + 1):
                if markup.startswith(">", start + 4) or markup.startswith("->", start + 4):
                    position = markup.index(">", start + 4) + 1
                    continue
                comment_end = _COMMENT_END.search(markup, start + 4)
                if comment_end is None:
                    break
                position = comment_end.end()
            elif after in "!?":
                if stack.foreign() and markup.startswith("![CDATA[", start + 1):
                    end_at = markup.find("]]>", start + 9)
                    position = end_at + 3
                else:
                    end_at = markup.find(">", start + 2)
                    position = end_at + 1
                if end_at < 0:
                    break
            else:
                if builder.head or stack.levels[-1].waiting:
                    builder.text(False)  # a "<" that starts no tag is text
                position = start + 1
    except DepthExceeded:
        return limit + 1
    return stack.deepest


def depth_error(filename: str, limit: int) -> ParseError:
    return ParseError(
        f"{filename}: HTML nests deeper than {limit} elements (max_html_depth)", filename=filename, limit=limit
    )


def check_html_depth(markup: str, filename: str, limit: int) -> None:
    """Refuse markup nesting deeper than `limit` (ParseError naming `max_html_depth`), before it is parsed."""
    if estimate_depth(markup, limit) > limit:
        raise depth_error(filename, limit)
