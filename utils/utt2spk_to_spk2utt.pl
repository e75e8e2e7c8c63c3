#!/usr/bin/env python3
"""utt2spk_to_spk2utt.pl [FILE...]: read utt2spk (files or stdin), write spk2utt to stdout, sorted (LC_ALL=C)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from s2s.recipe.datadir_tools import main  # noqa: E402

sys.exit(main(["utt2spk_to_spk2utt.pl", *sys.argv[1:]]))
