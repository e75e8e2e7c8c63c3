"""Decode a data dir with a trained speech recognition model (CTC, or with an attention decoder).

``python -m s2s.bin.decode --model exp/NAME/model.pt --data data/test --out exp/NAME/decode_test``
writes OUT/text (Kaldi format). The model carries its front end: inputs are DATA/feats.scp
when present (checked to come from the model's front end), else the audio of wav.scp
(resampled to the model's rate when needed).

Decoders: ``greedy`` (best path) and ``beam`` (CTC beam search with a KenLM n-gram
through flashlight-text; ``--lm``, ``--lexicon``, ``--beam``, ``--lm-weight``,
``--word-score``, ``--nbest`` -> OUT/nbest.jsonl); ``attention`` (models with an attention
decoder: beam search, joint with the CTC prefix score (``--ctc-weight``), fused with a
neural LM or a word n-gram given by ``--lm``). ``--dump-logprobs`` also writes
OUT/logprobs.{ark,scp} so beam search and alpha/beta tuning can run again without
the network (``--logprobs SCP`` decodes such a dump). ``--nj N --job J`` decodes
job J's share and writes OUT/text.J (and nbest.J.jsonl, logprobs.J.*); the recipe
merges them.
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    from s2s.decode.beam import add_beam_args

    p = argparse.ArgumentParser(prog="s2s.bin.decode", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="checkpoint (.pt) written by s2s.bin.train")
    p.add_argument("--data", help="Kaldi data dir (feats.scp, or wav.scp)")
    p.add_argument("--logprobs", help="decode a log-probability dump (scp) instead of running the model")
    p.add_argument("--tokens", help="tokens.txt (with --logprobs; else taken from the model)")
    p.add_argument("--out", required=True, help="output dir")
    p.add_argument("--decoder", choices=["greedy", "beam", "attention"], default="greedy",
                   help="greedy / beam: CTC models; attention: models with an attention decoder (LAS, joint "
                        "CTC-attention)")
    p.add_argument("--settings", metavar="DECODE_YAML",
                   help="decoder, LM, lexicon, weights and pruning from this decode.yaml (written by "
                        "s2s.bin.tune_lm --decoding-for); options given here override it")
    p.add_argument("--dump-logprobs", action="store_true")
    p.add_argument("--nj", type=int, default=1)
    p.add_argument("--job", type=int, default=0, help="1-based job index (0: the whole set, OUT/text)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-seconds", type=float, default=400.0, help="padded audio seconds per network batch")
    add_beam_args(p)
    g = p.add_argument_group("attention decoding (--decoder attention)")
    g.add_argument("--att-beam", type=int, default=10, help="beam width (1: greedy)")
    g.add_argument("--ctc-weight", type=float, default=None,
                   help="joint CTC-attention weight lambda (default: 0.3 with a CTC head, else 0)")
    g.add_argument("--lenpen", type=float, default=0.0, help="GNMT length penalty alpha")
    g.add_argument("--max-len-ratio", type=float, default=1.0, help="output tokens at most this times the encoder frames")
    g.add_argument("--ctc-candidates", type=int, default=0,
                   help="tokens per hypothesis scored by the CTC prefix score and the n-gram (default 1.5 x beam)")
    g.description = ("shallow fusion: --lm with an LM checkpoint (.pt, task lm, the model's tokens) adds "
                     "--lm-weight x its log-probabilities; with a KenLM word n-gram it adds --lm-weight x ln "
                     "P(word) + --word-score per word, and --unk-score for words it does not know (-inf: none)")
    return p


def _decode(argv) -> int:
    from s2s.decode.datadir import decode_data_dir
    from s2s.decode.settings import parse_with_settings
    from s2s.io import check_output_dir

    a = parse_with_settings(get_parser(), argv)
    check_output_dir(a.out)
    return decode_data_dir(a.out, model=a.model, data=a.data, logprobs=a.logprobs, tokens=a.tokens,
                           decoder=a.decoder, beam_args=a, nj=a.nj, job=a.job, device=a.device,
                           batch_seconds=a.batch_seconds, dump_logprobs=a.dump_logprobs)


def main(argv=None) -> int:
    return run_main("s2s.bin.decode", _decode, argv)


if __name__ == "__main__":
    sys.exit(main())
