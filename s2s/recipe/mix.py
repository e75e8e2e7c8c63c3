"""Natural + synthetic speech at a chosen ratio (utils/mix_data.sh), and text sources for
synthesis (utils/synthesize_data.sh).

    python3 -m s2s.recipe.mix mix --ratio 50:50 [--unit utts|hours] [--total X] [--seed 1] NAT SYN OUT
    python3 -m s2s.recipe.mix text-source [--kaldi | --plain] [--max-lines N] [--seed 1] IN OUT

``mix``: the ratio is natural:synthetic and counts utterances (``--unit utts``, the default)
or hours of audio (``--unit hours``, from utt2dur). Without ``--total`` the mix is the
largest one the two sources allow at that ratio, so every natural utterance is kept
whenever the synthetic set is large enough (what Jasper did: natural speech plus as much
synthetic speech again); with ``--total`` (in the unit) the size is fixed, which compares
ratios at equal data size. Utterances are drawn at random (``--seed``) from each source.
OUT gets the usual tables (features too when both sources have them and were computed
with the same front end) and ``mix_info``: the requested and obtained amounts.

``text-source``: a Kaldi ``text`` (``utt words``) or a plain text corpus (one sentence a
line, ids ``line00000001``...) into a Kaldi text file to synthesize, optionally a random
subset of ``--max-lines``. Standard library only, like the other utils/ logic.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

from s2s.data.datadir import write_table
from s2s.errors import S2SError
from s2s.recipe.datadir_tools import read_dir, subset_tables, write_dir


def parse_ratio(text: str) -> float:
    """The natural share of ``N:S`` (or ``N/S``), e.g. ``66:33`` -> 0.667."""
    sep = ":" if ":" in text else "/"
    try:
        nat, syn = (float(x) for x in text.split(sep))
    except ValueError:
        raise S2SError(f"--ratio {text!r}: expected natural:synthetic, e.g. 50:50 or 66:33") from None
    if nat < 0 or syn < 0 or nat + syn <= 0:
        raise S2SError(f"--ratio {text!r}: both parts must be >= 0 and not both 0")
    return nat / (nat + syn)


def sizes(tables: dict, src: Path, unit: str) -> dict[str, float]:
    """Per-utterance size in the unit (1 per utterance, or hours from utt2dur)."""
    utts = sorted(tables["utt2spk"])
    if unit == "utts":
        return {u: 1.0 for u in utts}
    if "utt2dur" not in tables:
        raise S2SError(f"{src}/utt2dur: not found; --unit hours needs utterance durations "
                       f"(synthesized sets have them; or use --unit utts)")
    durs = tables["utt2dur"]
    missing = [u for u in utts if u not in durs]
    if missing:
        raise S2SError(f"{src}/utt2dur: no duration for {missing[0]!r} (and {len(missing) - 1} more); "
                       f"run utils/fix_data_dir.sh {src}")
    return {u: float(durs[u]) / 3600.0 for u in utts}


def draw(size: dict[str, float], target: float, rng: random.Random) -> list[str]:
    """Utterances in random order until their total is as close to ``target`` as it gets."""
    order = sorted(size)
    rng.shuffle(order)
    chosen, total = [], 0.0
    for u in order:
        if total + size[u] / 2 > target:
            break
        chosen.append(u)
        total += size[u]
    return chosen


def plan_mix(nat: dict[str, float], syn: dict[str, float], share: float,
             total: float | None, seed: int) -> tuple[list[str], list[str], float]:
    """(natural ids, synthetic ids, total requested) for a natural ``share`` in [0, 1]."""
    have_nat, have_syn = sum(nat.values()), sum(syn.values())
    if total is None:
        limits = []
        if share > 0:
            limits.append(have_nat / share)
        if share < 1:
            limits.append(have_syn / (1 - share))
        total = min(limits)
    if share * total > have_nat * (1 + 1e-9) or (1 - share) * total > have_syn * (1 + 1e-9):
        raise S2SError(f"--total {total:g}: at natural share {share:.3f} it needs {share * total:g} natural and "
                       f"{(1 - share) * total:g} synthetic, but there are {have_nat:g} and {have_syn:g}; "
                       f"lower --total or synthesize more")
    rng = random.Random(seed)
    return draw(nat, share * total, rng), draw(syn, (1 - share) * total, rng), total


def mix(nat_dir, syn_dir, out_dir, ratio: str, unit: str = "utts", total: float | None = None,
        seed: int = 1) -> str:
    nat_dir, syn_dir, out_dir = Path(nat_dir), Path(syn_dir), Path(out_dir)
    if unit not in ("utts", "hours"):
        raise S2SError(f"--unit {unit!r}: use utts or hours")
    share = parse_ratio(ratio)
    nat_t, syn_t = read_dir(nat_dir), read_dir(syn_dir)
    clash = set(nat_t["utt2spk"]) & set(syn_t["utt2spk"])
    if clash:
        raise S2SError(f"{nat_dir} and {syn_dir} share utterance id {sorted(clash)[0]!r}; synthetic ids must "
                       f"differ (utils/synthesize_data.sh prefixes them with the speaker)")
    nat_ids, syn_ids, want = plan_mix(sizes(nat_t, nat_dir, unit), sizes(syn_t, syn_dir, unit), share, total, seed)
    parts = [subset_tables(nat_t, nat_ids), subset_tables(syn_t, syn_ids)]
    if not nat_ids:
        parts = parts[1:]
    elif not syn_ids:
        parts = parts[:1]
    feats_ok = all("feats.scp" in p for p in parts) and _same_frontend(nat_dir, syn_dir, len(parts))
    out: dict[str, dict[str, str]] = {}
    for name in set().union(*parts):
        if all(name in p for p in parts) and (feats_ok or name not in ("feats.scp", "utt2num_frames")):
            out[name] = {k: v for p in parts for k, v in p[name].items()}
    if not out.get("utt2spk"):
        raise S2SError(f"the mix at {ratio} is empty; check the sources and --total")
    write_dir(out_dir, out)
    for stale in ("frontend.yaml", "cmvn.ark"):
        (out_dir / stale).unlink(missing_ok=True)
    if feats_ok:
        src = nat_dir if nat_ids else syn_dir
        if (src / "frontend.yaml").is_file():
            shutil.copyfile(src / "frontend.yaml", out_dir / "frontend.yaml")

    def amount(ids, t, d):
        hours = sum(float(t["utt2dur"][u]) for u in ids) / 3600 if "utt2dur" in t else float("nan")
        return len(ids), hours

    (n_nat, h_nat), (n_syn, h_syn) = amount(nat_ids, nat_t, nat_dir), amount(syn_ids, syn_t, syn_dir)
    info = {"ratio": ratio, "unit": unit, "requested_total": f"{want:g}", "natural_utts": str(n_nat),
            "natural_hours": f"{h_nat:.4f}", "synthetic_utts": str(n_syn), "synthetic_hours": f"{h_syn:.4f}",
            "features": "yes" if feats_ok else "no"}
    write_table(out_dir / "mix_info", info)
    return (f"{out_dir}: {n_nat} natural ({h_nat:.3f} h) + {n_syn} synthetic ({h_syn:.3f} h) utterances "
            f"at {ratio} by {unit}" + ("" if feats_ok else "; no features (compute them with utils/make_feats.sh)"))


def _same_frontend(a: Path, b: Path, n_parts: int) -> bool:
    if n_parts < 2:
        return True
    fa, fb = a / "frontend.yaml", b / "frontend.yaml"
    if fa.is_file() and fb.is_file() and fa.read_text() != fb.read_text():
        print(f"mix_data.sh: {a} and {b} have features from different front ends; features left out",
              file=sys.stderr)
        return False
    return True


def text_source(src, dest, kind: str = "auto", max_lines: int = 0, seed: int = 1) -> str:
    """Write a Kaldi text file to synthesize from a Kaldi text or a plain sentence-per-line corpus."""
    src, dest = Path(src), Path(dest)
    if not src.is_file():
        raise S2SError(f"{src}: text source not found; give data/<set>/text or an LM text corpus")
    lines = [ln.strip() for ln in src.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    if kind == "auto":
        # A Kaldi text has a unique first field per line; a corpus line is a sentence.
        keys = [ln.split(maxsplit=1)[0] for ln in lines]
        kind = "kaldi" if src.name == "text" and len(set(keys)) == len(keys) else "plain"
    table = {}
    for i, ln in enumerate(lines, 1):
        if kind == "kaldi":
            key, _, words = ln.partition(" ")
            if words.strip():
                table[key] = words.strip()
        else:
            table[f"line{i:08d}"] = ln
    if max_lines and len(table) > max_lines:
        keep = random.Random(seed).sample(sorted(table), max_lines)
        table = {k: table[k] for k in keep}
    if not table:
        raise S2SError(f"{src}: no text lines to synthesize")
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_table(dest, table)
    return f"{dest}: {len(table)} lines ({kind} text from {src})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="s2s.recipe.mix", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mix", help="natural + synthetic at a ratio")
    m.add_argument("--ratio", required=True, help="natural:synthetic, e.g. 66:33")
    m.add_argument("--unit", default="utts", choices=("utts", "hours"))
    m.add_argument("--total", type=float, default=None, help="size of the mix in the unit (default: largest)")
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("natural")
    m.add_argument("synthetic")
    m.add_argument("out")
    t = sub.add_parser("text-source", help="Kaldi text to synthesize from a text file")
    t.add_argument("--kind", default="auto", choices=("auto", "kaldi", "plain"))
    t.add_argument("--max-lines", type=int, default=0)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("src")
    t.add_argument("dest")
    args = p.parse_args(argv)
    prog = "mix_data.sh" if args.cmd == "mix" else "synthesize_data.sh"
    try:
        if args.cmd == "mix":
            msg = mix(args.natural, args.synthetic, args.out, args.ratio, args.unit, args.total, args.seed)
        else:
            msg = text_source(args.src, args.dest, args.kind, args.max_lines, args.seed)
    except S2SError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    print(f"{prog}: {msg}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
