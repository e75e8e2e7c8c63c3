#!/usr/bin/env bash
# Usage: data_dir_from_folder.sh [--transcripts FILE] [--speaker dir|none] [--normalize true|false] FOLDER OUT
# A Kaldi data dir OUT (wav.scp, text, utt2spk, spk2utt) from a folder of audio files and their
# transcripts: a .txt/.lab beside each file, LibriSpeech *.trans.txt files, or --transcripts (a
# 'KEY TEXT' table, or a TSV/CSV with a header such as Common Voice's path/sentence/client_id).
# Speakers: the table's speaker column, else the sub-directory (--speaker dir), else none.
# --normalize true: lower-case ASCII words, numbers spelled out (English). Details: s2s/recipe/folder.py.
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --transcripts|--speaker|--normalize) args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    --*) echo "$0: unknown option $1 (see --help)" >&2; exit 1 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "Usage: $0 [--transcripts FILE] [--speaker dir|none] [--normalize true|false] FOLDER OUT" >&2; exit 1; }
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m s2s.recipe.folder from-folder "$@" "${args[@]}"
