#!/usr/bin/env bash
# Synthetic-speech augmentation: speak a text source with K speakers of a synthesizer, in
# parallel through $cmd, into a Kaldi data dir with features.
#
# Usage: utils/synthesize_data.sh [options] <text-source> <out-data-dir> <log-dir> <feat-dir>
#  e.g.: utils/synthesize_data.sh --cmd "$train_cmd" --nj 4 --backend flite --num-speakers 8 \
#          --feats-conf conf/fbank.yaml data/train/text data/train_syn exp/synth/train fbank/train_syn
#
# <text-source>: a Kaldi text (data/<set>/text: the training transcripts) or a plain text
#   corpus, one sentence a line (an LM corpus); --max-lines N takes a random N of its lines.
# --backend: espeak-ng | flite | festival (Debian engines, see tools/) or tacotron2 (an s2s
#   Tacotron 2 checkpoint given with --model, vocoded by --vocoder: griffin-lim or a vocoder
#   checkpoint). An engine's voice/pitch/rate setting, or a TTS model's training voice, is a
#   speaker; --speakers "ID ..." picks them, else --num-speakers K drawn with --seed from the
#   backend's speakers (list them: python -m s2s.bin.synthesize B|MODEL --list-speakers).
# Every line is spoken by one speaker in turn, or by all of them with --all-speakers true.
# Text the synthesizer cannot say (digits, punctuation, non-ASCII) is normalised and the
# changes counted in the job logs; utterance ids are <speaker>-<line id>.
# Writes <out-data-dir>/{wav.scp,text,utt2spk,spk2utt,utt2dur} with wavs in <out-data-dir>/wav,
# then (with --feats-conf) feats.scp via utils/make_feats.sh. A re-run with the same inputs
# skips the synthesis.
set -euo pipefail

cmd=utils/run.pl        # job runner
nj=4                    # parallel synthesis jobs
backend=espeak-ng       # espeak-ng | flite | festival | tacotron2
model=                  # Tacotron 2 checkpoint (backend tacotron2)
vocoder=griffin-lim     # backend tacotron2: griffin-lim or a vocoder checkpoint (task: vocoder)
speakers=               # explicit speaker ids, space separated
num_speakers=8          # K: speakers drawn from the backend's grid
all_speakers=false      # every speaker says every line (K x the text)
seed=1
max_lines=0             # use a random subset of the text source (0: all)
sample_rate=16000
feats_conf=             # frontend YAML; empty: no features
device=cpu              # tacotron2 inference device

. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/parse_options.sh"
if [ $# -ne 4 ]; then
  echo "Usage: $0 [--cmd CMD] [--nj N] [--backend B] [--model M] [--num-speakers K] [--feats-conf conf] <text-source> <out-data-dir> <log-dir> <feat-dir>" >&2
  exit 1
fi
src=$1; out=$2; logdir=$3; featdir=$4
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export LC_ALL=C

case $backend in
  espeak-ng|flite|festival) synth=(python3 -m s2s.bin.synthesize "$backend") ;;
  tacotron2)
    [ -n "$model" ] || { echo "$0: --backend tacotron2 needs --model exp/<tts tag>/model.pt (train one with egs/mini/run.sh --stage 8 or egs/libritts/run.sh)" >&2; exit 1; }
    synth=(python3 -m s2s.bin.synthesize "$model" --vocoder "$vocoder" --device "$device") ;;
  *) echo "$0: unknown --backend $backend; use espeak-ng, flite, festival or tacotron2" >&2; exit 1 ;;
esac
# Fail now, with the install command, rather than in every job.
"${synth[@]}" --list-speakers > /dev/null

mkdir -p "$out" "$logdir"
python3 -m s2s.recipe.mix text-source --max-lines "$max_lines" --seed "$seed" "$src" "$out/text_source"
spk_opt=(--num-speakers "$num_speakers")
# shellcheck disable=SC2206
[ -n "$speakers" ] && spk_opt=(--speakers $speakers)
all_opt=()
[ "$all_speakers" = true ] && all_opt=(--all-speakers)

# Synthesis is skipped when every job's tables exist from a run with the same inputs.
sig=$(echo "$backend $model $vocoder $speakers $num_speakers $all_speakers $seed $sample_rate $nj $(md5sum < "$out/text_source")" | md5sum | cut -d' ' -f1)
done_jobs=0
for j in $(seq "$nj"); do [ -f "$out/split$nj/$j/spk2utt" ] && done_jobs=$((done_jobs + 1)); done
if [ "$(cat "$out/.synth_sig" 2>/dev/null)" = "$sig" ] && [ "$done_jobs" -eq "$nj" ]; then
  echo "$0: $out: synthesis up to date; skipped"
else
  rm -rf "$out/split$nj" "$out/wav" "$out/.synth_sig"
  $cmd JOB=1:"$nj" "$logdir/synth.JOB.log" \
    "${synth[@]}" --text "$out/text_source" --out-dir "$out" "${spk_opt[@]}" "${all_opt[@]}" \
      --seed "$seed" --sample-rate "$sample_rate" --nj "$nj" --job JOB
  grep -h "normalisation changed" "$logdir"/synth.*.log | sed 's/^[^:]*: //' >&2 || true
  "$root/utils/combine_data.sh" "$out" $(for j in $(seq "$nj"); do echo "$out/split$nj/$j"; done)
  echo "$sig" > "$out/.synth_sig"
fi
if [ -n "$feats_conf" ]; then
  "$root/utils/make_feats.sh" --cmd "$cmd" --nj "$nj" --conf "$feats_conf" "$out" "$logdir/feats" "$featdir"
fi
echo "$0: $(wc -l < "$out/utt2spk") utterances in $out"
