"""The logic behind utils/*_data_dir.sh, split_data.sh, combine_data.sh and the spk2utt filters.

Each utils/ script runs ``python3 -m s2s.recipe.datadir_tools <script-name> args...``.
Data directories follow Kaldi exactly: sorted (LC_ALL=C) ``key value`` tables,
wav.scp keyed by recording when a segments file exists, spk2utt derived from
utt2spk. Standard library only, so the scripts run before the venv exists.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from pathlib import Path

from s2s.data.datadir import spk2utt_to_utt2spk, utt2spk_to_spk2utt, write_table
from s2s.data.validate import RECO_TABLES, SPK_TABLES, UTT_TABLES, validate_data_dir
from s2s.errors import S2SError

ALL_TABLES = UTT_TABLES + SPK_TABLES + RECO_TABLES


# ---------------------------------------------------------------- reading


def read_lenient(path: Path, keep_empty: bool = False) -> dict[str, str]:
    """Read a table the way the fixing tools need: skip blank lines and keyless values,
    keep the first of duplicate keys. Non-UTF-8 bytes are still an error (no safe fix)."""
    out: dict[str, str] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise S2SError(f"{path}:{lineno}: not valid UTF-8; re-encode the file "
                               f"(e.g. iconv -f latin1 -t utf-8)") from None
            if not line:
                continue
            key, _, value = line.partition(" ")
            value = value.strip()
            if (value or keep_empty) and key not in out:
                out[key] = value
    return out


def read_dir(d: Path) -> dict[str, dict[str, str]]:
    """All known tables present in ``d`` (utt2spk is required)."""
    if not d.is_dir():
        raise S2SError(f"{d}: data directory not found")
    if not (d / "utt2spk").is_file():
        raise S2SError(f"{d}/utt2spk: file not found; every data directory needs one ('utt speaker' per line)")
    return {name: read_lenient(d / name, keep_empty=(name == "text"))
            for name in ALL_TABLES if (d / name).is_file()}


def subset_tables(tables: dict[str, dict[str, str]], utts) -> dict[str, dict[str, str]]:
    """The tables restricted to ``utts``: utterance, speaker and recording tables consistent."""
    keep = set(utts)
    out = {name: {k: v for k, v in t.items() if k in keep}
           for name, t in tables.items() if name in UTT_TABLES}
    out["spk2utt"] = utt2spk_to_spk2utt(out["utt2spk"])
    for name in SPK_TABLES[1:]:
        if name in tables:
            out[name] = {k: v for k, v in tables[name].items() if k in out["spk2utt"]}
    recos = {v.split()[0] for v in out["segments"].values()} if "segments" in out else keep
    for name in RECO_TABLES:
        if name in tables:
            out[name] = {k: v for k, v in tables[name].items() if k in recos}
    return out


def write_dir(d: Path, tables: dict[str, dict[str, str]]) -> None:
    """Write ``tables`` sorted into ``d``; known tables not in ``tables`` are removed."""
    d.mkdir(parents=True, exist_ok=True)
    for name in ALL_TABLES:
        if name in tables:
            write_table(d / name, tables[name])
        elif (d / name).is_file():
            (d / name).unlink()


def _log(prog: str, msg: str) -> None:
    print(f"{prog}: {msg}", file=sys.stderr)


# ---------------------------------------------------------------- fix


def fix_data_dir(d, prog: str = "fix_data_dir.sh", backup: bool = True) -> tuple[int, int]:
    """Sort every table, keep only utterances present in all of them (with a non-empty
    transcript and a known recording), rebuild spk2utt. With ``backup`` the originals
    are copied to ``d/.backup`` first. Prints what was removed and why; returns
    (kept, total) utterance counts."""
    d = Path(d)
    tables = read_dir(d)
    utt_tables = [n for n in UTT_TABLES if n in tables]
    seen = set().union(*(tables[n] for n in utt_tables))
    if "wav.scp" in tables and "segments" not in tables:
        seen |= set(tables["wav.scp"])
    reasons: dict[str, str] = {}

    def drop(utts, why: str) -> None:
        for u in utts:
            reasons.setdefault(u, why)

    for name in utt_tables:
        drop(seen - set(tables[name]), f"not in {name}")
    if "text" in tables:
        drop([u for u, t in tables["text"].items() if not t], "empty transcript")
    drop([u for u, s in tables["utt2spk"].items() if len(s.split()) != 1], "bad speaker in utt2spk")
    if "segments" in tables and "wav.scp" in tables:
        drop([u for u, s in tables["segments"].items() if s.split()[0] not in tables["wav.scp"]],
             "recording not in wav.scp")
    elif "wav.scp" in tables:
        drop(seen - set(tables["wav.scp"]), "not in wav.scp")
    kept = sorted(seen - set(reasons))

    saved = ""
    if backup:
        backup_dir = d / ".backup"
        backup_dir.mkdir(exist_ok=True)
        for name in ALL_TABLES:
            if (d / name).is_file():
                shutil.copy2(d / name, backup_dir / name)
        saved = f"; originals in {backup_dir}"
    write_dir(d, subset_tables(tables, kept))

    if reasons:
        counts = Counter(reasons.values())
        why = ", ".join(f"{n} {r}" for r, n in counts.most_common())
        _log(prog, f"{d}: kept {len(kept)} of {len(seen)} utterances; removed {len(reasons)} ({why}){saved}")
    elif backup:
        _log(prog, f"{d}: kept all {len(kept)} utterances (tables sorted){saved}")
    return len(kept), len(seen)


# ---------------------------------------------------------------- split


def split_utts(utt2spk: dict[str, str], n: int, per_utt: bool = False) -> list[list[str]]:
    """``n`` contiguous groups of sorted utterances, of near-equal size; by default
    a speaker's utterances stay in one group (Kaldi's split_scp.pl --utt2spk)."""
    utts = sorted(utt2spk)
    if n < 1:
        raise S2SError(f"cannot split into {n} parts; give a positive number")
    if per_utt:
        if n > len(utts):
            raise S2SError(f"cannot split {len(utts)} utterances into {n} parts; use fewer jobs")
        size, rest = divmod(len(utts), n)
        out, i = [], 0
        for k in range(n):
            step = size + (1 if k < rest else 0)
            out.append(utts[i:i + step])
            i += step
        return out
    spk2utt = utt2spk_to_spk2utt(utt2spk)
    speakers = list(spk2utt)
    if n > len(speakers):
        raise S2SError(f"cannot split {len(speakers)} speakers into {n} parts; use fewer jobs or --per-utt")
    groups: list[list[str]] = []
    i, done, total = 0, 0, len(utts)
    for k in range(n):
        group: list[str] = []
        target = total * (k + 1) / n
        # Take a speaker while its midpoint falls before this group's share, always
        # at least one, and leave one speaker for each remaining group.
        while i < len(speakers) and len(speakers) - i > n - k - 1:
            count = len(spk2utt[speakers[i]].split())
            if group and done + count / 2 > target:
                break
            group += spk2utt[speakers[i]].split()
            done += count
            i += 1
        groups.append(group)
    groups[-1] += [u for s in speakers[i:] for u in spk2utt[s].split()]
    return [sorted(g) for g in groups]


def split_data(d, n: int, per_utt: bool = False) -> list[Path]:
    """Write ``d/split{n}/{1..n}`` (``split{n}utt`` with per_utt), each a valid data dir."""
    d = Path(d)
    tables = read_dir(d)
    out_dir = d / (f"split{n}utt" if per_utt else f"split{n}")
    parts = []
    for k, group in enumerate(split_utts(tables["utt2spk"], n, per_utt), 1):
        write_dir(out_dir / str(k), subset_tables(tables, group))
        parts.append(out_dir / str(k))
    return parts


# ---------------------------------------------------------------- combine


def combine_data(dest, srcs, prog: str = "combine_data.sh") -> int:
    """Concatenate data dirs into ``dest``; utterance ids must be distinct. Tables
    missing from some sources are left out (segments are made up from utt2dur)."""
    dest = Path(dest)
    srcs = [Path(s) for s in srcs]
    if not srcs:
        raise S2SError("no source data directories given")
    dirs = [read_dir(s) for s in srcs]
    if any("segments" in t for t in dirs):
        for s, t in zip(srcs, dirs):
            if "segments" not in t:
                if "utt2dur" not in t:
                    raise S2SError(f"{s}: has no segments file while other sources do, and no utt2dur to "
                                   f"make one from; compute utt2dur for {s}")
                t["segments"] = {u: f"{u} 0 {t['utt2dur'][u]}" for u in t["utt2dur"]}
    if dest.resolve() in [s.resolve() for s in srcs]:
        raise S2SError(f"{dest}: the destination must not be one of the sources")
    if any("utt2uniq" in t for t in dirs):
        for t in dirs:
            t.setdefault("utt2uniq", {u: u for u in t["utt2spk"]})  # unperturbed: its own origin
    out: dict[str, dict[str, str]] = {}
    owner: dict[str, Path] = {}
    for name in ALL_TABLES:
        if name == "spk2utt":
            continue
        have = [s for s, t in zip(srcs, dirs) if name in t]
        if not have:
            continue
        if len(have) < len(srcs):
            missing = [str(s) for s, t in zip(srcs, dirs) if name not in t]
            _log(prog, f"{name} is missing in {', '.join(missing)}; not combined")
            continue
        merged: dict[str, str] = {}
        for s, t in zip(srcs, dirs):
            for key, value in t[name].items():
                if name == "utt2spk" and key in owner:
                    raise S2SError(f"utterance {key!r} is in both {owner[key]} and {s}; "
                                   f"utterance ids must be unique: prefix them (e.g. with the set name)")
                if name in RECO_TABLES and key in merged and merged[key] != value:
                    raise S2SError(f"{s}/{name}: {key!r} differs from its entry in an earlier source; "
                                   f"recording ids must be unique")
                if name == "utt2spk":
                    owner[key] = s
                merged.setdefault(key, value)
        out[name] = merged
    out["spk2utt"] = utt2spk_to_spk2utt(out["utt2spk"])
    write_dir(dest, out)
    kept, _ = fix_data_dir(dest, prog, backup=False)
    return kept


# ---------------------------------------------------------------- subset


def subset_data_dir(src, dest, num: int | None = None, mode: str = "spread",
                    utt_list=None, spk_list=None, prog: str = "subset_data_dir.sh") -> int:
    """Copy a subset of ``src`` to ``dest``: ``num`` utterances spread evenly (or the
    first, last or shortest ones), or those named in ``utt_list`` / by speaker in ``spk_list``."""
    src, dest = Path(src), Path(dest)
    if src.resolve() == dest.resolve():
        raise S2SError(f"{dest}: the destination must differ from the source")
    tables = read_dir(src)
    utts = sorted(tables["utt2spk"])
    if utt_list is not None or spk_list is not None:
        list_path = Path(utt_list if utt_list is not None else spk_list)
        if not list_path.is_file():
            raise S2SError(f"{list_path}: list file not found")
        wanted = {line.split()[0] for line in list_path.read_text(encoding="utf-8").splitlines() if line.strip()}
        if utt_list is not None:
            chosen = [u for u in utts if u in wanted]
            unknown = len(wanted - set(utts))
            what = "utterances"
        else:
            chosen = [u for u in utts if tables["utt2spk"][u] in wanted]
            unknown = len(wanted - set(tables["utt2spk"].values()))
            what = "speakers"
        if unknown:
            _log(prog, f"{unknown} of the {len(wanted)} {what} in {list_path} are not in {src}")
    else:
        if num is None or num < 1:
            raise S2SError(f"give a positive number of utterances, got {num}")
        if num > len(utts):
            raise S2SError(f"{src} has {len(utts)} utterances, cannot take {num}; ask for at most {len(utts)}")
        if mode == "first":
            chosen = utts[:num]
        elif mode == "last":
            chosen = utts[-num:]
        elif mode == "shortest":
            lengths = tables.get("utt2dur") or tables.get("utt2num_frames")
            if lengths is None:
                raise S2SError(f"{src}: --shortest needs utt2dur or utt2num_frames; compute one first")
            chosen = sorted(utts, key=lambda u: (float(lengths.get(u, "inf")), u))[:num]
        else:
            chosen = [utts[i * len(utts) // num] for i in range(num)]
    if not chosen:
        raise S2SError(f"the subset of {src} is empty; check the list or number")
    write_dir(dest, subset_tables(tables, chosen))
    _log(prog, f"{dest}: {len(chosen)} of {len(utts)} utterances of {src}")
    return len(chosen)


# ---------------------------------------------------------------- speed perturbation


def speed_pipe(wav: str, factor: str) -> str:
    """A wav.scp entry that reads ``wav`` sped up by ``factor`` with sox (tempo and pitch, Kaldi style)."""
    if wav.rstrip().endswith("|"):
        return f"{wav.rstrip()} sox -R -t wav - -t wav - speed {factor} |"
    return f"sox -R {wav} -t wav - speed {factor} |"


def perturb_data_dir_speed(factor: str, src, dest) -> int:
    """Write a speed-perturbed copy of ``src``: ids prefixed ``sp<factor>-``, audio
    through ``sox speed``, durations and segment times divided by the factor."""
    try:
        f = float(factor)
    except ValueError:
        f = 0.0
    if not f > 0:
        raise S2SError(f"speed factor must be a positive number like 0.9 or 1.1, got {factor!r}")
    src, dest = Path(src), Path(dest)
    tables = read_dir(src)
    if "wav.scp" not in tables:
        raise S2SError(f"{src}/wav.scp: file not found; speed perturbation needs audio")
    prefix = f"sp{factor}-"

    def scaled(x: str) -> str:
        """A time divided by the factor; -1 (end of recording) stays -1."""
        v = float(x)
        return x if v == -1 else f"{v / f:.4f}".rstrip("0").rstrip(".")

    out: dict[str, dict[str, str]] = {}
    out["utt2spk"] = {prefix + u: prefix + s for u, s in tables["utt2spk"].items()}
    out["spk2utt"] = utt2spk_to_spk2utt(out["utt2spk"])
    for name in ("text", "utt2lang", "utt2category"):
        if name in tables:
            out[name] = {prefix + u: v for u, v in tables[name].items()}
    # utt2uniq ties every perturbed copy to its source utterance (for splits that must
    # not put copies of one recording on both sides).
    uniq = tables.get("utt2uniq", {})
    out["utt2uniq"] = {prefix + u: uniq.get(u, u) for u in tables["utt2spk"]}
    if "utt2dur" in tables:
        out["utt2dur"] = {prefix + u: scaled(v) for u, v in tables["utt2dur"].items()}
    if "spk2gender" in tables:
        out["spk2gender"] = {prefix + s: g for s, g in tables["spk2gender"].items()}
    identity = f == 1.0  # sp1.0 copies keep the audio as it is
    out["wav.scp"] = {prefix + k: (v if identity else speed_pipe(v, factor)) for k, v in tables["wav.scp"].items()}
    if "segments" in tables:
        segs = {}
        for u, v in tables["segments"].items():
            rec, start, end = v.split()[:3]
            segs[prefix + u] = f"{prefix + rec} {scaled(start)} {scaled(end)}"
        out["segments"] = segs
        if "reco2file_and_channel" in tables:
            out["reco2file_and_channel"] = {prefix + r: v for r, v in tables["reco2file_and_channel"].items()}
    if "reco2dur" in tables:
        out["reco2dur"] = {prefix + r: scaled(v) for r, v in tables["reco2dur"].items()}
    write_dir(dest, out)
    return len(out["utt2spk"])


# ---------------------------------------------------------------- command line


def _parse_table_stream(stream, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, line in enumerate(stream, 1):
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        if len(parts) < 2:
            raise S2SError(f"{name}:{lineno}: {parts[0]!r} has no value")
        out[parts[0]] = parts[1].strip()
    return out


def _filter(args, convert) -> None:
    streams = [open(p, encoding="utf-8") for p in args.files] if args.files else [sys.stdin]
    table: dict[str, str] = {}
    for s, name in zip(streams, args.files or ["<stdin>"]):
        table.update(_parse_table_stream(s, name))
    for k, v in convert(table).items():
        sys.stdout.write(f"{k} {v}\n")


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog)
    if prog == "validate_data_dir.sh":
        p.description = "Check a Kaldi data dir (files, sorting, consistency); exit 1 with file:line and the fix."
        p.add_argument("--no-feats", action="store_true", help="feats.scp is not required")
        p.add_argument("--no-text", action="store_true", help="text is not required")
        p.add_argument("--no-wav", action="store_true", help="wav.scp is not required")
        p.add_argument("data")
    elif prog == "fix_data_dir.sh":
        p.description = ("Sort all tables, keep only utterances present in all of them, rebuild spk2utt; "
                         "originals are kept in DIR/.backup.")
        p.add_argument("data")
    elif prog == "split_data.sh":
        p.description = "Split DIR into DIR/split{N}/{1..N} (by speaker; --per-utt: DIR/split{N}utt)."
        p.add_argument("--per-utt", action="store_true", help="split by utterance, not by speaker")
        p.add_argument("data")
        p.add_argument("num_splits", type=int)
    elif prog == "combine_data.sh":
        p.description = "Combine data dirs: combine_data.sh DEST SRC1 SRC2 ..."
        p.add_argument("dest")
        p.add_argument("srcs", nargs="+")
    elif prog == "subset_data_dir.sh":
        p.description = ("subset_data_dir.sh [--first|--last|--shortest] DIR NUM DEST, or "
                         "subset_data_dir.sh --utt-list FILE | --spk-list FILE DIR DEST")
        g = p.add_mutually_exclusive_group()
        g.add_argument("--utt-list", help="keep the utterances listed (first column)")
        g.add_argument("--spk-list", help="keep the utterances of the speakers listed")
        g.add_argument("--first", dest="mode", action="store_const", const="first")
        g.add_argument("--last", dest="mode", action="store_const", const="last")
        g.add_argument("--shortest", dest="mode", action="store_const", const="shortest")
        p.add_argument("args", nargs="+", metavar="DIR [NUM] DEST")
    elif prog == "perturb_data_dir_speed.sh":
        p.description = "Speed-perturb a data dir with sox: perturb_data_dir_speed.sh FACTOR SRC DEST"
        p.add_argument("factor")
        p.add_argument("src")
        p.add_argument("dest")
    elif prog in ("utt2spk_to_spk2utt.pl", "spk2utt_to_utt2spk.pl"):
        p.description = "Convert between utt2spk and spk2utt (files or stdin to stdout)."
        p.add_argument("files", nargs="*")
    else:
        raise SystemExit(f"datadir_tools: unknown tool {prog!r}")
    return p


def run(prog: str, argv: list[str]) -> int:
    args = build_parser(prog).parse_args(argv)
    if prog == "validate_data_dir.sh":
        validate_data_dir(args.data, need_text=not args.no_text, need_wav=not args.no_wav,
                          need_feats=not args.no_feats)
        _log(prog, f"{args.data}: OK")
    elif prog == "fix_data_dir.sh":
        fix_data_dir(args.data, prog)
    elif prog == "split_data.sh":
        split_data(args.data, args.num_splits, args.per_utt)
    elif prog == "combine_data.sh":
        n = combine_data(args.dest, args.srcs, prog)
        _log(prog, f"{args.dest}: {n} utterances from {len(args.srcs)} directories")
    elif prog == "subset_data_dir.sh":
        listed = args.utt_list is not None or args.spk_list is not None
        if listed and len(args.args) == 2:
            subset_data_dir(args.args[0], args.args[1], utt_list=args.utt_list, spk_list=args.spk_list, prog=prog)
        elif not listed and len(args.args) == 3:
            try:
                num = int(args.args[1])
            except ValueError:
                raise S2SError(f"NUM must be a number of utterances, got {args.args[1]!r}") from None
            subset_data_dir(args.args[0], args.args[2], num=num, mode=args.mode or "spread", prog=prog)
        else:
            raise S2SError("usage: subset_data_dir.sh DIR NUM DEST, or --utt-list/--spk-list FILE DIR DEST")
    elif prog == "perturb_data_dir_speed.sh":
        n = perturb_data_dir_speed(args.factor, args.src, args.dest)
        _log(prog, f"{args.dest}: {n} utterances at speed {args.factor}")
    elif prog == "utt2spk_to_spk2utt.pl":
        _filter(args, utt2spk_to_spk2utt)
    elif prog == "spk2utt_to_utt2spk.pl":
        _filter(args, spk2utt_to_utt2spk)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m s2s.recipe.datadir_tools <tool-name> args...", file=sys.stderr)
        return 1
    prog = Path(argv[0]).name
    try:
        return run(prog, argv[1:])
    except S2SError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
