"""Stage stamps: a recipe stage is skipped when its outputs are complete and its inputs and
arguments are unchanged.

``python3 -m s2s.recipe.stamp check STAMP ARGS -- INPUTS... [-- OUTPUTS...]`` exits 0 when
STAMP holds the same key and every output exists; ``write`` records the key after the stage
succeeded. The key hashes the arguments, the content of small input files (< 1 MiB) and the
size and modification time of larger ones (directories are walked), like make.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

SMALL = 1 << 20


def _add_path(h, p: Path) -> None:
    if p.is_dir():
        for root, dirs, files in os.walk(p):
            dirs.sort()
            for name in sorted(files):
                _add_path(h, Path(root) / name)
        return
    h.update(str(p).encode())
    if not p.exists():
        h.update(b"<missing>")
        return
    st = p.stat()
    if st.st_size < SMALL:
        h.update(p.read_bytes())
    else:
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    if p.suffix == ".scp":
        # An scp's text (ark path and offset) stays the same when the arks are rewritten in
        # place: stamp the arks it points to as well.
        for ark in sorted(_scp_arks(p)):
            a = Path(ark)
            h.update(ark.encode())
            if a.exists():
                ast = a.stat()
                h.update(f"{ast.st_size}:{ast.st_mtime_ns}".encode())
            else:
                h.update(b"<missing>")


def _scp_arks(scp: Path) -> set[str]:
    arks = set()
    with open(scp, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split(maxsplit=1)
            if len(parts) == 2 and not parts[1].rstrip().endswith("|"):
                target = parts[1].strip()
                # kaldi ark references are "path:offset"
                if ":" in target and target.rsplit(":", 1)[1].isdigit():
                    arks.add(target.rsplit(":", 1)[0])
    return arks


def key(args: str, inputs: list[str]) -> str:
    h = hashlib.sha1(args.encode())
    for i in inputs:
        _add_path(h, Path(i))
    return h.hexdigest()


def _split(argv: list[str]) -> tuple[str, str, list[str], list[str]]:
    if len(argv) < 2:
        raise SystemExit("usage: stamp.py check|write STAMP ARGS [-- INPUTS... [-- OUTPUTS...]]")
    stamp, args, rest = argv[0], argv[1], argv[2:]
    groups: list[list[str]] = [[]]
    for a in rest:
        if a == "--":
            groups.append([])
        else:
            groups[-1].append(a)
    groups = groups[1:] if rest and rest[0] == "--" else groups
    inputs = groups[0] if groups else []
    outputs = groups[1] if len(groups) > 1 else []
    return stamp, args, inputs, outputs


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("check", "write"):
        print(__doc__, file=sys.stderr)
        return 2
    stamp, args, inputs, outputs = _split(argv[1:])
    k = key(args, inputs)
    path = Path(stamp)
    if argv[0] == "check":
        ok = path.is_file() and path.read_text().strip() == k and all(Path(o).exists() for o in outputs)
        return 0 if ok else 1
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(k + "\n")
    os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
