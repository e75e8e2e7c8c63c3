"""egs/wikitext end to end on a tiny WikiText-2 in the real layout (wikitext-2-v1.zip holding
wikitext-2/wiki.{train,valid,test}.tokens) served from 127.0.0.1: download (MD5, zip), data
(blank lines kept in the stream), the word vocabulary, a word LM, perplexity, skipping on re-run,
a wrong checksum, and zip members that would leave the target."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml
from corpora import serve_directory

from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs/wikitext"
TINY = {"task": "lm", "bptt": 16, "lm": "lstm", "lm_conf": {"cell": "glstm", "groups": 2, "embed_dim": 32,
                                                            "hidden": 32, "num_layers": 2, "dropout": 0.0},
        "optim": "adam", "optim_conf": {"lr": 0.01}, "batch_frames": 256, "max_epochs": 6, "seed": 1,
        "log_every_steps": 5}


def wiki_lines(rng: random.Random, n: int) -> list[str]:
    subjects, verbs, objects = ["the cat", "a dog", "the <unk>", "my bird"], ["sees", "likes", "finds"], \
        ["the ball", "a mouse", "her toy", "that box"]
    out = []
    for k in range(n):
        if k % 10 == 0:
            out += ["", f" = Section {k // 10} = ", ""]  # WikiText's headings between blank lines
        out.append(" " + " . ".join(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
                                    for _ in range(rng.randint(1, 3))) + " . ")
    return out


def make_wikitext(root: Path) -> dict:
    rng = random.Random(0)
    tree = root / "src" / "wikitext-2"
    tree.mkdir(parents=True)
    files = {"train": wiki_lines(rng, 120), "valid": wiki_lines(rng, 15), "test": wiki_lines(rng, 15)}
    for split, lines in files.items():
        (tree / f"wiki.{split}.tokens").write_text("\n".join(lines) + "\n", encoding="utf-8")
    mirror = root / "mirror"
    mirror.mkdir()
    archive = mirror / "wikitext-2-v1.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(tree, "wikitext-2/")
        for split in files:
            z.write(tree / f"wiki.{split}.tokens", f"wikitext-2/wiki.{split}.tokens")
    md5 = root / "md5.txt"
    md5.write_text(f"wikitext-2-v1.zip {hashlib.md5(archive.read_bytes()).hexdigest()}\n")
    return {"mirror": mirror, "md5_file": md5, "files": files}


def recipe_dir(root: Path) -> Path:
    work = root / "wikitext"
    (work / "conf").mkdir(parents=True)
    for name in ("run.sh", "cmd.sh", "path.sh", "local", "utils"):
        os.symlink(RECIPE / name, work / name)
    (work / "conf/tiny.yaml").write_text(yaml.safe_dump(TINY))
    return work


def run(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    proc = subprocess.run(["./run.sh", *args], cwd=work, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"run.sh failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.mark.e2e
def test_recipe_downloads_prepares_trains_and_scores_per_word(tmp_path):
    corpus = make_wikitext(tmp_path)
    work = recipe_dir(tmp_path)
    opts = ["--md5-file", str(corpus["md5_file"]), "--train-config", "conf/tiny.yaml", "--ngpu", "0"]
    with serve_directory(corpus["mirror"]) as server:
        run(work, "--base-url", server.url, *opts)
    data = work / "data"
    for split, name in (("train", "train"), ("valid", "dev"), ("test", "test")):
        stream = (data / name / "wiki.tokens").read_text().splitlines()
        assert stream == [" ".join(s.split()) for s in corpus["files"][split]]  # blank lines kept
        table = (data / name / "text").read_text().splitlines()
        assert len(table) == sum(1 for s in corpus["files"][split] if s.strip())
    tokens = [line.split()[0] for line in (data / "lang/tokens.txt").read_text().splitlines()]
    assert (data / "lang/token_type").read_text().strip() == "word"
    assert tokens.count("<unk>") == 1 and "cat" in tokens and "=" in tokens
    res = json.loads((work / "exp/tiny/ppl_test.json").read_text())
    test = corpus["files"]["test"]
    assert res["tokens"] == sum(len(s.split()) + 1 for s in test) - 1  # every line's end, the first word unpredicted
    counts = Counter(w for s in corpus["files"]["train"] for w in s.split() + ["</s>"])
    total = sum(counts.values())
    words = [w for s in test for w in s.split() + ["</s>"]]
    unigram = math.exp(-sum(math.log(counts[w] / total) for w in words) / len(words))
    assert res["ppl"] < 0.8 * unigram, (res, unigram)
    assert f"| wikitext-2 | tiny | glstm | {res['parameters']:,} |" in (work / "RESULTS.md").read_text()
    # up to date: a re-run needs no server and skips every stage
    again = run(work, "--base-url", "http://127.0.0.1:9", *opts)
    assert again.stdout.count("skipped") == 5, again.stdout


def test_a_wrong_checksum_is_refused_and_nothing_is_extracted(tmp_path):
    corpus = make_wikitext(tmp_path)
    work = recipe_dir(tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_text(f"wikitext-2-v1.zip {'0' * 32}\n")
    with serve_directory(corpus["mirror"]) as server:
        proc = run(work, "--base-url", server.url, "--stop-stage", "0", "--md5-file", str(bad),
                   "--train-config", "conf/tiny.yaml", check=False)
    assert proc.returncode != 0 and "md5" in (proc.stdout + proc.stderr).lower()
    assert not (work / "downloads/wikitext-2").exists()
    proc = run(work, "--dataset", "wikitext-3", "--stop-stage", "0", "--train-config", "conf/tiny.yaml", check=False)
    assert proc.returncode != 0 and "--dataset must be wikitext-2 or wikitext-103" in proc.stderr


@pytest.mark.parametrize("name", ["../evil.txt", "/abs.txt"])
def test_zip_members_that_leave_the_target_are_refused(tmp_path, name):
    from s2s.data.download import safe_extract

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok/fine.txt", "fine")
        z.writestr(name, "evil")
    with pytest.raises(S2SError, match="refusing to extract member"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "ok").exists() and not (tmp_path / "evil.txt").exists()
    good = tmp_path / "b.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("ok/fine.txt", "fine")
    safe_extract(good, tmp_path / "out")
    assert (tmp_path / "out/ok/fine.txt").read_text() == "fine"
    link = zipfile.ZipInfo("ok/link")
    link.external_attr = (0o120777 << 16)  # a Unix symlink entry
    with zipfile.ZipFile(tmp_path / "l.zip", "w") as z:
        z.writestr(link, "/etc/passwd")
    with pytest.raises(S2SError, match="symlinks in a zip are not extracted"):
        safe_extract(tmp_path / "l.zip", tmp_path / "out3")
    assert not (tmp_path / "out3").exists()
    (tmp_path / "c.zip").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(S2SError, match="zip|tar"):
        safe_extract(tmp_path / "c.zip", tmp_path / "out2")
