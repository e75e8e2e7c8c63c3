"""egs/wmt16_en_de configs: the parameter counts in its README table are what the configs build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import s2s.models  # noqa: F401  (registers the networks)
from s2s.models.registry import build_model

RECIPE = Path(__file__).resolve().parents[1] / "egs" / "wmt16_en_de"
VOCAB = 32004  # 32000 SentencePiece pieces (its <unk> included) + <blank> <pad> <s> </s>


def table() -> dict[str, int]:
    rows = {}
    for line in (RECIPE / "README.md").read_text().splitlines():
        m = re.match(r"\| (conf/\S+\.yaml) \| .*? \| [\d.]+ \| ([\d,]+) \|", line)
        if m:
            rows[m.group(1)] = int(m.group(2).replace(",", ""))
    return rows


def test_the_table_covers_every_config():
    assert sorted(table()) == sorted(f"conf/{p.name}" for p in (RECIPE / "conf").glob("*.yaml")
                                     if p.name != "test_tiny.yaml")


@pytest.mark.parametrize("config", sorted(table()))
def test_parameter_count(config):
    c = yaml.safe_load((RECIPE / config).read_text())
    model = build_model("seq2seq", dict(encoder=c["encoder"], encoder_conf=c["encoder_conf"], decoder=c["decoder"],
                                        decoder_conf=c["decoder_conf"], vocab_size=VOCAB, model_conf=c["model_conf"]))
    assert sum(p.numel() for p in model.parameters()) == table()[config]
