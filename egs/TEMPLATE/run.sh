#!/usr/bin/env bash
# egs/TEMPLATE: speech recognition on your own data, from a folder of audio and transcripts (or
# Kaldi data dirs) to a trained model, decoded with an n-gram and scored. Copy it first:
#   utils/new_recipe.sh egs/mycorpus && cd egs/mycorpus
#   ./run.sh --audio-dir /path/to/recordings           # makes data/{train,dev,test} from the folder
#   ./run.sh --train-set tr --dev-set cv --test-sets "eval1 eval2"   # your own data/<set> dirs
#
# Stages (numbers are fixed):
#   0  data: with --audio-dir, data/all from the folder (utils/data_dir_from_folder.sh: .txt/.lab
#      beside each file, *.trans.txt, or --transcripts TABLE) split into the train/dev/test sets
#      by speaker (--split); without it, data/<set> must be there. Every set is validated.
#   1  features (--feats-config) for every set, global CMVN stats of the training set
#   2  tokens: characters, or SentencePiece with --nbpe N -> data/lang
#   3  train the acoustic model (--train-config) -> exp/<tag>/model.pt
#   4  greedy decoding of the dev and test sets (log-probabilities kept), scored into RESULTS.md
#   5  n-gram: a word n-gram of the training transcripts (+ --lm-text), alpha/beta tuned on the dev set (exp/<tag>/decode.yaml,
#      so s2s-transcribe exp/<tag>/model.pt uses it), dev and test beam-decoded, scored
#      (skipped with --use-ngram false)
#   6  neural LM rescoring (only with --use-nnlm true): an LM of the transcripts (or --lm-text), its weight
#      tuned on the dev n-best lists, every set rescored and scored
#
# A stage whose outputs are complete and whose inputs and options are unchanged is skipped;
# --force true re-runs the selected stages. Then: s2s-transcribe exp/<tag>/model.pt audio.wav
set -euo pipefail

# The recipe's files (cmd.sh, path.sh, conf/, local/) are relative to its directory.
if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=5          # last stage to run (6 with --use-nnlm true)
nj=4                  # parallel jobs (features, decoding)
audio_dir=""          # a folder of audio files and transcripts (stage 0 makes the data dirs from it)
transcripts=""        # with --audio-dir: a transcript table instead of files beside the audio
speaker=dir           # with --audio-dir: speakers from sub-directories (dir) or none
normalize=true        # with --audio-dir: lower-case ASCII words, numbers spelled out (English)
split=90:5:5          # with --audio-dir: train:dev:test shares in percent (held-out speakers)
train_set=train       # data/<train_set>: the training data
dev_set=dev           # data/<dev_set>: validation during training, LM weight tuning
test_sets="test"      # data/<set> for each: decoded and scored
feats_config=conf/fbank.yaml  # front end
nbpe=0                # 0: character tokens; N: SentencePiece BPE with N pieces
train_config=conf/train.yaml  # acoustic model and training settings
train_args=""         # extra overrides for s2s.bin.train, e.g. "--max_epochs 30"
ngpu=auto             # GPUs for training (auto: all visible; 0: CPU)
use_ngram=true        # stage 5: beam search with a word n-gram
lm_text=""            # more text for the LMs (one sentence a line, .gz ok): added to the transcripts for the
                      # n-gram; the neural LM trains on it instead of them
ngram_order=4         # n-gram order
alphas=0:2:0.25       # n-gram weights tried on dev
betas=-1:3:0.5        # word insertion bonuses tried on dev
beam=64               # beam width
nbest=16              # hypotheses kept per utterance (for rescoring)
use_nnlm=false        # stage 6: neural LM rescoring
lm_config=conf/lm_transformer.yaml  # neural LM
lm_weights=0:1.5:0.1  # neural LM weights tried on dev
length_bonuses=-1:2:0.5  # extra per-word bonuses tried with them
tag=""                # experiment name (default: the train config's name)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 6

[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
exp=exp/$tag
lm_exp=exp/$(basename "${lm_config%.*}")
eval_sets="$dev_set $test_sets"
data_of() { for s in "$@"; do echo "data/$s"; done; }
for f in "$feats_config" "$train_config"; do
  [ -f "$f" ] || { echo "$0: $f not found (--feats-config / --train-config)" >&2; exit 1; }
done
# Every set must exist before anything runs, unless stage 0 is about to make it from --audio-dir.
if ! { [ -n "$audio_dir" ] && stage_selected 0; }; then
  for s in $train_set $eval_sets; do
    for f in wav.scp text utt2spk; do
      [ -f "data/$s/$f" ] || {
        echo "$0: data/$s/$f not found: set '$s' needs a Kaldi data dir data/$s (wav.scp, text, utt2spk," \
          "spk2utt); make one from a folder with --audio-dir DIR, or name your sets with --train-set," \
          "--dev-set and --test-sets" >&2
        exit 1; }
    done
  done
fi
mkdir -p exp

data() {
  if [ -n "$audio_dir" ]; then
    # shellcheck disable=SC2086
    utils/data_dir_from_folder.sh ${transcripts:+--transcripts "$transcripts"} --speaker $speaker \
      --normalize $normalize "$audio_dir" data/all
    local shares
    [ "$(echo $test_sets | wc -w)" -eq 1 ] || { echo "--audio-dir makes three sets: give one --test-sets name" >&2; return 1; }
    IFS=: read -r -a shares <<< "$split"
    [ ${#shares[@]} -eq 3 ] || { echo "--split takes train:dev:test percentages, got '$split'" >&2; return 1; }
    utils/split_sets.sh data/all data "$train_set:${shares[0]}" "$dev_set:${shares[1]}" "$test_sets:${shares[2]}"
  fi
  for s in $train_set $eval_sets; do utils/validate_data_dir.sh --no-feats data/$s; done
}
stage 0 data data --args "$audio_dir|$transcripts|$speaker|$normalize|$split|$train_set|$eval_sets" \
  --in "$transcripts" --out "$(data_of $train_set $eval_sets | sed 's|$|/wav.scp|' | tr '\n' ' ')"

features() {
  for s in $train_set $eval_sets; do
    utils/make_feats.sh --cmd "$train_cmd" --nj $nj --conf $feats_config data/$s exp/make_feats/$s fbank/$s
  done
  utils/compute_cmvn_stats.sh data/$train_set
}
stage 1 features features --args "$nj $train_set $eval_sets" \
  --in "$feats_config $(data_of $train_set $eval_sets | sed 's|$|/wav.scp|' | tr '\n' ' ')" \
  --out "$(data_of $train_set $eval_sets | sed 's|$|/feats.scp|' | tr '\n' ' ')data/$train_set/cmvn.ark"

tokens() {
  local kind="--kind char"; [ "$nbpe" != 0 ] && kind="--kind bpe --vocab-size $nbpe"
  # shellcheck disable=SC2086
  python -m s2s.bin.prepare_tokens --text data/$train_set/text --out data/lang $kind
}
stage 2 tokens tokens --args "$nbpe" --in "data/$train_set/text" --out "data/lang/tokens.txt"

train() {
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config \
    --train_data data/$train_set --valid_data data/$dev_set --token_list data/lang $train_args
}
stage 3 train train --key $tag --args "$train_args $train_set $dev_set" \
  --in "$train_config data/$train_set/feats.scp data/$dev_set/feats.scp data/lang/tokens.txt" --out "$exp/model.pt"

greedy() {
  for s in $eval_sets; do
    utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_$s/greedy --model $exp/model.pt --data data/$s \
      --dump-logprobs
  done
  # shellcheck disable=SC2046
  utils/score.sh --modes greedy --tag $tag $exp $(data_of $eval_sets)
}
stage 4 greedy greedy --key $tag --args "$nj $eval_sets" --in "$exp/model.pt" \
  --out "$(for s in $eval_sets; do echo -n "$exp/decode_$s/greedy/logprobs.scp "; done)"

ngram_beam() {
  utils/train_ngram.sh --order $ngram_order --corpus "$lm_text" data/$train_set/text data/lang data/lm
  utils/tune_lm.sh --cmd "$decode_cmd" --nj $nj --alphas $alphas --betas $betas --beam $beam \
    --lm data/lm/ngram.bin --lexicon data/lm/lexicon.txt $exp data/$dev_set
  for s in $eval_sets; do
    utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_$s/beam --logprobs $exp/decode_$s/greedy/logprobs.scp \
      --tokens data/lang/tokens.txt --settings $exp/decode.yaml --nbest $nbest
  done
  # shellcheck disable=SC2046
  utils/score.sh --modes beam --tag $tag $exp $(data_of $eval_sets)
}
[ "$use_ngram" = true ] && stage 5 ngram_beam ngram_beam --key $tag \
  --args "$ngram_order $alphas $betas $beam $nbest $nj $eval_sets" \
  --in "data/$train_set/text $lm_text $(for s in $eval_sets; do echo -n "$exp/decode_$s/greedy/logprobs.scp "; done)" \
  --out "$exp/decode.yaml $(for s in $eval_sets; do echo -n "$exp/decode_$s/beam/nbest.jsonl "; done)"

nnlm_rescore() {
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $lm_exp -- --config $lm_config \
    --train_data "${lm_text:-data/$train_set}" --valid_data data/$dev_set --token_list data/lang
  # shellcheck disable=SC2046
  utils/rescore.sh --cmd "$decode_cmd" --weights $lm_weights --length-bonuses $length_bonuses \
    --lm $lm_exp/model.pt --dev data/$dev_set $exp $(data_of $eval_sets)
  # shellcheck disable=SC2046
  utils/score.sh --modes rescore --tag $tag $exp $(data_of $eval_sets)
}
[ "$use_ngram" = true ] && [ "$use_nnlm" = true ] && stage 6 nnlm_rescore nnlm_rescore --key $tag \
  --args "$lm_weights $length_bonuses $eval_sets" \
  --in "$lm_config $(for s in $eval_sets; do echo -n "$exp/decode_$s/beam/nbest.jsonl "; done)" \
  --out "$lm_exp/model.pt $(for s in $eval_sets; do echo -n "$exp/decode_$s/rescore/text "; done)"

if { stage_selected 4 || stage_selected 5 || stage_selected 6; } && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md (every run recorded in this directory) =="; cat RESULTS.md
fi
