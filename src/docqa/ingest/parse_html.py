"""HTML parser: the main text only, as blocks, with headings kept as headings.

Dropped: script, style, templates, forms' controls, navigation, page
header/footer (an `<article>`'s own header/footer is kept) and asides. When
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
    "script, style, noscript, template, nav, aside, iframe, svg, canvas, button, select, "
    "input, textarea, dialog, [hidden], [aria-hidden=true], [role=navigation], "
    "[role=banner], [role=contentinfo], [role=search], [role=complementary]"
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_PARAGRAPHS = {"p", "blockquote", "dt", "dd", "figcaption", "caption", "address", "summary", "legend"}
_CONTAINERS = {
    "div",
    "section",
    "article",
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
_SPACES = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_\-]+)", re.I)


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
            title = _squash(self.take(node.text(deep=True, separator=" ")))
            self.out.add(title, "heading", level=_HEADINGS[tag], title=title)
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
            self.inline.append(self.take(node.text(deep=True, separator="")))
        return False

    def list_block(self, node: LexborNode, ordered: bool) -> None:
        items: list[str] = []
        for child in node.iter(include_text=False):
            if child.tag != "li":
                continue
            text = _squash(self.take(child.text(deep=True, separator=" ")))
            if text:
                marker = f"{len(items) + 1}." if ordered else "-"
                items.append(f"{marker} {text}")
        self.out.add("\n".join(items), "list")

    def table(self, node: LexborNode) -> None:
        rows: list[str] = []
        for row in node.css("tr"):
            cells = [_squash(self.take(cell.text(deep=True, separator=" "))) for cell in row.css("th, td")]
            if any(cells):
                rows.append(" | ".join(cells))
        self.out.add("\n".join(rows), "table")


def _drop_chrome(tree: LexborHTMLParser) -> None:
    for node in tree.css(_ALWAYS_DROP):
        node.decompose()
    for node in tree.css("header, footer"):  # an article's or main's own header and footer are content
        if not node.css_matches("article header, article footer, main header, main footer"):
            node.decompose()


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
    )
