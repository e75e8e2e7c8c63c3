"""egs/wmt16_en_de end to end on a toy corpus in the real WMT archive layouts, served from 127.0.0.1.

The five archives OpenSeq2Seq's get_en_de.sh fetches (Europarl v7, CommonCrawl, News Commentary
v11, and the newstest2013/2014 SGML test sets of wmt13 test.tgz and wmt14 test-filtered.tgz) are
built with the member names of the real ones; the recipe downloads them through --base-url (one
transfer cut short and resumed, one corrupted and fetched again), prepares the data dirs, builds
the joint BPE vocabulary, trains a tiny Transformer, averages checkpoints, translates and scores
with sacrebleu.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import tarfile
from pathlib import Path

from tests.corpora import md5sum, serve_directory

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs" / "wmt16_en_de"
WORDS = {"the": "der", "red": "rote", "dog": "hund", "sees": "sieht", "a": "ein", "small": "kleine",
         "cat": "katze", "house": "haus", "big": "große", "and": "und"}


def tgz(path: Path, members: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def sgm(lines: list[str], doc: str) -> str:
    segs = "".join(f'<seg id="{i}">{s}</seg>\n' for i, s in enumerate(lines, 1))
    return f'<srcset setid="{doc}" srclang="any">\n<doc sysid="ref" docid="d1" genre="news">\n{segs}</doc>\n</srcset>\n'


def make_wmt(root: Path) -> tuple[Path, Path, int]:
    rng = random.Random(0)
    words = list(WORDS)

    def pairs(n):
        out = []
        for _ in range(n):
            e = [rng.choice(words) for _ in range(rng.randint(2, 6))]
            out.append((" ".join(e), " ".join(WORDS[w] for w in e)))
        return out

    mirror = root / "mirror"
    ep, cc, nc = pairs(200), pairs(150), pairs(150)
    # Lines the Moses-style cleaning drops: an empty side and a side of more than 80 words.
    cc += [("the dog", ""), (" ".join(["dog"] * 81), " ".join(["hund"] * 81))]
    join = lambda ps, k: "".join(p[k] + "\n" for p in ps)  # noqa: E731
    tgz(mirror / "europarl/v7/de-en.tgz", {"europarl-v7.de-en.en": join(ep, 0), "europarl-v7.de-en.de": join(ep, 1)})
    tgz(mirror / "wmt13/training-parallel-commoncrawl.tgz",
        {"commoncrawl.de-en.en": join(cc, 0), "commoncrawl.de-en.de": join(cc, 1),
         "commoncrawl.de-en.annotation": "x\n" * len(cc), "commoncrawl.fr-en.en": "a\n"})
    tgz(mirror / "wmt16/translation-task/training-parallel-nc-v11.tgz",
        {"training-parallel-nc-v11/news-commentary-v11.de-en.en": join(nc, 0),
         "training-parallel-nc-v11/news-commentary-v11.de-en.de": join(nc, 1)})
    dev, test = pairs(20), pairs(30)
    tgz(mirror / "wmt13/test.tgz", {"test/newstest2013-src.en.sgm": sgm([p[0] for p in dev], "newstest2013"),
                                   "test/newstest2013-src.de.sgm": sgm([p[1] for p in dev], "newstest2013")})
    tgz(mirror / "wmt14/test-filtered.tgz",
        {"test/newstest2014-deen-src.en.sgm": sgm([p[0] for p in test], "newstest2014"),
         "test/newstest2014-deen-ref.de.sgm": sgm([p[1] for p in test], "newstest2014")})
    md5 = root / "md5.txt"
    md5.write_text(f"test.tgz {md5sum(mirror / 'wmt13/test.tgz')}\n"
                   f"test-filtered.tgz {md5sum(mirror / 'wmt14/test-filtered.tgz')}\n")
    return mirror, md5, len(ep) + len(cc) + len(nc) - 2


def run_recipe(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1", S2S_BACKEND="local")
    proc = subprocess.run(["bash", "run.sh", *args], cwd=work, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-2500:]}" for p in sorted(work.glob("exp/**/log/*.log")))
        raise AssertionError(f"run.sh failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{logs}")
    return proc


def test_recipe_from_download_to_bleu(tmp_path):
    mirror, md5, n_train = make_wmt(tmp_path)
    work = tmp_path / "recipe"
    work.mkdir()
    for name in ("run.sh", "cmd.sh", "path.sh", "conf", "local", "utils"):
        (work / name).symlink_to(RECIPE / name)
    with serve_directory(mirror) as server:
        server.drop_once("europarl/v7/de-en.tgz", after_bytes=200)
        server.corrupt_once("wmt14/test-filtered.tgz")
        proc = run_recipe(work, "--base-url", server.url, "--md5-file", str(md5), "--nbpe", "40", "--ngpu", "0",
                          "--train-config", "conf/test_tiny.yaml", "--avg-num", "2", "--nj", "2")
        assert any(r["range"] for r in server.gets("europarl/v7/de-en.tgz")), server.requests
        assert len(server.gets("wmt14/test-filtered.tgz")) == 2  # corrupted once, fetched again
    data = work / "data"
    assert len((data / "train/text").read_text().splitlines()) == n_train
    assert len((data / "test/text.de").read_text().splitlines()) == 30
    assert (data / "dev/text").read_text().splitlines()[0].startswith("dev00000001 ")
    hyp = work / "exp/test_tiny/translate_test/beam4/text"
    assert len(hyp.read_text().splitlines()) == 30
    results = (work / "RESULTS.md").read_text()
    assert "| test_tiny (beam 4, lenpen 0.6) | test |" in results and r"nrefs:1\|case:mixed" in results
    assert "== RESULTS.md" in proc.stdout
    # A second run skips every stage and downloads nothing.
    with serve_directory(mirror) as server:
        again = run_recipe(work, "--base-url", server.url, "--md5-file", str(md5), "--nbpe", "40", "--ngpu", "0",
                           "--train-config", "conf/test_tiny.yaml", "--avg-num", "2", "--nj", "2")
        assert server.requests == [], server.requests
    assert "skipping" in again.stdout + again.stderr
