"""HTML nesting (issue 11, bug 2): refused before the HTML parser runs, and the pre-parse estimate holds up.

The estimate (docqa.ingest.html_depth) must never let markup nest much deeper
than it counts: each case below is held against the depth of the tree the
real parser (selectolax/lexbor) builds. The adversarial snippets are ones a
random search found while the model was being written; each made the
estimate stall while the real depth grew with every repetition.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from docqa.errors import ParseError
from docqa.ingest import parse_bytes
from docqa.ingest.html_depth import estimate_depth, scan_depth
from docqa.ingest.limits import ParseLimits
from tests import bombs

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def parser_depth(markup: str) -> int:
    """How deep the parser's tree nests below <body>, counting elements that hold an element."""
    tree = LexborHTMLParser(markup)
    deepest = 0
    pending = [(tree.root, -1)] if tree.root is not None else []
    while pending:
        node, depth = pending.pop()
        child = node.child
        while child is not None:
            if not child.tag.startswith(("-", "_", "!")):
                deepest = max(deepest, depth)
                pending.append((child, depth + 1))
            child = child.next
    return deepest


def holds(markup: str) -> tuple[int, int]:
    return parser_depth(markup), scan_depth(markup, 10**7)


# --- the case ----------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["div", "span", "b", "section", "font", "ul"])
def test_a_megabyte_nested_100000_deep_is_refused_naming_the_limit(tag: str) -> None:
    data = bombs.deep_html(100_000, tag)
    assert len(data) > 500_000
    with pytest.raises(ParseError) as caught:
        parse_bytes(data, "deep.html")
    assert caught.value.message == "deep.html: HTML nests deeper than 512 elements (max_html_depth)"
    assert caught.value.http_status == 422


@pytest.mark.parametrize(
    "unit",
    [
        "<table><tr><td>",
        "<svg><g>",
        "<math><mrow>",
        "<div><span>",
        "<ul><li>",
        "<dl><dd><div>",
        "<blockquote><p><em>",
        "<b><i><u><s>",
        "<select><optgroup>",
        "<object><marquee>",
        "<template><div>",
        "<span></span\xa0>",  # not </span>: the end tag's name is "span\xa0"
        "<b><div></b>",
        "<font color=red><div>x</font>",
    ],
)
def test_deep_nesting_of_any_kind_is_refused_before_parsing(unit: str) -> None:
    markup = "<!DOCTYPE html><html><body>" + unit * 20_000
    assert estimate_depth(markup, 512) == 513
    with pytest.raises(ParseError, match=r"max_html_depth"):
        parse_bytes(markup.encode(), "deep.html")


def test_the_limit_is_a_setting_and_the_tree_is_checked_again() -> None:
    data = bombs.deep_html(300)
    assert parse_bytes(data, "ok.html").text == "deep"
    with pytest.raises(ParseError, match=r"nests deeper than 100 elements \(max_html_depth\)"):
        parse_bytes(data, "deep.html", limits=ParseLimits(max_html_depth=100))


def test_the_walk_no_longer_depends_on_pythons_recursion_limit() -> None:
    assert parse_bytes(bombs.deep_html(510, "section"), "a.html").text == "deep"  # failed at ~490 before


def test_siblings_are_not_depth() -> None:
    siblings = ("<p>x", "<li>x", "<option>x", "<td>x", "<tr><td>x", "<dt>a<dd>b", "<p><b>x</p>", "<a><p></a>")
    for unit in (*siblings, "<font color=red><p>x</font>", "<table></table>"):
        markup = "<!DOCTYPE html><body><ul><table>" + unit * 5_000
        assert scan_depth(markup, 512) < 20, unit


def test_markdown_keeps_embedded_html_as_text() -> None:
    source = b"# Title\n\n" + bombs.deep_html(100_000) + b"\n"
    doc = parse_bytes(source, "notes.md")
    assert doc.content_type == "text/markdown" and doc.text.startswith("# Title")


# --- real pages stay far below the limit ---------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.html")))
def test_real_pages_nest_shallowly(path: Path) -> None:
    markup = path.read_text(encoding="utf-8")
    body = markup[markup.index("<body") : markup.rindex("</body>")]
    big = markup.replace(body, body * 50)  # thousands of tags: the full scan runs
    depth, estimate = holds(big)
    assert depth <= estimate < 40


def test_legacy_markup_does_not_pile_up() -> None:
    # unclosed <p>, <li>, <td>, <font> in cells, <p><font>..</p> as Word exports it, quirks-mode tables in p
    legacy = (
        "<html><body><table>"
        + "<tr><td><font face=Arial>cell<td><b>bold cell</table>" * 0
        + "<tr><td><font face=Arial>cell<td><b>bold" * 400
        + "</table>"
        + "<p><font face=Arial size=2>Word paragraph</p>" * 400
        + "<ul><li>one<li>two</ul><p>para<p>para" * 200
        + "<p><table><tr><td>x</table>" * 200
    )
    depth, estimate = holds(legacy)
    assert depth <= estimate < 30


# --- the estimate holds against the parser -----------------------------------------------------

ADVERSARIAL = [
    "<dd>><ul color=red /></dd><article b='q'><div x=/>--><ol a=1/>--></ul><div c><option class=\"x\"><path>",
    "<select class=\"x\"><a b='q' /><em d=\"a>b\"/><input x=/><select x=/ /></em><span color=red/></a><desc b='q'>",
    '<dt color=red /><h1 a=1></DT><td<object a=1><ol d="a>b"><rt></h2><path color=red/><a class="x"/><optgroup>',
    "<template d=\"a>b\"/><a color=red><thead c/><svg x=/></THEAD><plaintext></template><desc b='q'/><OPTGROUP>",
    '<noscript x=/><math class="x"></NOSCRIPT><xmp a=1/><noscript class="x"><path x=//>',
    '<math d="a>b"><mi><foreignObject c /></mi><desc b=\'q\'/><foreignObject d="a>b">',
    '<select a=1><h1 class="x"></select><UL><path x=//><dl a=1/></h1><pre c><span color=red/><NOBR d="a>b">',
    '<table d="a>b"><td a=1 /><svg color=red></th><col d="a>b"><xmp d="a>b" />',
    "<A b='q' /><TEMPLATE color=red><caption c/></template><path b='q'><DT color=red></a><div x=/><article>",
    '<p a=1/><xmp>>--></xmp>]]> <span b=\'q\'><desc b=\'q\'><h2 class="x" /><noscript d="a>b" /><b class="x" />',
    '<a b=\'q\'><b class="x"></a><math c></B><object><em a=1><font class="x"><img x=//>',
    "<p>--><hr b='q'><span b='q'><optgroup x=/ /><dt color=red><pre/><xmp a=1>",
    "<ruby color=red/><li class=\"x\"><rp b='q'/><foreignObject x=//></li><ul /><B b='q'><rp class=\"x\">",
    '<template a=1 /><col /><TEXTAREA c></template><option x=/><em d="a>b">&amp;<b a=1><ol color=red>',
    "<b id=1><div></b></div>x<b id=2><div></b></div>x",
    "<div><script><!--<script></script></div></div></script>",
    "<svg><![CDATA[ > </g></g> ]]><g>",
]


def _bounded(markup: str) -> None:
    depth, estimate = holds(markup)
    assert depth <= 1.6 * estimate + 10, (depth, estimate, markup[:200])


@pytest.mark.parametrize("snippet", ADVERSARIAL)
def test_adversarial_markup_repeated_is_still_counted(snippet: str) -> None:
    _bounded(snippet * 60)


_TAGS = [
    "div",
    "span",
    "p",
    "li",
    "ul",
    "ol",
    "b",
    "i",
    "a",
    "font",
    "table",
    "tr",
    "td",
    "th",
    "tbody",
    "thead",
    "caption",
    "colgroup",
    "col",
    "svg",
    "g",
    "path",
    "math",
    "mi",
    "mtext",
    "foreignObject",
    "desc",
    "title",
    "script",
    "style",
    "template",
    "select",
    "option",
    "optgroup",
    "form",
    "button",
    "h1",
    "h2",
    "object",
    "marquee",
    "nobr",
    "dd",
    "dt",
    "dl",
    "ruby",
    "rt",
    "rp",
    "textarea",
    "noscript",
    "pre",
    "em",
    "strong",
    "section",
    "article",
    "img",
    "br",
    "hr",
    "input",
    "iframe",
    "xmp",
]
_ATTRS = ["", " a=1", ' class="x"', " x=/", " color=red", " b='q'", " c", ' d="a>b"']
_OTHER = ["x", " ", "<!-- c -->", "-->", "<![CDATA[ ]]>", "]]>", "&amp;", "<!-->", "</script>", "<", ">", '"', "<td"]


def _soup(rng: random.Random, tokens: int) -> str:
    out = []
    for _ in range(tokens):
        name = rng.choice(_TAGS)
        name = name.upper() if rng.random() < 0.1 else name
        roll = rng.random()
        if roll < 0.45:
            out.append(f"<{name}{rng.choice(_ATTRS)}{rng.choice(['>', '>', '>', '/>', ' />'])}")
        elif roll < 0.85:
            out.append(f"</{name}>")
        elif rng.random() < 0.03:
            out.append(rng.choice(["<!--", "<script>", "<style>", "<textarea>", "<plaintext>", "<!-- <script>"]))
        else:
            out.append(rng.choice(_OTHER))
    return "".join(out)


@pytest.mark.parametrize("seed", range(4))
def test_random_markup_repeated_is_still_counted(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        _bounded(_soup(rng, rng.randint(5, 60)) * 20)
