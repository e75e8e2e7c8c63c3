"""egs/mini_mt data preparation: WordNet examples -> Apertium Spanish -> held-out splits."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "egs" / "mini_mt"

HEADER = "  1 This software and database is being provided to you, the LICENSEE, by  \n"
EXAMPLES = ["the dog sleeps in the house", "she reads a book every night", "the children play in the garden",
            "he drinks coffee in the morning", "we walk to the old bridge", "the cat is on the table",
            "they sing songs at the party", "Too short", "the Dog sleeps in the house"]


@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is installed by tools/setup.sh")
def test_wordnet_examples_translated_and_split(tmp_path):
    wn = tmp_path / "wordnet"
    wn.mkdir()
    for k, part in enumerate(("noun", "verb", "adj", "adv")):
        lines = [HEADER]
        for i, ex in enumerate(EXAMPLES[k::4]):
            lines.append(f'0000{k}{i} 03 n 01 thing 0 000 | a gloss; "{ex}"; "{ex} again and again"\n')
        (wn / f"data.{part}").write_text("".join(lines))
    proc = subprocess.run([sys.executable, str(RECIPE / "local/prepare_data.py"), "--out", str(tmp_path / "data"),
                           "--wordnet", str(wn), "--dev", "2", "--test", "3"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    sets = {}
    for name in ("train", "dev", "test"):
        en = (tmp_path / "data" / name / "text").read_text().splitlines()
        es = (tmp_path / "data" / name / "text.es").read_text().splitlines()
        assert [x.split()[0] for x in en] == [x.split()[0] for x in es]
        sets[name] = [x.split(maxsplit=1)[1] for x in en]
        assert all(x.split(maxsplit=1)[1] for x in es)
    assert len(sets["dev"]) == 2 and len(sets["test"]) == 3
    everything = [s for v in sets.values() for s in v]
    # 4-25 words, duplicates (case-insensitive) dropped, held-out sentences never in train.
    assert "Too short" not in everything and len({s.lower() for s in everything}) == len(everything) == 15
    assert not {s.lower() for s in sets["dev"] + sets["test"]} & {s.lower() for s in sets["train"]}
    spanish = " ".join((tmp_path / "data" / name / "text.es").read_text() for name in sets)
    assert "perro" in spanish and "casa" in spanish and " the " not in spanish  # Apertium's Spanish
