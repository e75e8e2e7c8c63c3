#!/usr/bin/env python3
"""queue.pl: Kaldi's job interface (backend: sge). See s2s/recipe/jobs.py for options and behaviour.

usage: queue.pl [options] [JOB=1:N] log/x.JOB.log command...
"""
import os
import sys

# Find the repository's s2s package from this file's real location (utils/ may be a symlink
# in a recipe), so this works with the system python3 before any venv exists.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from s2s.recipe.jobs import main  # noqa: E402

sys.exit(main("sge", sys.argv[1:]))
