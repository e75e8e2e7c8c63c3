"""Download a corpus file (resumable, checksum-verified) and optionally extract it safely.

  python -m s2s.bin.download --url URL --dest FILE_OR_DIR [--md5 SUM | --sha256 SUM]
                             [--extract-to DIR [--remove-archive]]
  python -m s2s.bin.download --dest ARCHIVE --extract-to DIR      # extract only

A re-run skips what its ``.done`` markers show complete; an interrupted transfer resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s.data.download import download, fetch_and_extract, safe_extract, url_basename
from s2s.errors import S2SError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m s2s.bin.download", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="http(s):// or file:// URL to fetch; omit to only extract --dest")
    p.add_argument("--dest", required=True,
                   help="file to write; an existing directory (or a path ending in /) gets the URL's file name")
    p.add_argument("--md5", help="expected MD5 of the file (32 hex digits)")
    p.add_argument("--sha256", help="expected SHA-256 of the file (64 hex digits)")
    p.add_argument("--extract-to", metavar="DIR", help="extract the (tar) archive into DIR")
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
    args = parser.parse_args(argv)
    try:
        dest = Path(args.dest)
        if args.url and (dest.is_dir() or args.dest.endswith("/")):
            dest = dest / url_basename(args.url)
        kw = dict(retries=args.retries, backoff=args.backoff, timeout=args.timeout, quiet=args.quiet)
        if args.url is None:
            if not args.extract_to:
                raise S2SError("nothing to do: give --url to download, or --extract-to to extract --dest")
            safe_extract(dest, args.extract_to, quiet=args.quiet)
            if args.remove_archive:
                dest.unlink()
        elif args.extract_to:
            fetch_and_extract(args.url, dest, args.extract_to, md5=args.md5, sha256=args.sha256,
                              remove_archive=args.remove_archive, **kw)
        else:
            download(args.url, dest, md5=args.md5, sha256=args.sha256, **kw)
    except S2SError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
