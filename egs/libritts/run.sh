#!/usr/bin/env bash
# egs/libritts: a multi-speaker TTS (Tacotron 2 with style tokens, or Centaur) and a vocoder on
# LibriTTS (OpenSLR 60, 24 kHz read speech by LibriSpeech's readers), the synthesizer that
# egs/librispeech's stage 4 can speak with.
#
# Stages (numbers are fixed):
#   0  download OpenSLR 60 (--parts), SHA-256-checked, resumable, safely extracted
#      (--libritts-dir DIR uses an existing copy of LibriTTS/ instead)
#   1  data prep: data/<part> per part, data/train (all train-* parts), data/dev (--num-dev
#      utterances of the dev part, the TTS validation set), validated
#   2  features: the TTS log-mel (conf/logmel.yaml, 16 kHz) for train, dev and the test part
#   3  train the TTS (--train-config: conf/tacotron2_gst.yaml, conf/centaur.yaml, or
#      conf/fastpitch_aligner.yaml: FastPitch with its own aligner, after writing each frame's F0,
#      data/{train,dev}/f0), alignment plots in exp/<tag>/plots
#   4  train the vocoder (--vocoder-config: conf/vocoder_istft.yaml or conf/vocoder_wavenet.yaml)
#   5  synthesize --num-test sentences of the test part in --num-voices training voices:
#      exp/<tag>/synth_test/{wav/,wav.scp,text,...}
#
# Then, in egs/librispeech (same corpus family, so the LM text's sentences are in the readers' style):
#   ./run.sh --syn-ratio 50:50 --syn-backend tacotron2 --syn-model ../libritts/exp/tacotron2_gst/model.pt \
#     --syn-vocoder ../libritts/exp/vocoder_istft/model.pt
# Usage: ./run.sh [--stage N] [--stop-stage M] [--ngpu 4] [--train-config conf/centaur.yaml] ...
set -euo pipefail

if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0
stop_stage=5
nj=8                       # parallel jobs for features and synthesis
download_dir=downloads     # archives and the extracted corpus
libritts_dir=""            # an existing LibriTTS/ directory (skips the download)
base_url=https://www.openslr.org/resources  # mirror root holding 60/
sha256_file=""             # "name sha256" lines overriding the sums (another mirror)
parts="dev-clean test-clean train-clean-100 train-clean-360"
dev_part=dev-clean         # validation utterances come from here
test_part=test-clean       # sentences for stage 5
num_dev=500                # validation utterances
min_seconds=0.5            # shorter utterances are left out
max_seconds=15             # longer utterances are left out
feats_config=conf/logmel.yaml
train_config=conf/tacotron2_gst.yaml   # or conf/centaur.yaml, conf/fastpitch_aligner.yaml
vocoder_config=conf/vocoder_istft.yaml  # or conf/vocoder_wavenet.yaml
train_args=""              # extra overrides for the TTS training, e.g. "--max_epochs 2"
vocoder_args=""            # extra overrides for the vocoder training
num_test=100               # test sentences synthesized in stage 5
num_voices=8               # training voices they are spoken by
ngpu=auto                  # GPUs per node (auto: all visible; 0: CPU)
tag=""                     # TTS experiment name (default: the train config's name)
force=false

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 5

[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
vtag=$(basename "${vocoder_config%.*}")
exp=exp/$tag
corpus=${libritts_dir:-$download_dir/LibriTTS}
train_parts=""
for p in $parts; do case $p in train-*) train_parts+=" $p" ;; esac; done
if [ -z "$train_parts" ] && [ "$stop_stage" -ge 1 ]; then
  echo "$0: --parts has no train-* part: add one (e.g. train-clean-100) or stop after stage 0" >&2; exit 2
fi
mkdir -p exp

download() {
  local opts=(); [ -n "$sha256_file" ] && opts=(--sha256-file "$sha256_file")
  local/download.sh --base-url "$base_url" --parts "$parts" "${opts[@]}" "$download_dir"
}
[ -z "$libritts_dir" ] && stage 0 download download --args "$parts|$base_url" --in "$sha256_file" \
  --out "$(for p in $parts; do echo -n "$corpus/$p "; done)"

data_prep() {
  for p in $parts; do
    python local/data_prep.py --min-seconds $min_seconds --max-seconds $max_seconds "$corpus/$p" "data/${p//-/_}"
  done
  # shellcheck disable=SC2046
  utils/combine_data.sh data/train $(for p in $train_parts; do echo "data/${p//-/_}"; done)
  utils/subset_data_dir.sh "data/${dev_part//-/_}" $num_dev data/dev
  for s in train dev "${test_part//-/_}"; do utils/validate_data_dir.sh --no-feats data/$s; done
}
stage 1 data data_prep --args "$parts $dev_part $test_part $num_dev $min_seconds $max_seconds" \
  --in "local/data_prep.py" --out "data/train/wav.scp data/dev/wav.scp data/${test_part//-/_}/text"

features() {
  for s in train dev; do
    utils/make_feats.sh --cmd "$train_cmd" --nj $nj --conf $feats_config data/$s exp/make_feats/$s logmel
  done
}
stage 2 features features --args "$nj" --in "$feats_config data/train/wav.scp data/dev/wav.scp" \
  --out "data/train/feats.scp data/dev/feats.scp"

train() {
  # A FastSpeech with its own aligner (model_conf.aligner) trains FastPitch's pitch on each frame's F0.
  local s
  if python -c 'import sys, yaml; sys.exit(not ((yaml.safe_load(open(sys.argv[1])) or {}).get("model_conf") or {}).get("aligner"))' "$train_config"; then
    for s in train dev; do
      if [ ! -f data/$s/f0 ] || [ data/$s/feats.scp -nt data/$s/f0 ]; then
        $train_cmd exp/f0/log/f0_$s.log python -m s2s.bin.tts_pitch --data data/$s
      fi
    done
  fi
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config --train_data data/train \
    --valid_data data/dev --plot_dir $exp/plots $train_args
}
stage 3 train train --key $tag --args "$train_args" --in "$train_config data/train/feats.scp data/dev/feats.scp" \
  --out "$exp/model.pt"

train_vocoder() {
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu exp/$vtag -- --config $vocoder_config --train_data data/train \
    --valid_data data/dev $vocoder_args
}
stage 4 vocoder train_vocoder --key $vtag --args "$vocoder_args" \
  --in "$vocoder_config data/train/feats.scp data/dev/feats.scp" --out "exp/$vtag/model.pt"

synthesize() {
  local out=$exp/synth_test
  utils/subset_data_dir.sh "data/${test_part//-/_}" $num_test data/test_sentences
  $train_cmd JOB=1:$nj $out/log/synth.JOB.log \
    python -m s2s.bin.synthesize $exp/model.pt --text data/test_sentences/text --out-dir $out \
      --vocoder exp/$vtag/model.pt --num-speakers $num_voices --nj $nj --job JOB
  # shellcheck disable=SC2046
  utils/combine_data.sh $out $(for j in $(seq $nj); do echo $out/split$nj/$j; done)
  grep -h "reached the decoder step limit" $out/log/synth.*.log | sed 's/^.*: //' || true
}
stage 5 synthesize synthesize --key $tag --args "$nj $num_test $num_voices $vtag" \
  --in "$exp/model.pt exp/$vtag/model.pt data/${test_part//-/_}/text" --out "$exp/synth_test/wav.scp"
