#!/usr/bin/env bash
# egs/ljspeech: Tacotron 2 on LJSpeech 1.1 (one speaker, 24 h, 22.05 kHz), Griffin-Lim audio.
#
# Stages (numbers are fixed):
#   0  download LJSpeech-1.1.tar.bz2 (2.6 GB, sha256-checked, resumable) and extract it
#   1  data prep: data/{train,dev,test} (last 100 + 100 utterances held out)
#   2  features: log-mel targets (conf/logmel.yaml) for all sets through $train_cmd
#   3  train Tacotron 2 (exp/<tag>; alignment PNGs in exp/<tag>/plots at every validation)
#   4  synthesize the test sentences: exp/<tag>/synth_test/{wav/,wav.scp,...}
#
# Usage: ./run.sh [--stage N] [--stop-stage M] [--base-url URL] [--train-config conf/tacotron2.yaml] ...
# Use the trained model for ASR augmentation with
#   utils/synthesize_data.sh --backend tacotron2 --model exp/<tag>/model.pt TEXT OUT LOG FEATS
set -euo pipefail

# The recipe's files (cmd.sh, path.sh, conf/, local/) are relative to its directory.
if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0
stop_stage=4
nj=4                       # parallel jobs for features and synthesis
base_url=https://data.keithito.com/data/speech   # where LJSpeech-1.1.tar.bz2 lives
sha256=be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5  # of LJSpeech-1.1.tar.bz2
downloads=downloads        # archive and extracted corpus
num_dev=100
num_test=100
feats_config=conf/logmel.yaml
train_config=conf/tacotron2.yaml
train_args=""              # extra overrides for s2s.bin.train, e.g. "--max_steps 1000"
tag=""                     # experiment name (default: the train config's name)
griffin_lim_iters=32
ngpu=auto                  # GPUs for training (auto: all visible; 0: CPU)
force=false

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 4

[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
exp=exp/$tag
sets="train dev test"
mkdir -p exp
corpus=$downloads/LJSpeech-1.1

download() {
  python -m s2s.bin.download --url "${base_url%/}/LJSpeech-1.1.tar.bz2" --dest "$downloads/" \
    ${sha256:+--sha256 $sha256} --extract-to "$downloads"
}
stage 0 download download --args "$base_url $sha256" --out "$corpus/metadata.csv"

data_prep() {
  python local/data_prep.py --num-dev $num_dev --num-test $num_test "$corpus" data
  for s in $sets; do utils/validate_data_dir.sh --no-feats data/$s; done
}
stage 1 data data_prep --args "$num_dev $num_test" --in "$corpus/metadata.csv local/data_prep.py" \
  --out "data/train/wav.scp data/dev/wav.scp data/test/wav.scp"

features() {
  for s in $sets; do
    utils/make_feats.sh --cmd "$train_cmd" --nj $nj --conf $feats_config data/$s exp/make_feats/$s logmel/$s
  done
}
stage 2 features features --args "$nj" --in "$feats_config data/train/wav.scp data/dev/wav.scp data/test/wav.scp" \
  --out "data/train/feats.scp data/dev/feats.scp data/test/feats.scp"

train() {
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config --train_data data/train \
    --valid_data data/dev --plot_dir $exp/plots $train_args
}
stage 3 train train --key $tag --args "$train_args" --in "$train_config data/train/feats.scp data/dev/feats.scp" \
  --out "$exp/model.pt"

synthesize() {
  local out=$exp/synth_test
  $train_cmd JOB=1:$nj $out/log/synth.JOB.log \
    python -m s2s.bin.synthesize $exp/model.pt --text data/test/text --out-dir $out \
      --sample-rate 22050 --griffin-lim-iters $griffin_lim_iters --nj $nj --job JOB
  utils/combine_data.sh $out $(for j in $(seq $nj); do echo $out/split$nj/$j; done)
  grep -h "reached the decoder step limit" $out/log/synth.*.log | sed 's/^.*: //' || true
}
stage 4 synthesize synthesize --key $tag --args "$nj $griffin_lim_iters" --in "$exp/model.pt data/test/text" \
  --out "$exp/synth_test/wav.scp"
