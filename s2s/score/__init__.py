"""Scoring: WER/CER reports (``s2s.score.wer``), classification metrics
(``s2s.score.classification``), plots (``s2s.score.plots``), and the recipe's
RESULTS.md tables that both scorers update (here).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from pathlib import Path

from s2s.errors import S2SError
from s2s.io import atomic_open

_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _cells(line: str) -> list[str] | None:
    """The stripped cells of a markdown table line, or None if it is not one."""
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|") and len(line) > 1):
        return None
    return [c.strip() for c in _CELL_SPLIT.split(line[1:-1])]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


@contextlib.contextmanager
def _dir_lock(directory: Path):
    """Serialise read-modify-write of files in ``directory`` between processes.

    Decode jobs for several test sets often finish together; the lock sits on
    the directory itself so the recipe is not littered with lock files.
    """
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass  # file systems without flock (some NFS set-ups): still atomic, just unserialised
        yield
    finally:
        os.close(fd)  # closing releases the lock


def update_results(path, header: list[str], row: list[str], key_columns: int = 2) -> None:
    """Put ``row`` into the markdown table with ``header`` in ``path`` (a RESULTS.md).

    The table is created at the end of the file when missing. A row whose first
    ``key_columns`` cells (tag and set) equal the new row's is replaced in
    place, otherwise the row is added after the table's last row, so scoring
    the same experiment twice leaves the file unchanged. The file is rewritten
    atomically under a directory lock.
    """
    path = Path(path)
    if len(row) != len(header):
        raise S2SError(f"{path}: row has {len(row)} cells, the table has {len(header)} columns")
    header_cells = [str(h).strip() for h in header]
    key = [str(c).strip() for c in row[:key_columns]]
    new_row = _row(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _dir_lock(path.parent):
        try:
            text = path.read_text(encoding="utf-8") if path.exists() else ""
        except UnicodeDecodeError:
            raise S2SError(f"{path}: not valid UTF-8; fix or move the file away") from None
        lines = text.splitlines()
        start = next((i for i, ln in enumerate(lines) if _cells(ln) == header_cells), None)
        if start is None:
            if lines and lines[-1].strip():
                lines.append("")
            lines += [_row(header_cells), _row(["---"] * len(header_cells)), new_row]
        else:
            end = start + 2  # header, separator, then rows until the first non-table line
            while end < len(lines) and _cells(lines[end]) is not None:
                end += 1
            for i in range(start + 2, end):
                if (_cells(lines[i]) or [])[:key_columns] == key:
                    lines[i] = new_row
                    break
            else:
                lines.insert(end, new_row)
        with atomic_open(path) as f:
            f.write("\n".join(lines) + "\n")


def replace_block(path, name: str, body: str) -> None:
    """Put ``body`` between ``<!-- NAME: begin ... -->`` and ``<!-- NAME: end -->`` in ``path``
    (a RESULTS.md), replacing what a previous run wrote there, or at the end of the file."""
    import re

    path = Path(path)
    block = f"<!-- {name}: begin (written by a recipe step; replaced when it runs again) -->\n{body.rstrip()}\n" \
            f"<!-- {name}: end -->\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _dir_lock(path.parent):
        try:
            text = path.read_text(encoding="utf-8") if path.exists() else "# Results\n"
        except UnicodeDecodeError:
            raise S2SError(f"{path}: not valid UTF-8; fix or move the file away") from None
        pat = re.compile(rf"<!-- {re.escape(name)}: begin.*?<!-- {re.escape(name)}: end -->\n?", re.S)
        text = pat.sub(lambda m: block, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + block
        with atomic_open(path) as f:
            f.write(text)


def score_files(ref, hyp, task: str = "asr", out_dir=None, results=None, tag: str | None = None,
                set_name: str | None = None) -> str:
    """Score a hypothesis table against a reference table (Kaldi ``text`` format), write the reports
    into ``out_dir`` (default: beside ``hyp``), put the (tag, set) row into ``results`` when given,
    and return the summary line. ``task``: asr (WER/CER), mt (BLEU/chrF by sacrebleu) or classify
    (accuracy, confusion)."""
    from s2s.data.datadir import read_table

    if results and not tag:
        raise S2SError("--results needs --tag NAME (the experiment's name in the table)")
    ref_path, hyp_path = Path(ref), Path(hyp)
    ref_t = read_table(ref_path, allow_empty_value=True)
    hyp_t = read_table(hyp_path, allow_empty_value=True)
    out = Path(out_dir) if out_dir else hyp_path.parent
    set_name = set_name or ref_path.resolve().parent.name or ref_path.stem
    if task == "asr":
        from s2s.score import wer as mod

        report = mod.score_texts(ref_t, hyp_t, hyp_name=str(hyp_path))
    elif task == "mt":
        from s2s.score import bleu as mod

        report = mod.score_tables(ref_t, hyp_t, hyp_name=str(hyp_path))
    else:
        from s2s.score import classification as mod

        report = mod.classification_report(ref_t, hyp_t, hyp_name=str(hyp_path))
    mod.write_report(report, out)
    if results:
        mod.append_results(results, tag, set_name, report)
    return report.summary_line()
