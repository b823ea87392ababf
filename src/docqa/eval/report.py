"""The evaluation report as tables for people (pure): retrieval per mode, and answers per split."""

from __future__ import annotations

from typing import Any

RETRIEVAL_COLUMNS = ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "latency_ms_p50"]
# (report key, column title, shown as a percentage)
ANSWER_COLUMNS = [
    ("questions", "questions", False),
    ("key_phrase_in_answer", "key phrase %", True),
    ("answer_chars_p50", "chars p50", False),
    ("answer_chars_p95", "chars p95", False),
    ("top_citation_expected_file", "top cite %", True),
    ("unanswerable", "unanswerable", False),
    ("unanswerable_refused", "refused %", True),
    ("false_refusals", "false refusal %", True),
]


def _cell(value: Any, percent: bool, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if percent:
        return f"{value * 100:>{width}.1f}"
    return f"{value:>{width}}"


def retrieval_table(report: dict[str, Any]) -> list[str]:
    lines = [f"{'mode':8} " + " ".join(f"{c:>14}" for c in RETRIEVAL_COLUMNS)]
    for mode, metrics in report["modes"].items():
        lines.append(f"{mode:8} " + " ".join(f"{metrics[c]:>14.3f}" for c in RETRIEVAL_COLUMNS))
    splits = report.get("by_split") or {}
    if splits:
        modes = list(report["modes"])
        lines.append("")
        lines.append(f"{'split':8} " + " ".join(f"{m + ' r@1':>16} {m + ' r@5':>16}" for m in modes))
        for name, part in splits.items():
            cells = " ".join(
                f"{part['modes'][m]['recall@1']:>16.3f} {part['modes'][m]['recall@5']:>16.3f}" for m in modes
            )
            lines.append(f"{name:8} {cells}")
    return lines


def answer_table(qa: dict[str, Any]) -> list[str]:
    widths = [max(len(title), 9) for _, title, _ in ANSWER_COLUMNS]
    lines = [f"{'answers':8} " + " ".join(f"{title:>{w}}" for (_, title, _), w in zip(ANSWER_COLUMNS, widths))]
    parts = {"all": qa, **(qa.get("by_split") or {})}
    for name, part in parts.items():
        cells = " ".join(_cell(part.get(key), pct, w) for (key, _, pct), w in zip(ANSWER_COLUMNS, widths))
        lines.append(f"{name:8} {cells}")
    lines.append(
        f"floor {qa['floor']}; answered {_cell(qa['answered'], True, 0).strip()}%, "
        f"first citation relevant {_cell(qa['cited_relevant'], True, 0).strip()}%, "
        f"passage word recall {_cell(qa['passage_recall'], True, 0).strip()}% (chars: found answers only)"
    )
    return lines


def format_table(report: dict[str, Any]) -> str:
    """Retrieval metrics per mode (and recall@1/5 per split), then answer metrics per split with `qa`."""
    label = f"{report['corpus']}: " if report.get("corpus") else ""
    split = f", split {report['split']}" if report.get("split") else ""
    lines = retrieval_table(report)
    lines.append(
        f"{label}{report['questions']} questions{split}, depth {report['k']}, embedder {report['embedder']}, "
        f"{report['database']}; {len(report['label_problems'])} label problem(s)"
    )
    if report.get("qa"):
        lines.append("")
        lines.extend(answer_table(report["qa"]))
    return "\n".join(lines)
