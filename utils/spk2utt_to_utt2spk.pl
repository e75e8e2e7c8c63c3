#!/usr/bin/env python3
"""spk2utt_to_utt2spk.pl [FILE...]: read spk2utt (files or stdin), write utt2spk to stdout, sorted (LC_ALL=C)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from s2s.recipe.datadir_tools import main  # noqa: E402

sys.exit(main(["spk2utt_to_utt2spk.pl", *sys.argv[1:]]))
