#!/usr/bin/env bash
# egs/mini stages 7-8: beam search with an n-gram, then n-best rescoring with a neural LM.
#
#   local/lm_stages.sh [--stage 7] [--stop-stage 8] [--tag TAG] [--nj 2] [--lm-config conf/lm_transformer.yaml] ...
#
# run.sh calls it for its stages 7 and 8 (pass --stage/--stop-stage/--tag/--nj/--force through;
# do not wrap it in another `stage`: it keeps its own stamps in exp/.stamps/).
#   7  n-gram: train a word $ngram_order-gram on data/train/text (utils/train_ngram.sh -> data/lm),
#      tune alpha/beta on dev with s2s.bin.tune_lm over the cached log-probabilities, beam-decode
#      dev and test with the best alpha/beta (n-best lists), score as "<tag> beam+4gram"
#   8  neural LM: train it (task lm, $lm_config -> exp/<lm name>), rescore the dev n-best lists
#      tuning lambda (and a length bonus) on dev, rescore test with them, score as "<tag> rescored"
#
# Needs (stages 1-5): data/{train,dev,test}/text, data/lang/tokens.txt, and
#   exp/<tag>/decode_{dev,test}/logprobs.scp (written by stage 5's --dump-logprobs).
# Writes: data/lm/{ngram.arpa,ngram.bin,lexicon.txt}; exp/<tag>/tune_lm/{grid.txt,best.yaml};
#   exp/<tag>/decode.yaml (beam search with the n-gram and the tuned weights: s2s-transcribe's default);
#   exp/<tag>/decode_{dev,test}_beam/{text,nbest.jsonl,scoring/}; exp/<lm name>/model.pt;
#   exp/<tag>/decode_{dev,test}_rescore/{text,nbest.jsonl,scoring/} (+ tune.txt, best_weights for dev);
#   RESULTS.md: WER rows "<tag> beam+4gram" and "<tag> rescored" per set, and a table of the tuned
#   weights (alpha, beta, lambda, length bonus) with the dev WER they reached.
set -euo pipefail

stage=7               # first stage to run (7 or 8)
stop_stage=8          # last stage to run
nj=2                  # parallel decoding jobs
tag=train             # acoustic model experiment: exp/<tag>
ngram_order=4         # n-gram order
alphas=0:2:0.25       # n-gram weight grid for tune_lm (start:stop:step)
betas=-1:3:0.5        # word insertion bonus grid for tune_lm
beam=64               # beam width
nbest=16              # hypotheses kept per utterance for rescoring
lm_config=conf/lm_transformer.yaml  # neural LM config (conf/lm_lstm.yaml for the LSTM)
lm_weights=0:1.5:0.1  # lambda grid for rescoring
length_bonuses=-1:2:0.5  # extra per-word bonus grid tuned with lambda
force=false           # re-run selected stages even when up to date

# shellcheck source=../cmd.sh
. ./cmd.sh
# shellcheck source=../path.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh

exp=exp/$tag
lm_exp=exp/$(basename "${lm_config%.*}")
lang=data/lang/tokens.txt

# The value of KEY in a "key value" / "key: value" / "key=value" file (the first KEY found).
weight() {
  local file=$1; shift
  for key in "$@"; do
    awk -v k="$key" '{ sub(/[:=]/, " ") } $1 == k { print $2; found = 1; exit } END { exit !found }' "$file" && return 0
  done
  echo "$0: none of '$*' in $file" >&2; return 1
}

# Beam-decode the cached log-probabilities of set $1 into $2 in $nj jobs, with alpha $3, beta $4.
beam_decode() {
  local s=$1 dir=$2 a=$3 b=$4
  rm -f "$dir"/text "$dir"/nbest.jsonl
  $decode_cmd JOB=1:$nj "$dir/log/decode.JOB.log" \
    python -m s2s.bin.decode --logprobs "$exp/decode_$s/logprobs.scp" --tokens $lang --out "$dir" \
      --nj $nj --job JOB --decoder beam --lm data/lm/ngram.bin --lexicon data/lm/lexicon.txt \
      --beam $beam --lm-weight="$a" --word-score="$b" --nbest $nbest || return 1
  for j in $(seq $nj); do cat "$dir/text.$j"; done | sort > "$dir/text.tmp" && mv "$dir/text.tmp" "$dir/text" &&
    for j in $(seq $nj); do cat "$dir/nbest.$j.jsonl"; done > "$dir/nbest.jsonl.tmp" &&
    mv "$dir/nbest.jsonl.tmp" "$dir/nbest.jsonl"
}

# A row of the tuned-weights table in RESULTS.md: tag, stage, alpha, beta, lambda, bonus, dev WER.
record_weights() {
  python -c 'import sys; from s2s.score import update_results as u
u("RESULTS.md", ["tag", "LM stage", "alpha", "beta", "lambda", "length bonus", "dev WER (tuning)"], sys.argv[1:])' "$@"
}

ngram_beam() {
  utils/train_ngram.sh --order $ngram_order data/train/text data/lang data/lm || return 1
  python -m s2s.bin.tune_lm --logprobs $exp/decode_dev/logprobs.scp --tokens $lang --ref data/dev/text \
    --lm data/lm/ngram.bin --lexicon data/lm/lexicon.txt --beam $beam --alpha=$alphas --beta=$betas \
    --nj $nj --grid-out $exp/tune_lm/grid.txt --out $exp/tune_lm/best.yaml --decoding-for $exp/model.pt || return 1
  local a b
  a=$(weight $exp/tune_lm/best.yaml lm_weight) && b=$(weight $exp/tune_lm/best.yaml word_score) || return 1
  echo "tuned on dev: alpha=$a beta=$b"
  for s in dev test; do
    beam_decode $s $exp/decode_${s}_beam "$a" "$b" &&
      python -m s2s.bin.score --ref data/$s/text --hyp $exp/decode_${s}_beam/text \
        --out-dir $exp/decode_${s}_beam/scoring --results RESULTS.md --tag "$tag beam+${ngram_order}gram" --set $s ||
      return 1
  done
  printf 'alpha %s\nbeta %s\n' "$a" "$b" > $exp/decode_dev_beam/weights.tmp &&
    mv $exp/decode_dev_beam/weights.tmp $exp/decode_dev_beam/weights
  local wer
  wer=$(weight $exp/tune_lm/best.yaml wer)
  record_weights "$tag" "beam+${ngram_order}gram" "$a" "$b" "-" "-" "$wer"
}
stage 7 ngram_beam ngram_beam --args "$tag $ngram_order $alphas $betas $beam $nbest $nj" \
  --in "data/train/text data/dev/text data/test/text $lang $exp/decode_dev/logprobs.scp $exp/decode_test/logprobs.scp" \
  --out "$exp/decode_dev_beam/nbest.jsonl $exp/decode_test_beam/nbest.jsonl $exp/decode_dev_beam/weights"

nnlm_rescore() {
  $cuda_cmd $lm_exp/log/train.log \
    python -m s2s.bin.train --config $lm_config --exp-dir $lm_exp \
      --train_data data/train --valid_data data/dev --token_list data/lang --resume &&
    python -m s2s.bin.average_checkpoints --exp-dir $lm_exp --num 1 --out $lm_exp/model.pt || return 1
  local a b
  a=$(weight $exp/decode_dev_beam/weights alpha) && b=$(weight $exp/decode_dev_beam/weights beta) || return 1
  # lambda and the length bonus are tuned together: the neural LM's log-probability falls with
  # every word, so adding it shifts the length balance alpha/beta were tuned for.
  python -m s2s.bin.rescore --nbest $exp/decode_dev_beam/nbest.jsonl --lm-model $lm_exp/model.pt \
    --out $exp/decode_dev_rescore --ngram-weight="$a" --word-score="$b" \
    --tune --ref data/dev/text --weights=$lm_weights --length-bonuses=$length_bonuses || return 1
  local lam bonus
  lam=$(weight $exp/decode_dev_rescore/best_weights lm_weight) &&
    bonus=$(weight $exp/decode_dev_rescore/best_weights length_bonus) || return 1
  python -m s2s.bin.rescore --nbest $exp/decode_test_beam/nbest.jsonl --lm-model $lm_exp/model.pt \
    --out $exp/decode_test_rescore --ngram-weight="$a" --word-score="$b" --lm-weight="$lam" --length-bonus="$bonus" ||
    return 1
  for s in dev test; do
    python -m s2s.bin.score --ref data/$s/text --hyp $exp/decode_${s}_rescore/text \
      --out-dir $exp/decode_${s}_rescore/scoring --results RESULTS.md --tag "$tag rescored" --set $s || return 1
  done
  record_weights "$tag" "rescored ($(basename "${lm_config%.*}"))" "$a" "$b" "$lam" "$bonus" \
    "$(weight $exp/decode_dev_rescore/best_weights wer)"
  grep -h "validation:" $lm_exp/train.log | tail -n 1 | sed "s|^|$lm_exp: final |"
}
stage 8 nnlm_rescore nnlm_rescore --args "$tag $lm_weights $length_bonuses" \
  --in "$lm_config data/train/text data/dev/text $lang $exp/decode_dev_beam/nbest.jsonl $exp/decode_test_beam/nbest.jsonl" \
  --out "$lm_exp/model.pt $exp/decode_dev_rescore/text $exp/decode_test_rescore/text"
