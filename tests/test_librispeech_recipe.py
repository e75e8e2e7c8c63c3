"""egs/librispeech/run.sh from stage 0 to RESULTS.md on a tiny LibriSpeech-shaped corpus.

The corpus (tests/corpora.make_librispeech: synthesized speech in the real layout, packed
into .tar.gz archives with MD5 sums, plus OpenSLR 11 LM files) is served from 127.0.0.1 and
the recipe downloads it through --base-url, so every stage runs its real code: download
(with a corrupted transfer that the MD5 check catches and re-fetches), data prep, speed
perturbation, features, synthetic speech and the natural:synthetic mix, tokens and n-gram,
training with torchrun, decoding and scoring. The recipe runs in a directory of links to
the real recipe files, so data/, exp/ and RESULTS.md land in tmp_path.

Beam search + n-gram (stage 7) and neural-LM rescoring (stages 5, 8) run when their modules
(s2s.decode.beam, s2s.bin.rescore) are in the checkout; otherwise --use-ngram / --use-nnlm
false leave them out, as a user without them would.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import subprocess
from pathlib import Path

from s2s.data.datadir import DataDir
from s2s.data.download import safe_extract
from tests.corpora import SENTENCES, make_librispeech, md5sum, serve_directory

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs" / "librispeech"
PARTS = ("dev-clean", "test-clean", "train-clean-100")
LM_FILES = ("librispeech-lm-norm.txt.gz", "4-gram.arpa.gz")


def have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


USE_NGRAM = have("s2s.decode.beam") and have("s2s.decode.logprobs")
USE_NNLM = USE_NGRAM and have("s2s.tasks.lm") and have("s2s.bin.rescore")


# Sentences of the LM corpus that no test utterance says: the tiny corpus's transcripts all come
# from corpora.SENTENCES, and stage 4 never synthesizes a dev/test transcript.
EXTRA_LM_SENTENCES = (
    "THE OLD MAN WALKED SLOWLY TO THE RIVER",
    "A GREEN BIRD SANG IN THE TALL TREE",
    "WE READ BOOKS BY THE WARM FIRE AT NIGHT",
    "THE CHILDREN PLAYED IN THE GARDEN ALL DAY",
    "HE OPENED THE DOOR AND LOOKED OUTSIDE",
    "THE SHIP SAILED ACROSS THE CALM BLUE SEA",
)


def add_lm_sentences(corpus: dict) -> None:
    """Put EXTRA_LM_SENTENCES into the mirror's LM corpus and update its MD5 sum."""
    lm = corpus["lm"]["librispeech-lm-norm.txt.gz"]
    with gzip.open(lm, "wt") as f:
        f.writelines(s + "\n" for s in SENTENCES + EXTRA_LM_SENTENCES)
    sums = dict(line.split() for line in corpus["md5_file"].read_text().splitlines())
    sums[lm.name] = md5sum(lm)
    corpus["md5_file"].write_text("".join(f"{k} {v}\n" for k, v in sorted(sums.items())))


def recipe_copy(tmp_path: Path) -> Path:
    work = tmp_path / "recipe"
    work.mkdir()
    for name in ("run.sh", "cmd.sh", "path.sh", "conf", "local", "utils"):
        (work / name).symlink_to(RECIPE / name)
    return work


def run_recipe(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1", S2S_BACKEND="local")
    proc = subprocess.run(["bash", "run.sh", *args], cwd=work, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-2500:]}" for p in sorted(work.glob("exp/**/log/*.log")))
        raise AssertionError(f"run.sh failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{logs}")
    return proc


def tiny_args(server_url: str, md5_file: Path) -> list[str]:
    return ["--base-url", server_url, "--md5-file", str(md5_file), "--parts", " ".join(PARTS),
            "--lm-files", " ".join(LM_FILES), "--nj", "2", "--ngpu", "0",
            "--feats-config", "conf/test_fbank.yaml", "--train-config", "conf/test_tiny.yaml",
            "--syn-ratio", "50:50", "--syn-speakers", "2", "--nnlm-config", "conf/test_tiny_lm.yaml",
            "--speed-perturb", "true",
            "--use-ngram", str(USE_NGRAM).lower(), "--use-nnlm", str(USE_NNLM).lower(),
            # the 4-gram from the LM corpus with KenLM (the fake OpenSLR ARPA is a unigram, which KenLM refuses)
            "--ngram", "kenlm", "--ngram-order", "3",
            "--alphas", "0.5,1.0", "--betas", "0.0", "--beam", "8", "--nbest", "3", "--avg-num", "2"]


def test_recipe_from_download_to_results(tmp_path):
    corpus = make_librispeech(tmp_path / "ls", parts=PARTS, speakers=2, utts_per_speaker=3, lm_files=LM_FILES)
    add_lm_sentences(corpus)
    work = recipe_copy(tmp_path)
    with serve_directory(corpus["mirror"]) as server:
        # A transfer whose bytes arrive damaged: the MD5 check must catch it and fetch again.
        server.corrupt_once("12/train-clean-100.tar.gz")
        args = tiny_args(server.url, corpus["md5_file"])
        first = run_recipe(work, *args)
        assert len(server.gets("12/train-clean-100.tar.gz")) >= 2, server.requests
        for part in PARTS:
            assert server.gets(f"12/{part}.tar.gz"), f"{part} was not fetched from --base-url"

        # Stage 1: one data dir per part, speakers as LibriSpeech numbers them, durations.
        data = work / "data"
        train = DataDir(data / "train")
        assert set(train.utt2spk().values()) == set(corpus["speakers"]["train-clean-100"])
        assert train.text() == corpus["text"]["train-clean-100"]
        assert set(train.table("utt2dur")) == set(train.utt_ids())
        assert set(DataDir(data / "dev_clean").text()) == set(corpus["text"]["dev-clean"])
        # Stage 2: the original plus 0.9 and 1.1 copies.
        sp = DataDir(data / "train_sp").utt_ids()
        assert len(sp) == 3 * len(train.utt_ids())
        assert sum(u.startswith("sp0.9-") for u in sp) == sum(u.startswith("sp1.1-") for u in sp) == len(train.utt_ids())
        # Stage 3: features for every set.
        for s in ("train_sp", "dev_clean", "test_clean"):
            assert set(DataDir(data / s).table("feats.scp")) == set(DataDir(data / s).utt_ids()), s
        # Stage 4: synthetic speech mixed in at about 50/50, never speaking a dev/test sentence.
        aug = DataDir(data / "train_aug").utt_ids()
        syn = [u for u in aug if u not in set(sp)]
        assert syn and abs(len(syn) / len(aug) - 0.5) <= 0.25, (len(syn), len(aug))
        held_out = set(corpus["text"]["dev-clean"].values()) | set(corpus["text"]["test-clean"].values())
        spoken = {line.split(" ", 1)[1] for line in (data / "syn_text" / "text").read_text().splitlines()}
        assert spoken and spoken <= set(EXTRA_LM_SENTENCES) and not spoken & held_out
        assert (data / "train_aug" / "cmvn.ark").is_file()
        # Stage 5: characters and the n-gram.
        assert (data / "lang" / "tokens.txt").read_text().startswith("<blank> 0\n")
        assert "\\data\\" in (data / "lm" / "ngram.arpa").read_text()
        # Stages 6-9: a model, hypotheses for every set, and RESULTS.md.
        exp = work / "exp" / "test_tiny"
        assert (exp / "model.pt").is_file() and (exp / "checkpoints" / "last.pt").is_file()
        for s in ("dev_clean", "test_clean"):
            assert set(DataDir(exp / f"decode_{s}" / "greedy").table("text", allow_empty_value=True)) == \
                set(DataDir(data / s).utt_ids())
        results = (work / "RESULTS.md").read_text()
        for s in ("dev_clean", "test_clean"):
            assert re.search(rf"\| test_tiny greedy \| {s} \| \d+\.\d\d \|", results), results
            if USE_NGRAM:
                assert re.search(rf"\| test_tiny beam \| {s} \| \d+\.\d\d \|", results), results
            if USE_NNLM:
                assert re.search(rf"\| test_tiny rescore \| {s} \| \d+\.\d\d \|", results), results
        assert "| Jasper DR 10x5 |" in results and "3.86" in results and "19.61" in results
        assert re.search(r"\| test_tiny \| conf/test_tiny.yaml \| [\d.]+ [kM] \| CPU \| fp32 \|", results), results

        # A second run finds every stage complete: nothing is redone, RESULTS.md is unchanged.
        again = run_recipe(work, *args)
        assert "start" not in again.stdout.replace("stage 0 (download)", ""), again.stdout
        assert (work / "RESULTS.md").read_text() == results
    assert "stage 9 (score): done" in first.stdout


def test_an_existing_copy_and_data_prep_only_download_nothing(tmp_path):
    """--librispeech-dir with --stop-stage 1: no archive and no LM file is fetched, and a run
    that only prepares data needs no train part."""
    corpus = make_librispeech(tmp_path / "ls", parts=("dev-clean",), speakers=1, utts_per_speaker=2,
                              lm_files=LM_FILES)
    copy = tmp_path / "copy"
    safe_extract(corpus["archives"]["dev-clean"], copy, quiet=True)
    work = recipe_copy(tmp_path)
    with serve_directory(corpus["mirror"]) as server:
        proc = run_recipe(work, "--base-url", server.url, "--librispeech-dir", str(copy / "LibriSpeech"),
                          "--parts", "dev-clean", "--stop-stage", "1")
        assert server.requests == [], server.requests
    assert "stage 1 (data): done" in proc.stdout
    assert set(DataDir(work / "data" / "dev_clean").text()) == set(corpus["text"]["dev-clean"])


def test_training_stages_without_a_train_part_say_which_option_to_change(tmp_path):
    work = recipe_copy(tmp_path)
    proc = run_recipe(work, "--parts", "dev-clean", "--stop-stage", "6", check=False)
    assert proc.returncode == 2
    assert "--parts has no train-* part" in proc.stderr and "--stop-stage 1" in proc.stderr
    assert not (work / "downloads").exists()
    bad = run_recipe(work, "--decoding", "published", check=False)
    assert bad.returncode == 2 and "--decoding must be tuned or openseq2seq" in bad.stderr


def test_unknown_option_is_refused_with_its_name(tmp_path):
    work = recipe_copy(tmp_path)
    proc = run_recipe(work, "--no-such-option", "1", check=False)
    assert proc.returncode != 0
    assert "--no-such-option" in proc.stderr


def test_help_lists_the_stages_and_options(tmp_path):
    work = recipe_copy(tmp_path)
    proc = run_recipe(work, "--help")
    for n in range(10):
        assert re.search(rf"^  {n}  ", proc.stdout, re.M), proc.stdout
    assert "--num-nodes" in proc.stdout and "--syn-ratio" in proc.stdout and "--librispeech-dir" in proc.stdout
