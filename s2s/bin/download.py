"""Download a corpus file (resumable, checksum-verified) and optionally extract it safely.

  python -m s2s.bin.download --url URL --dest FILE_OR_DIR [--md5 SUM | --sha256 SUM]
                             [--extract-to DIR [--remove-archive]]
  python -m s2s.bin.download --dest ARCHIVE --extract-to DIR      # extract only

A re-run skips what its ``.done`` markers show complete; an interrupted transfer resumes.
"""

from __future__ import annotations

import argparse
import sys

from s2s.data.download import fetch
from s2s.errors import run_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m s2s.bin.download", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="http(s):// or file:// URL to fetch; omit to only extract --dest")
    p.add_argument("--dest", required=True,
                   help="file to write; an existing directory (or a path ending in /) gets the URL's file name")
    p.add_argument("--md5", help="expected MD5 of the file (32 hex digits)")
    p.add_argument("--sha256", help="expected SHA-256 of the file (64 hex digits)")
    p.add_argument("--extract-to", metavar="DIR", help="extract the archive (tar, tar.gz/bz2/xz or zip) into DIR")
    p.add_argument("--remove-archive", action="store_true",
                   help="delete the archive after a successful extraction (the marker in DIR remains)")
    p.add_argument("--retries", type=int, default=5, help="further attempts after a lost connection (default 5)")
    p.add_argument("--backoff", type=float, default=2.0,
                   help="seconds to wait before retry k, times k (default 2)")
    p.add_argument("--timeout", type=float, default=60.0, help="socket timeout in seconds (default 60)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    return run_main(parser.prog, fetch, a.url, a.dest, extract_to=a.extract_to, md5=a.md5, sha256=a.sha256,
                    remove_archive=a.remove_archive, retries=a.retries, backoff=a.backoff, timeout=a.timeout,
                    quiet=a.quiet, writes=[("dir", a.extract_to)])


if __name__ == "__main__":
    sys.exit(main())
