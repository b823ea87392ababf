"""HTML parser: the main text only, as blocks, with headings kept as headings.

Dropped: script, style, templates, forms' controls, navigation, page
header/footer (an `<article>`'s own header/footer is kept), complementary
regions that are not `<aside>`, asides made mostly of links (a list of related
posts, a table of contents), navigation blocks of documentation generators
(a page's contents list, prev/next bars, breadcrumbs: mostly links) and permalink anchors (the `¶` documentation
generators put after headings). Kept: `<aside>` text (abstracts, footnotes,
topics, sidebars), code verbatim (`<pre>` as written; inline text joined as
written, without spaces between highlighted tokens), list structure (one line
per item, nested lists indented, code inside an item kept as its lines). When
the page has one `<main>` (or `role=main`), only its content is taken.

Nesting is checked twice against `max_html_depth`: on the markup before the
parser builds a tree (html_depth, because tree building is quadratic in the
depth), and by the extractor as it walks the tree (iteratively, so Python's
recursion limit plays no part). Extracted text is bounded by `max_text_chars`,
counting every piece of text taken from the tree.
"""

from __future__ import annotations

import codecs
import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from docqa.errors import ParseError
from docqa.ingest.document import CT_HTML, ParsedDocument, TextBuilder
from docqa.ingest.html_depth import check_html_depth, depth_error
from docqa.ingest.limits import DEFAULT_LIMITS, ParseLimits, check_text_length
from docqa.ingest.parse_text import decode_text, default_title

_ALWAYS_DROP = (
    "script, style, noscript, template, nav, iframe, svg, canvas, button, select, "
    "input, textarea, dialog, [hidden], [aria-hidden=true], [role=navigation], "
    "[role=banner], [role=contentinfo], [role=search], .navheader, .navfooter"
)
_PERMALINKS = "a.headerlink, a.anchorjs-link, a.header-anchor, a.anchor-link, a.permalink"
_PERMALINK_SIGNS = frozenset(["", "¶", "§", "#", "🔗", "⚓", "\u2693\ufe0f", "link"])
_PERMALINK_TAIL = re.compile(r"\s*[¶🔗⚓\ufe0f]+\s*$")
ASIDE_LINK_SHARE = 0.6  # an aside whose text is mostly link text is navigation (related posts, a contents list)
# Navigation that documentation generators write as plain blocks (DocBook, Sphinx, Javadoc...): a page's table of
# contents, breadcrumbs, pagination. Dropped when mostly links, like a link-only aside. (DocBook's prev/next bars,
# .navheader/.navfooter, hold page titles as plain text: always dropped.)
_LINK_BLOCKS = "aside, .toc, .contents, .breadcrumb, .breadcrumbs, .pagination, [role=doc-toc]"
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# A box inside a section ("Note", "Tip", "Warning": DocBook titles it with a heading of the sections' own rank) is
# a heading below every section level, so its path is "Section > Subsection > Note", not "Section > Note" (a
# sibling of the subsection it sits in, which then lost its title). It still starts a chunk of its own.
BOX_LEVEL = 7
_ADMONITIONS = frozenset(
    ["note", "tip", "warning", "caution", "important", "attention", "hint", "danger", "admonition"]
)
_PARAGRAPHS = {"p", "blockquote", "dt", "dd", "figcaption", "caption", "address", "summary", "legend"}
_CONTAINERS = {
    "div",
    "section",
    "article",
    "aside",
    "main",
    "body",
    "figure",
    "details",
    "fieldset",
    "form",
    "center",
    "dl",
    "header",
    "footer",
    "hgroup",
    "search",
}
_LISTS = {"ul", "ol", "menu"}
_SKIP = {"-comment", "head", "title", "meta", "link", "base", "img", "hr", "video", "audio", "object", "embed"}
_BLOCKS = (
    _PARAGRAPHS | _CONTAINERS | _LISTS | set(_HEADINGS) | {"li", "pre", "table", "tr", "td", "th", "caption", "dl"}
)
_INDENT = "  "
_SPACES = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_\-]+)", re.I)


def _in_admonition(heading: LexborNode) -> bool:
    """Whether `heading` titles a note/tip/warning box: its parent element has such a class."""
    box = heading.parent
    return box is not None and bool(set((box.attributes.get("class") or "").lower().split()) & _ADMONITIONS)


def _squash(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def decode_html(data: bytes, filename: str) -> str:
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        try:
            encoding = codecs.lookup(declared.group(1).decode("ascii")).name
        except LookupError:
            encoding = ""
        if encoding and encoding not in ("utf-8", "utf-16", "ascii"):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                try:
                    return data.decode(encoding).replace("\r\n", "\n")
                except UnicodeDecodeError:
                    pass
    return decode_text(data, filename)


class _Extractor:
    def __init__(self, filename: str, limits: ParseLimits) -> None:
        self.out = TextBuilder(filename, limits.max_text_chars)
        self.inline: list[str] = []
        self.filename = filename
        self.limits = limits
        self.taken = 0  # characters taken from the tree so far, repeats included

    def take(self, text: str) -> str:
        self.taken += len(text)
        check_text_length(self.taken, self.filename, self.limits.max_text_chars)
        return text

    def flush(self) -> None:
        text = _squash("".join(self.inline))
        self.inline.clear()
        self.out.add(text, "paragraph")

    def walk(self, root: LexborNode) -> None:
        """Visit the tree under `root` in document order, descending into blocks without recursion."""
        pending = [root.iter(include_text=True)]
        while pending:
            child = next(pending[-1], None)
            if child is None:
                pending.pop()
                self.flush()
            elif self.visit(child):
                if len(pending) >= self.limits.max_html_depth:
                    raise depth_error(self.filename, self.limits.max_html_depth)
                self.flush()
                pending.append(child.iter(include_text=True))

    def visit(self, node: LexborNode) -> bool:
        """Take the text of `node`; True when it is a block whose children are to be visited in turn."""
        tag = node.tag or ""
        if tag == "-text":
            self.inline.append(self.take(node.text(deep=False) or ""))
        elif tag == "br":
            self.inline.append("\n")
        elif tag in _SKIP:
            return False
        elif tag in _HEADINGS:
            self.flush()
            title = _PERMALINK_TAIL.sub("", _squash(self.inline_text(node)))
            level = BOX_LEVEL if _in_admonition(node) else _HEADINGS[tag]
            self.out.add(title, "heading", level=level, title=title)
        elif tag in _LISTS:
            self.flush()
            self.list_block(node, ordered=tag == "ol")
        elif tag == "pre":
            self.flush()
            self.out.add(self.take(node.text(deep=True)).strip("\n"), "code")
        elif tag == "table":
            self.flush()
            self.table(node)
        elif tag in _PARAGRAPHS or tag in _CONTAINERS or tag == "li":
            return True
        else:  # inline element
            self.inline.append(self.inline_text(node))
        return False

    def flow(self, node: LexborNode, stops: frozenset[str] = frozenset()) -> list[str | LexborNode]:
        """The content under `node` in order: runs of inline text (text nodes joined as written, a space
        where a block starts or ends, a newline for <br>), and the descendants whose tag is in `stops`."""
        out: list[str | LexborNode] = []
        run: list[str] = []
        pending = [node.iter(include_text=True)]
        closes = [False]  # whether the element being walked at each level is a block (a space after it)
        while pending:
            child = next(pending[-1], None)
            if child is None:
                pending.pop()
                if closes.pop():
                    run.append(" ")
                continue
            tag = child.tag or ""
            if tag == "-text":
                run.append(self.take(child.text(deep=False) or ""))
            elif tag == "br":
                run.append("\n")
            elif tag in _SKIP:
                continue
            elif tag in stops:
                out.append("".join(run))
                run = []
                out.append(child)
            else:
                if len(pending) >= self.limits.max_html_depth:
                    raise depth_error(self.filename, self.limits.max_html_depth)
                block = tag in _BLOCKS
                if block:
                    run.append(" ")
                pending.append(child.iter(include_text=True))
                closes.append(block)
        out.append("".join(run))
        return [part for part in out if not isinstance(part, str) or part.strip()]

    def inline_text(self, node: LexborNode) -> str:
        return "".join(part for part in self.flow(node) if isinstance(part, str))

    def list_block(self, node: LexborNode, ordered: bool) -> None:
        """One line per item ("- text", "1. text"; an item's paragraphs joined), a nested list indented under
        its item, code inside an item as its own lines (indented, whitespace kept)."""
        lines: list[str] = []
        tasks: list[tuple[int, str | LexborNode, bool]] = [(0, node, ordered)]  # (depth, line or list, ordered)
        while tasks:
            depth, task, is_ordered = tasks.pop()
            if isinstance(task, str):
                lines.append(task)
                continue
            if depth >= self.limits.max_html_depth:
                raise depth_error(self.filename, self.limits.max_html_depth)
            expanded: list[tuple[int, str | LexborNode, bool]] = []
            number = 0
            for item in task.iter(include_text=False):
                if item.tag != "li":
                    continue
                number += 1
                marker = f"{number}." if is_ordered else "-"
                expanded.extend(self.list_item(item, depth, marker))
            tasks.extend(reversed(expanded))
        self.out.add("\n".join(lines), "list")

    def list_item(self, item: LexborNode, depth: int, marker: str) -> list[tuple[int, str | LexborNode, bool]]:
        indent = _INDENT * depth
        out: list[tuple[int, str | LexborNode, bool]] = []
        first = True
        for part in self.flow(item, frozenset(_LISTS | {"pre"})):
            if isinstance(part, str):
                text = _squash(part)
                out.append((depth, f"{indent}{marker} {text}" if first else f"{indent}{_INDENT}{text}", False))
                first = False
            elif part.tag == "pre":
                code = self.take(part.text(deep=True)).strip("\n")
                out.extend((depth, f"{indent}{_INDENT}{line}".rstrip(), False) for line in code.split("\n"))
                first = False
            else:
                if first:
                    out.append((depth, f"{indent}{marker}", False))
                    first = False
                out.append((depth + 1, part, part.tag == "ol"))
        if first:
            out.append((depth, f"{indent}{marker}", False))
        return out

    def table(self, node: LexborNode) -> None:
        rows: list[str] = []
        for row in node.css("tr"):
            cells = [_squash(self.inline_text(cell)) for cell in row.css("th, td")]
            if any(cells):
                rows.append(" | ".join(cells))
        self.out.add("\n".join(rows), "table")


def _drop_chrome(tree: LexborHTMLParser) -> None:
    for node in tree.css(_ALWAYS_DROP):
        node.decompose()
    for node in tree.css("[role=complementary]"):
        if node.tag != "aside":
            node.decompose()
    for node in tree.css(_PERMALINKS):
        node.decompose()
    for node in tree.css("h1 a, h2 a, h3 a, h4 a, h5 a, h6 a"):
        href = node.attributes.get("href") or ""
        if href.startswith("#") and _squash(node.text(deep=True)).casefold() in _PERMALINK_SIGNS:
            node.decompose()
    for node in tree.css(_LINK_BLOCKS):
        if _mostly_links(node):
            node.decompose()
    for node in tree.css("header, footer"):  # an article's or main's own header and footer are content
        if not node.css_matches("article header, article footer, main header, main footer"):
            node.decompose()


def _mostly_links(node: LexborNode) -> bool:
    total = len(_squash(node.text(deep=True)))
    linked = sum(len(_squash(a.text(deep=True))) for a in node.css("a"))
    return total > 0 and linked >= ASIDE_LINK_SHARE * total


def _content_root(tree: LexborHTMLParser) -> LexborNode | None:
    mains = tree.css("main, [role=main]")
    if len(mains) == 1:
        return mains[0]
    return tree.body


def parse_html(data: bytes, filename: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    markup = decode_html(data, filename)
    check_html_depth(markup, filename, limits.max_html_depth)
    try:
        tree = LexborHTMLParser(markup)
    except Exception as exc:  # selectolax raises plain exceptions for parser failures
        raise ParseError(f"{filename}: could not parse HTML ({exc})", filename=filename) from exc
    title_node = tree.css_first("title")
    page_title = _squash(title_node.text()) if title_node else ""
    _drop_chrome(tree)
    root = _content_root(tree)
    extractor = _Extractor(filename, limits)
    if root is not None:
        extractor.walk(root)
    text = extractor.out.text()
    if not text.strip():
        raise ParseError(
            f"{filename}: HTML page has no visible text (only markup, scripts or navigation)", filename=filename
        )
    sections = extractor.out.sections
    first_heading = next((s.title for s in sections if s.kind == "heading" and s.level == 1), "")
    return ParsedDocument(
        text=text,
        content_type=CT_HTML,
        title=page_title or first_heading or default_title(filename),
        sections=sections,
        declared_title=page_title,
    )
