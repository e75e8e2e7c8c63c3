#!/usr/bin/env bash
# egs/mini: a small synthetic speech corpus, trained and decoded end to end on a CPU.
#
# Stages (numbers are fixed):
#   0  synthesize the corpus (flite + espeak-ng voices; in place of a download)
#   1  data prep: Kaldi data dirs data/{train,dev,test}, validated
#   2  features: fbank for all sets through $train_cmd, global CMVN stats of train
#   3  tokens: characters -> data/lang
#   4  train the acoustic model (exp/<tag>)
#   5  decode dev and test (greedy CTC; log-probabilities kept for later stages)
#   6  score: WER/CER per set, a row per set in RESULTS.md
#   7  n-gram LM + beam search: 4-gram on the training text, alpha/beta tuned on dev over the cached
#      log-probabilities, beam decoding of dev and test, scored   (local/lm_stages.sh)
#   8  neural LM + n-best rescoring: Transformer LM, lambda tuned on dev, test rescored, scored
#   9  (only when asked: --stage 9 --stop-stage 9) the synthetic-speech experiment: espeak-ng
#      voices as "natural" speech, flite as the synthesizer, WER at natural:synthetic ratios
#      100/0 66/33 50/50 33/66 0/100 at a fixed number of steps (local/syn_ratio.sh)
#
# Usage: ./run.sh [--stage N] [--stop-stage M] [--train-config conf/train.yaml] [--nj 2] ...
# A stage whose outputs are complete and whose inputs and options are unchanged is skipped;
# --force true re-runs the selected stages.
set -euo pipefail

stage=0               # first stage to run
stop_stage=8          # last stage to run
nj=2                  # parallel jobs for synthesis, features and decoding
num_train=3000        # training utterances in the synthesized corpus
num_dev=300           # dev utterances (held-out voices)
num_test=300          # test utterances (held-out voices, unseen sentences)
seed=1                # corpus seed
feats_config=conf/fbank.yaml  # feature extraction settings
train_config=conf/train.yaml  # model and training settings
train_args=""         # extra overrides for s2s.bin.train, e.g. "--max_epochs 2"
lm_config=conf/lm_transformer.yaml  # neural LM for stage 8 (conf/lm_lstm.yaml: an LSTM LM)
tag=""                # experiment name (default: the train config's name)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh

[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
exp=exp/$tag
sets="train dev test"
mkdir -p exp

synthesize() {
  $train_cmd JOB=1:$nj exp/log/make_corpus.JOB.log \
    python local/make_corpus.py --num-train $num_train --num-dev $num_dev --num-test $num_test \
      --seed $seed --nj $nj --job JOB
}
stage 0 corpus synthesize --args "$num_train $num_dev $num_test $seed $nj" \
  --in "local/make_corpus.py local/mini_text.py" --out "corpus"

data_prep() {
  python local/make_corpus.py --num-train $num_train --num-dev $num_dev --num-test $num_test \
    --seed $seed --nj $nj --merge
  for s in $sets; do utils/validate_data_dir.sh --no-feats data/$s; done
}
stage 1 data data_prep --args "$num_train $num_dev $num_test $seed $nj" --in "corpus" \
  --out "data/train/wav.scp data/dev/wav.scp data/test/wav.scp"

features() {
  for s in $sets; do
    utils/make_feats.sh --cmd "$train_cmd" --nj $nj --conf $feats_config data/$s exp/make_feats/$s fbank/$s
  done
  utils/compute_cmvn_stats.sh data/train
}
stage 2 features features --args "$nj" --in "$feats_config data/train/wav.scp data/dev/wav.scp data/test/wav.scp" \
  --out "data/train/feats.scp data/dev/feats.scp data/test/feats.scp data/train/cmvn.ark"

tokens() {
  python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang --kind char
}
stage 3 tokens tokens --in "data/train/text" --out "data/lang/tokens.txt"

train() {
  # --resume: a re-run after a crash continues; with a changed config the trainer starts afresh
  # shellcheck disable=SC2086
  $cuda_cmd $exp/log/train.log \
    python -m s2s.bin.train --config $train_config --exp-dir $exp --resume \
      --train_data data/train --valid_data data/dev --token_list data/lang $train_args
  python -m s2s.bin.average_checkpoints --exp-dir $exp --num 1 --out $exp/model.pt
}
stage 4 train train --args "$train_args" \
  --in "$train_config data/train/feats.scp data/train/cmvn.ark data/lang/tokens.txt data/dev/feats.scp" \
  --out "$exp/model.pt"

decode() {
  for s in dev test; do
    local dir=$exp/decode_$s
    $train_cmd JOB=1:$nj $dir/log/decode.JOB.log \
      python -m s2s.bin.decode --model $exp/model.pt --data data/$s --out $dir --nj $nj --job JOB --dump-logprobs
    for j in $(seq $nj); do cat $dir/text.$j; done | sort > $dir/text.tmp && mv $dir/text.tmp $dir/text
    for j in $(seq $nj); do cat $dir/logprobs.$j.scp; done | sort > $dir/logprobs.scp
  done
}
stage 5 decode decode --args "$nj" --in "$exp/model.pt data/dev/feats.scp data/test/feats.scp" \
  --out "$exp/decode_dev/text $exp/decode_test/text"

score() {
  for s in dev test; do
    python -m s2s.bin.score --ref data/$s/text --hyp $exp/decode_$s/text --out-dir $exp/decode_$s/scoring \
      --results RESULTS.md --tag "$tag greedy" --set $s
  done
}
stage 6 score score --in "$exp/decode_dev/text $exp/decode_test/text" --out "RESULTS.md"

if [ "$stop_stage" -ge 7 ]; then
  # stages 7-8 keep their own stamps (exp/.stamps/stage7.*, stage8.*)
  local/lm_stages.sh --stage "$((stage > 7 ? stage : 7))" --stop-stage "$stop_stage" --tag "$tag" --nj $nj \
    --lm-config "$lm_config" --force $force
fi

if [ "$stop_stage" -ge 9 ]; then
  stage 9 syn_ratio "local/syn_ratio.sh --nj $nj" --args "$nj" \
    --in "data/train/feats.scp data/test/feats.scp conf/syn_train.yaml local/syn_ratio.sh" --out "exp/syn_50_50"
fi

if [ "$stop_stage" -ge 6 ] && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md =="; cat RESULTS.md
fi
