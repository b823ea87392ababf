"""Dev-only: regenerate the binary samples (PDF, DOCX) from the sources beside this script.

    .venv/bin/pip install fpdf2        # dev tool only, not a project dependency
    .venv/bin/python samples/tools/make_samples.py

Sources are `*.src` files in a tiny markup: `# `, `## `, `### ` headings,
`- ` bullets, `| a | b |` table rows, blank lines between paragraphs. The
output is deterministic (fixed creation dates), so re-running it only
changes the binaries when a source changed.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent
FIXED_DATE = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc)

PDFS = {"medication-storage-policy.src": "medication-storage-policy.pdf",
        "bicycle-maintenance-manual.src": "bicycle-maintenance-manual.pdf"}
DOCXS = {"discharge-checklist.src": "discharge-checklist.docx",
         "data-retention-policy.src": "data-retention-policy.docx"}

Block = tuple[str, object]  # ("h1".."h3", text) | ("p", text) | ("ul", [items]) | ("table", [[cells]])


def read_blocks(path: Path) -> tuple[str, list[Block]]:
    title, blocks = "", []
    for chunk in path.read_text(encoding="utf-8").strip().split("\n\n"):
        lines = [line.rstrip() for line in chunk.strip().split("\n")]
        first = lines[0]
        if first.startswith("#"):
            marks, text = first.split(" ", 1)
            blocks.append((f"h{len(marks)}", text.strip()))
            title = title or text.strip()
        elif first.startswith("- "):
            blocks.append(("ul", [line[2:].strip() for line in lines]))
        elif first.startswith("|"):
            blocks.append(("table", [[c.strip() for c in line.strip("|").split("|")] for line in lines]))
        else:
            blocks.append(("p", " ".join(lines)))
    return title, blocks


def write_pdf(title: str, blocks: list[Block], target: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(title)
    pdf.set_author("docqa sample corpus")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    flow = {"new_x": "LMARGIN", "new_y": "NEXT"}
    sizes = {"h1": 18, "h2": 14, "h3": 12}
    for kind, body in blocks:
        if kind in sizes:
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", sizes[kind])
            pdf.multi_cell(0, sizes[kind] * 0.5, str(body), **flow)
            pdf.ln(1.5)
        elif kind == "p":
            pdf.set_font("Helvetica", "", 10.5)
            pdf.multi_cell(0, 5.2, str(body), **flow)
            pdf.ln(2.5)
        elif kind == "ul":
            pdf.set_font("Helvetica", "", 10.5)
            for item in body:  # type: ignore[union-attr]
                pdf.multi_cell(0, 5.2, f"- {item}", **flow)
            pdf.ln(2.5)
        elif kind == "table":
            pdf.set_font("Helvetica", "", 9.5)
            with pdf.table(text_align="LEFT", line_height=5) as table:
                for row in body:  # type: ignore[union-attr]
                    cells = table.row()
                    for cell in row:
                        cells.cell(cell)
            pdf.ln(3)
    pdf.output(str(target))


def write_docx(title: str, blocks: list[Block], target: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = "docqa sample corpus"
    document.core_properties.created = FIXED_DATE.replace(tzinfo=None)
    document.core_properties.modified = FIXED_DATE.replace(tzinfo=None)
    for kind, body in blocks:
        if kind == "h1":
            document.add_heading(str(body), level=0)  # the Title style
        elif kind in ("h2", "h3"):
            document.add_heading(str(body), level=int(kind[1]) - 1)
        elif kind == "p":
            document.add_paragraph(str(body))
        elif kind == "ul":
            for item in body:  # type: ignore[union-attr]
                document.add_paragraph(item, style="List Bullet")
        elif kind == "table":
            rows = body  # type: ignore[assignment]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))  # type: ignore[arg-type]
            table.style = "Table Grid"
            for r, row in enumerate(rows):  # type: ignore[arg-type]
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
    buffer = io.BytesIO()
    document.save(buffer)
    target.write_bytes(_stable_zip(buffer.getvalue()))


def _stable_zip(data: bytes) -> bytes:
    """The same archive with fixed timestamps, so unchanged sources give identical bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            stable = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE.timetuple()[:6])
            stable.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(stable, source.read(info.filename))
    return out.getvalue()


def main() -> int:
    for source, name in PDFS.items():
        title, blocks = read_blocks(HERE / source)
        write_pdf(title, blocks, SAMPLES / name)
        print("wrote", name)
    for source, name in DOCXS.items():
        title, blocks = read_blocks(HERE / source)
        write_docx(title, blocks, SAMPLES / name)
        print("wrote", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
