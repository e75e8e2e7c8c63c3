"""Tiny, real-format stand-ins for the corpora our recipes download, and a local HTTP server.

Recipe tests build a corpus in ``tmp_path``, serve it on 127.0.0.1, and point the recipe's
``--base-url`` at it, so download, extraction and data preparation run exactly as they would
against OpenSLR or download.tensorflow.org:

    from tests.corpora import make_librispeech, serve_directory

    corpus = make_librispeech(tmp_path / "mirror", parts=("dev-clean",))
    with serve_directory(corpus["mirror"]) as server:
        run(["local/download.sh", "--base-url", server.url, "--parts", "dev-clean",
             "--md5-file", corpus["md5_file"], str(tmp_path / "downloads")])

Speech is synthesized with espeak-ng and flite (several voices = several speakers) and
converted with sox, so the audio is real speech at 16 kHz, not noise with a label.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import math
import socket
import subprocess
import tarfile
import threading
import urllib.parse
from collections import Counter
from pathlib import Path

# --------------------------------------------------------------------------- speech

# (program, voice) pairs; each is one "speaker". espeak-ng variants differ in accent and
# pitch; flite voices are different recorded speakers.
VOICES = (
    ("espeak-ng", "en-us"),
    ("flite", "slt"),
    ("espeak-ng", "en-gb"),
    ("flite", "rms"),
    ("espeak-ng", "en-gb-scotland"),
    ("flite", "awb"),
    ("espeak-ng", "en-us+f3"),
    ("flite", "kal"),
)


def synthesize(text: str, out, voice: tuple[str, str] = VOICES[0], sample_rate: int = 16000,
               fmt: str | None = None, extra_sox: tuple[str, ...] = ()) -> Path:
    """Speak ``text`` with ``voice`` (program, name) into ``out`` as 16-bit mono audio.

    The format follows ``out``'s suffix (.wav, .flac) unless ``fmt`` is given; ``extra_sox``
    are sox effects appended after resampling (e.g. ``("pad", "0", "1", "trim", "0", "1")``).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_name(out.name + ".synth.wav")
    prog, name = voice
    if prog == "espeak-ng":
        cmd = ["espeak-ng", "-v", name, "-w", str(raw), text]
    elif prog == "flite":
        cmd = ["flite", "-voice", name, "-t", text, "-o", str(raw)]
    else:
        raise ValueError(f"unknown synthesizer {prog!r}")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sox = ["sox", "-V1", str(raw), "-r", str(sample_rate), "-c", "1", "-b", "16"]
    if fmt:
        sox += ["-t", fmt]
    subprocess.run(sox + [str(out), *extra_sox], check=True)
    raw.unlink()
    return out


def md5sum(path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256sum(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- LibriSpeech

SENTENCES = (
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "SHE SELLS SEA SHELLS BY THE SEA SHORE",
    "A STITCH IN TIME SAVES NINE",
    "THE RAIN IN SPAIN STAYS MAINLY IN THE PLAIN",
    "ALL THAT GLITTERS IS NOT GOLD",
    "WHERE THERE IS SMOKE THERE IS FIRE",
    "EVERY CLOUD HAS A SILVER LINING",
    "ACTIONS SPEAK LOUDER THAN WORDS",
    "THE EARLY BIRD CATCHES THE WORM",
    "BETTER LATE THAN NEVER",
    "TWO HEADS ARE BETTER THAN ONE",
    "HONESTY IS THE BEST POLICY",
)

LIBRISPEECH_LM_FILES = (
    "librispeech-lm-norm.txt.gz",
    "librispeech-vocab.txt",
    "librispeech-lexicon.txt",
    "3-gram.pruned.1e-7.arpa.gz",
)


def make_librispeech(root, parts=("dev-clean",), speakers: int = 2, chapters_per_speaker: int = 1,
                     utts_per_speaker: int = 2, lm_files=LIBRISPEECH_LM_FILES) -> dict:
    """Build a LibriSpeech-shaped corpus and its OpenSLR-style mirror under ``root``.

    Layout (as in the real archives):
    ``root/corpus/LibriSpeech/<part>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac``
    plus ``<speaker>-<chapter>.trans.txt`` and SPEAKERS.TXT / CHAPTERS.TXT / README.TXT.
    ``root/mirror/12/<part>.tar.gz`` holds ``LibriSpeech/<part>/...`` and the top files,
    ``root/mirror/11/<lm file>`` the LM resources (a normalized text .txt.gz, a vocabulary,
    a letter lexicon, and a valid unigram ARPA under each requested ``*.arpa.gz`` name).
    ``root/md5.txt`` lists ``name md5`` for every mirror file (for ``--md5-file``).

    Speaker ids are distinct per part; each speaker's ``utts_per_speaker`` utterances are
    spread round-robin over ``chapters_per_speaker`` chapters (at least one each).

    Returns ``{"root", "corpus" (the LibriSpeech dir), "mirror", "md5_file", "md5": {name: md5},
    "archives": {part: path}, "lm": {name: path}, "text": {part: {utt: transcript}},
    "speakers": {part: [speaker ids]}}``.
    """
    root = Path(root)
    corpus = root / "corpus" / "LibriSpeech"
    mirror = root / "mirror"
    (mirror / "12").mkdir(parents=True, exist_ok=True)
    (mirror / "11").mkdir(parents=True, exist_ok=True)
    corpus.mkdir(parents=True, exist_ok=True)
    texts: dict[str, dict[str, str]] = {}
    spk_ids: dict[str, list[str]] = {}
    speaker_lines = []
    chapter_lines = []
    sentence = 0
    for p_idx, part in enumerate(parts):
        texts[part], spk_ids[part] = {}, []
        for s in range(speakers):
            spk = str(100 + 37 * p_idx + 11 * s)  # numeric, like LibriSpeech, unique per part
            spk_ids[part].append(spk)
            sex = "F" if s % 2 else "M"
            speaker_lines.append(f"{spk:<5}| {sex} | {part:<16} | 0.10 | Reader {spk}")
            voice = VOICES[(p_idx * speakers + s) % len(VOICES)]
            # Utterances go round-robin over the chapters, so every chapter gets one.
            by_chapter: dict[str, list[str]] = {}
            for u in range(max(utts_per_speaker, chapters_per_speaker)):
                chapter = str(1000 + 100 * s + u % chapters_per_speaker)
                by_chapter.setdefault(chapter, [])
                utt = f"{spk}-{chapter}-{len(by_chapter[chapter]):04d}"
                words = SENTENCES[sentence % len(SENTENCES)]
                sentence += 1
                synthesize(words.lower(), corpus / part / spk / chapter / f"{utt}.flac", voice=voice)
                by_chapter[chapter].append(f"{utt} {words}")
                texts[part][utt] = words
            for chapter, lines in by_chapter.items():
                chapter_lines.append(f"{chapter:<7}| {spk:<5}| 0.10 | {part:<16} | Book {chapter}")
                trans = corpus / part / spk / chapter / f"{spk}-{chapter}.trans.txt"
                trans.write_text("".join(line + "\n" for line in lines))
    (corpus / "SPEAKERS.TXT").write_text(
        "; Speakers of the tiny test corpus\n;ID  |SEX| SUBSET           |MINUTES| NAME\n"
        + "".join(line + "\n" for line in speaker_lines))
    (corpus / "CHAPTERS.TXT").write_text(
        ";ID    |READER|MINUTES| SUBSET           | BOOK\n" + "".join(line + "\n" for line in chapter_lines))
    (corpus / "README.TXT").write_text("Tiny LibriSpeech-shaped corpus for tests.\n")

    md5: dict[str, str] = {}
    archives = {}
    for part in parts:
        arc = mirror / "12" / f"{part}.tar.gz"
        with tarfile.open(arc, "w:gz") as tf:
            for top in ("README.TXT", "SPEAKERS.TXT", "CHAPTERS.TXT"):
                tf.add(corpus / top, arcname=f"LibriSpeech/{top}")
            tf.add(corpus / part, arcname=f"LibriSpeech/{part}")
        archives[part] = arc
        md5[arc.name] = md5sum(arc)

    lm = {}
    all_text = [t for part in parts for t in texts[part].values()] + list(SENTENCES)
    for name in lm_files:
        path = mirror / "11" / name
        _write_lm_file(path, all_text)
        lm[name] = path
        md5[name] = md5sum(path)
    md5_file = root / "md5.txt"
    md5_file.write_text("".join(f"{k} {v}\n" for k, v in sorted(md5.items())))
    return {"root": root, "corpus": corpus, "mirror": mirror, "md5_file": md5_file, "md5": md5,
            "archives": archives, "lm": lm, "text": texts, "speakers": spk_ids}


def make_libritts(root, parts=("dev-clean", "test-clean", "train-clean-100"), speakers: int = 2,
                  utts_per_speaker: int = 3) -> dict:
    """Build a LibriTTS-shaped corpus and its OpenSLR-style mirror under ``root``.

    Layout (as in the real archives, README_libritts.txt): ``LibriTTS/<part>/<speaker>/<chapter>/``
    with ``<speaker>_<chapter>_<paragraph>_<sentence>.wav`` (24 kHz, 16-bit mono) and its
    ``.normalized.txt`` and ``.original.txt``, ``<speaker>_<chapter>.trans.tsv`` (id, original,
    normalized) and ``<speaker>_<chapter>.book.tsv``; the top-level files (README_libritts.txt,
    SPEAKERS.txt, speakers.tsv, LICENSE.txt) in every archive. ``root/mirror/60/<part>.tar.gz``,
    ``root/sha256.txt`` (``name sha256`` lines for ``--sha256-file``).

    Returns ``{"mirror", "sha256_file", "text": {part: {utt: normalized}}, "speakers": {part: [ids]}}``
    with Kaldi-style utt ids (``<speaker>-<chapter>-<paragraph>-<sentence>``).
    """
    root = Path(root)
    corpus = root / "corpus" / "LibriTTS"
    mirror = root / "mirror" / "60"
    mirror.mkdir(parents=True, exist_ok=True)
    texts: dict[str, dict[str, str]] = {}
    spk_ids: dict[str, list[str]] = {}
    speaker_rows = []
    sentence = 0
    for p_idx, part in enumerate(parts):
        texts[part], spk_ids[part] = {}, []
        for s in range(speakers):
            spk = str(19 + 100 * p_idx + 7 * s)
            chapter = str(198 + s)
            spk_ids[part].append(spk)
            speaker_rows.append((spk, "F" if s % 2 else "M", part))
            voice = VOICES[(p_idx * speakers + s) % len(VOICES)]
            d = corpus / part / spk / chapter
            trans, book = [], []
            for u in range(utts_per_speaker):
                utt = f"{spk}_{chapter}_{u:06d}_{u % 2:06d}"
                original = SENTENCES[sentence % len(SENTENCES)]
                normalized = original.replace("&", "and")
                sentence += 1
                synthesize(normalized.lower(), d / f"{utt}.wav", voice=voice, sample_rate=24000)
                (d / f"{utt}.normalized.txt").write_text(normalized)
                (d / f"{utt}.original.txt").write_text(original)
                trans.append(f"{utt}\t{original}\t{normalized}")
                book.append(f"{utt}\t{original}\t{normalized}\ttrue\t0.0\t1.0\t30.0")
                texts[part]["-".join(utt.split("_"))] = normalized
            (d / f"{spk}_{chapter}.trans.tsv").write_text("\n".join(trans) + "\n")
            (d / f"{spk}_{chapter}.book.tsv").write_text("\n".join(book) + "\n")
    (corpus / "README_libritts.txt").write_text("Tiny LibriTTS-shaped corpus for tests.\n")
    (corpus / "LICENSE.txt").write_text("CC BY 4.0\n")
    (corpus / "SPEAKERS.txt").write_text(";ID  |SEX| SUBSET           |MINUTES| NAME\n" + "".join(
        f"{spk:<5}| {sex} | {part:<16} | 0.10 | Reader {spk}\n" for spk, sex, part in speaker_rows))
    (corpus / "speakers.tsv").write_text("READER\tGENDER\tSUBSET\tNAME\n" + "".join(
        f"{spk}\t{sex}\t{part}\tReader {spk}\n" for spk, sex, part in speaker_rows))
    sums = {}
    for part in parts:
        arc = mirror / f"{part}.tar.gz"
        with tarfile.open(arc, "w:gz") as tf:
            for top in ("README_libritts.txt", "LICENSE.txt", "SPEAKERS.txt", "speakers.tsv"):
                tf.add(corpus / top, arcname=f"LibriTTS/{top}")
            tf.add(corpus / part, arcname=f"LibriTTS/{part}")
        sums[arc.name] = sha256sum(arc)
    sha_file = root / "sha256.txt"
    sha_file.write_text("".join(f"{k} {v}\n" for k, v in sorted(sums.items())))
    return {"mirror": root / "mirror", "sha256_file": sha_file, "text": texts, "speakers": spk_ids}


def _write_lm_file(path: Path, sentences: list[str]) -> None:
    """Write one OpenSLR 11 resource in its real format, computed from ``sentences``."""
    counts = Counter(w for s in sentences for w in s.split())
    name = path.name
    if name == "librispeech-lm-norm.txt.gz":
        with gzip.open(path, "wt") as f:
            f.writelines(s + "\n" for s in sentences)
    elif name == "librispeech-vocab.txt":
        path.write_text("".join(w + "\n" for w, _ in counts.most_common()))
    elif name == "librispeech-lexicon.txt":
        # Letters stand in for phones: the format (WORD<TAB>PHONES) is what matters here.
        path.write_text("".join(f"{w}\t{' '.join(w)}\n" for w in sorted(counts)))
    elif name.endswith(".arpa.gz"):
        # A maximum-likelihood unigram model with sentence markers: valid ARPA for kenlm.
        total = sum(counts.values()) + len(sentences)
        probs = {"</s>": len(sentences) / total, **{w: c / total for w, c in counts.items()}}
        lines = ["", "\\data\\", f"ngram 1={len(probs) + 1}", "", "\\1-grams:", "-99\t<s>"]
        lines += [f"{math.log10(p):.6f}\t{w}" for w, p in sorted(probs.items())]
        lines += ["", "\\end\\", ""]
        with gzip.open(path, "wt") as f:
            f.write("\n".join(lines))
    else:
        raise ValueError(f"no generator for LM resource {name!r}")


def word_list_arpa(words, logprob: float = -1.0) -> str:
    """An ARPA model giving each of ``words`` log10-probability ``logprob`` (and ``<unk>`` -3), with the
    one bigram KenLM needs to load it (it reads bigram models and up)."""
    words = list(words)
    lines = ["\\data\\", f"ngram 1={len(words) + 3}", "ngram 2=1", "", "\\1-grams:", "-1.0\t<s>\t-0.3",
             "-1.0\t</s>", "-3.0\t<unk>", *(f"{logprob}\t{w}" for w in words), "", "\\2-grams:",
             f"{logprob}\t<s> {words[0]}", "", "\\end\\", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- Speech Commands

COMMANDS_V1_12 = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


def make_speech_commands(root, version: int = 1, words=COMMANDS_V1_12 + ("bed", "cat", "dog"),
                         speakers: int = 4, clips_per_speaker: int = 1, noise_seconds: float = 12.0,
                         noise_files=("white_noise.wav", "pink_noise.wav")) -> dict:
    """Build a Speech-Commands-shaped corpus and its archive under ``root``.

    ``root/corpus/<word>/<hash>_nohash_<n>.wav``: 1 s, 16 kHz, mono, 16-bit clips, one
    synthesized voice per speaker hash; ``root/corpus/_background_noise_/`` with generated
    noise wavs (16 kHz mono, ``noise_seconds`` long) and a README.md;
    ``validation_list.txt`` / ``testing_list.txt`` name ``<word>/<file>`` lines: the first
    speaker's clips are the validation set, the second's the test set, the rest train
    (so every word is in every split when ``speakers >= 3``).
    ``root/mirror/speech_commands_v0.0<version>.tar.gz`` packs it like the real archive:
    word folders at the top, no enclosing directory.

    Returns ``{"root", "corpus", "mirror", "archive", "sha256", "sha256_file",
    "speakers": [hashes], "splits": {"train"|"dev"|"test": ["word/file.wav", ...]}}``.
    """
    root = Path(root)
    corpus = root / "corpus"
    mirror = root / "mirror"
    corpus.mkdir(parents=True, exist_ok=True)
    mirror.mkdir(parents=True, exist_ok=True)
    hashes = [hashlib.sha1(f"speaker{i}".encode()).hexdigest()[:8] for i in range(speakers)]
    splits: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for s, spk in enumerate(hashes):
        voice = VOICES[s % len(VOICES)]
        split = "dev" if s == 0 else "test" if s == 1 else "train"
        for word in words:
            for n in range(clips_per_speaker):
                rel = f"{word}/{spk}_nohash_{n}.wav"
                # Pad then trim: every clip is exactly one second, like the real corpus.
                synthesize(word, corpus / rel, voice=voice, extra_sox=("pad", "0.1", "1", "trim", "0", "1"))
                splits[split].append(rel)
    noise_dir = corpus / "_background_noise_"
    noise_dir.mkdir(exist_ok=True)
    kinds = ("whitenoise", "pinknoise", "brownnoise")
    for i, name in enumerate(noise_files):
        subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(noise_dir / name),
                        "synth", str(noise_seconds), kinds[i % len(kinds)], "vol", "0.3"], check=True)
    (noise_dir / "README.md").write_text("Generated noise for tests.\n")
    (corpus / "validation_list.txt").write_text("".join(r + "\n" for r in sorted(splits["dev"])))
    (corpus / "testing_list.txt").write_text("".join(r + "\n" for r in sorted(splits["test"])))
    (corpus / "LICENSE").write_text("CC BY 4.0 (test corpus)\n")
    archive = mirror / f"speech_commands_v0.0{version}.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for entry in sorted(corpus.iterdir()):
            tf.add(entry, arcname=entry.name)
    sha = sha256sum(archive)
    sha_file = root / "sha256.txt"
    sha_file.write_text(f"{archive.name} {sha}\n")
    return {"root": root, "corpus": corpus, "mirror": mirror, "archive": archive, "sha256": sha,
            "sha256_file": sha_file, "speakers": hashes, "splits": splits}


# --------------------------------------------------------------------------- HTTP server

class LocalServer:
    """A running file server; see ``serve_directory``.

    ``url``: base URL without a trailing slash. ``requests``: one dict per GET with
    ``path``, ``range`` (the Range header or None) and ``status``. Fault injection, each
    applied to the next GET of ``name`` (a path relative to the served directory) only:
    ``drop_once(name, after_bytes)`` sends the headers and ``after_bytes`` of the body,
    then closes the connection; ``corrupt_once(name)`` serves the body with bytes flipped
    (same length). ``ignore_range = True`` makes the server answer every GET with 200 and
    the whole file, as servers without range support do.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory).resolve()
        self.requests: list[dict] = []
        self.ignore_range = False
        self._drops: dict[str, int] = {}
        self._corrupt: set[str] = set()
        self._lock = threading.Lock()
        self.url = ""

    def drop_once(self, name: str, after_bytes: int) -> None:
        with self._lock:
            self._drops[name.lstrip("/")] = after_bytes

    def corrupt_once(self, name: str) -> None:
        with self._lock:
            self._corrupt.add(name.lstrip("/"))

    def gets(self, name: str) -> list[dict]:
        """The logged requests for ``name``."""
        return [r for r in self.requests if r["path"] == name.lstrip("/")]

    def _take_faults(self, name: str) -> tuple[int | None, bool]:
        with self._lock:
            drop = self._drops.pop(name, None)
            corrupt = name in self._corrupt
            self._corrupt.discard(name)
        return drop, corrupt


def _make_handler(server: LocalServer):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):
            name = urllib.parse.unquote(urllib.parse.urlparse(self.path).path).lstrip("/")
            rng = self.headers.get("Range")
            path = (server.directory / name).resolve()
            entry = {"path": name, "range": rng, "status": None}
            server.requests.append(entry)
            if server.directory not in path.parents or not path.is_file():
                entry["status"] = 404
                self.send_error(404, "Not Found")
                return
            data = path.read_bytes()
            start, status = 0, 200
            if rng and not server.ignore_range:
                try:
                    unit, spec = rng.split("=", 1)
                    first, _, last = spec.partition("-")
                    start = int(first)
                    end = int(last) if last else len(data) - 1
                    assert unit.strip() == "bytes"
                except (ValueError, AssertionError):
                    entry["status"] = 400
                    self.send_error(400, "Bad Range")
                    return
                if start >= len(data):
                    entry["status"] = 416
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
                data_out = data[start:end + 1]
            else:
                data_out = data
            drop, corrupt = server._take_faults(name)
            if corrupt:
                flipped = bytearray(data_out)
                for i in range(len(flipped) // 3, len(flipped), max(1, len(flipped) // 7)):
                    flipped[i] ^= 0xFF
                data_out = bytes(flipped)
            entry["status"] = status
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data_out)))
            self.send_header("Accept-Ranges", "none" if server.ignore_range else "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{start + len(data_out) - 1}/{len(data)}")
            self.end_headers()
            if drop is not None:
                entry["dropped_after"] = drop
                self.wfile.write(data_out[:drop])
                self.wfile.flush()
                # Close abruptly: the client sees fewer bytes than Content-Length promised.
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(data_out)

    return Handler


@contextlib.contextmanager
def serve_directory(path):
    """Serve ``path`` over HTTP on 127.0.0.1 (a free port) in a background thread.

    Yields a ``LocalServer`` (``.url`` is the base URL, e.g. ``http://127.0.0.1:41234``);
    supports ``Range: bytes=N-`` and fault injection (``drop_once``, ``corrupt_once``,
    ``ignore_range``). The server stops when the ``with`` block ends.
    """
    state = LocalServer(Path(path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()

