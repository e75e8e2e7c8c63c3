"""Recipe plumbing behind utils/: job runners and Kaldi data-directory tools.

Everything in this package uses the Python standard library only, so that
utils/run.pl and the data-dir scripts work with the system python3 before the
project's virtual environment exists.
"""
