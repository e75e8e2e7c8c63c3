"""Classify the clips of a data dir with a trained model and score them.

    python -m s2s.bin.evaluate_classifier --model exp/NAME/checkpoints/last.pt --data data/v1-12/test \\
        --out exp/NAME/eval_test [--results RESULTS.md --tag NAME --set v1-12/test]

Writes OUT/hyp (``utt label``, Kaldi text format) and OUT/posteriors.txt
(``utt p_0 ... p_{C-1}`` in the order of OUT/labels.txt). When the data dir has
a ``text`` with the reference labels it also writes OUT/classification.txt
(accuracy, per-class precision/recall/F1, confusion matrix), OUT/confusion.txt
and OUT/confusion.png, prints the summary line and, with --results/--tag, puts
the (tag, set) row into that RESULTS.md table. Features come from DATA/feats.scp
when present (they must have been computed with the model's frontend), else from
the audio; every clip is padded/cut to the training clip length.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from s2s.errors import S2SError


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evaluate_classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="checkpoint (exp/NAME/checkpoints/*.pt)")
    p.add_argument("--data", required=True, help="data dir (wav.scp or feats.scp; text for scoring)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default cpu)")
    p.add_argument("--results", default=None, help="RESULTS.md whose table gets this result's row")
    p.add_argument("--tag", default=None, help="experiment name for the RESULTS.md row (required with --results)")
    p.add_argument("--set", dest="set_name", default=None, help="set name for the row (default: the data dir's name)")
    return p


@torch.no_grad()
def classify(model, dataset, batch_size: int, device) -> tuple[list[str], torch.Tensor]:
    """Utterance ids and class posteriors (N, C) of every clip of ``dataset``, in its order."""
    from s2s.tasks.classify import collate_classify

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                         collate_fn=collate_classify)
    ids, posts = [], []
    for batch in loader:
        logits = model(batch["feats"].to(device), batch["lengths"].to(device)).float()
        posts.append(torch.softmax(logits, dim=-1).cpu())
        ids += batch["ids"]
    return ids, torch.cat(posts)


def run(args) -> str | None:
    """Classify and score as ``args`` say; return the summary line (None without references)."""
    from s2s.data.datadir import DataDir, read_table, write_table
    from s2s.io import atomic_open
    from s2s.score import classification
    from s2s.tasks.classify import ClassifyTask, dataset_from_meta
    from s2s.train.checkpoint import load_checkpoint

    if args.results and not args.tag:
        raise S2SError("--results needs --tag NAME (the experiment's name in the table)")
    if args.batch_size < 1:
        raise S2SError(f"--batch-size must be >= 1, got {args.batch_size}")
    ckpt = load_checkpoint(args.model)
    meta = ckpt.get("meta") or {}
    if meta.get("task") != "classify":
        raise S2SError(f"{args.model}: a {meta.get('task')!r} model, not a classifier; "
                       f"use python -m s2s.bin.decode for ASR models")
    model = ClassifyTask.model_from_meta(meta)
    model.load_state_dict(ckpt["model"])
    model.to(args.device).eval()
    has_ref = DataDir(args.data).has("text")
    dataset = dataset_from_meta(meta, args.data, need_labels=has_ref)
    ids, posts = classify(model, dataset, args.batch_size, args.device)
    labels = meta["labels"]
    out = Path(args.out)
    hyp = {u: labels[int(k)] for u, k in zip(ids, posts.argmax(-1).tolist())}
    write_table(out / "hyp", hyp)
    with atomic_open(out / "labels.txt") as f:
        f.writelines(label + "\n" for label in labels)
    with atomic_open(out / "posteriors.txt") as f:
        for u, p in sorted(zip(ids, posts.tolist())):
            f.write(u + " " + " ".join(f"{x:.5f}" for x in p) + "\n")
    if not has_ref:
        return None
    ref_path = DataDir(args.data).file("text")
    ref = {u: lab for u, lab in read_table(ref_path).items() if u in set(dataset.ids)}
    report = classification.classification_report(ref, hyp, labels=labels, hyp_name=str(out / "hyp"))
    classification.write_report(report, out)
    if args.results:
        classification.append_results(args.results, args.tag, args.set_name or Path(args.data).name, report)
    return report.summary_line()


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(format="evaluate_classifier: warning: %(message)s", level=logging.WARNING)
    try:
        line = run(args)
    except S2SError as e:
        print(f"evaluate_classifier: error: {e}", file=sys.stderr)
        return 1
    if line:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
