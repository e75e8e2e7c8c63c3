#!/usr/bin/env bash
# egs/mini: a small synthetic speech corpus, trained and decoded end to end on a CPU.
#
# Stages (numbers are fixed):
#   0  synthesize the corpus (flite + espeak-ng voices; in place of a download)
#   1  data prep: Kaldi data dirs data/{train,dev,test}, validated
#   2  features: fbank for all sets through $train_cmd, global CMVN stats of train
#   3  tokens: characters -> data/lang
#   4  train the acoustic model (exp/<tag>/model.pt)
#   5  greedy decoding of dev and test (log-probabilities kept for stage 6), scored into RESULTS.md
#   6  beam search + n-gram: a word 4-gram of the training text, alpha/beta tuned on dev over the
#      kept log-probabilities (exp/<tag>/decode.yaml: s2s-transcribe's default), dev and test
#      beam-decoded with n-best lists, scored
#   7  neural LM: trained on the training text, its weight tuned by rescoring the dev n-best lists,
#      test rescored, scored
#   8  (only when asked, like 9-10: --stage 8 --stop-stage 10) speech synthesis for the corpus:
#      multi-speaker TTS models with style tokens (Tacotron 2, Centaur), a WaveNet and an iSTFT
#      vocoder trained on the training voices, side by side (local/tts.sh --step train;
#      alignment plots in exp/<tts>/plots); then FastPitch with its own aligner (or FastSpeech /
#      FastPitch on symbol durations taken from the Tacotron 2's attention: --tts-student-configs)
#   9  intelligibility of that TTS: held-out sentences in training voices, by the engines and by
#      the TTS with each vocoder, transcribed by the stage-4 model; WER, MCD, CPU cost in
#      RESULTS.md (local/tts.sh --step eval)
#  10  the synthetic-speech experiment: the TTS speaks new sentences in the training voices; WER on
#      the held-out voices at natural:synthetic 100/0 66/33 50/50 33/66 0/100 (replacing natural
#      speech) and with synthetic speech added, at a fixed number of steps (local/syn_ratio.sh)
#
# Usage: ./run.sh [--stage N] [--stop-stage M] [--train-config conf/train.yaml] [--nj 2] ...
# A stage whose outputs are complete and whose inputs and options are unchanged is skipped;
# --force true re-runs the selected stages. The steps are the shared ones of utils/ (train.sh,
# decode.sh, tune_lm.sh, rescore.sh, score.sh); only the corpus (stages 0-1) is this recipe's own.
set -euo pipefail

# The recipe's files (cmd.sh, path.sh, conf/, local/) are relative to its directory.
if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=7          # last stage to run
nj=2                  # parallel jobs for synthesis, features and decoding
num_train=3000        # training utterances in the synthesized corpus
num_dev=300           # dev utterances (held-out voices)
num_test=300          # test utterances (held-out voices, unseen sentences)
seed=1                # corpus seed
feats_config=conf/fbank.yaml  # feature extraction settings
train_config=conf/train.yaml  # model and training settings
train_args=""         # extra overrides for s2s.bin.train, e.g. "--max_epochs 2"
ngpu=auto             # GPUs for training (auto: all visible; 0: CPU)
ngram_order=4         # n-gram order (stage 6)
alphas=0:2:0.25       # n-gram weights tried on dev (start:stop:step)
betas=-1:3:0.5        # word insertion bonuses tried on dev
beam=64               # beam width
nbest=16              # hypotheses kept per utterance for rescoring
lm_config=conf/lm_transformer.yaml  # neural LM for stage 7 (conf/lm_lstm.yaml: an LSTM LM)
lm_weights=0:1.5:0.1  # neural LM weights tried on dev
length_bonuses=-1:2:0.5  # extra per-word bonuses tried with them
tts_configs="conf/tts.yaml conf/centaur.yaml"  # stages 8-10: TTS models (exp/<config name>; the first is the teacher)
tts_student_configs="conf/fastpitch_aligner.yaml"  # stages 8-10: non-autoregressive TTS trained after the others: FastPitch with its own aligner (conf/fastpitch.yaml, conf/fastspeech.yaml: on the teacher's durations)
vocoder_configs="conf/vocoder_wavenet.yaml conf/vocoder_istft.yaml"  # stages 8-10: vocoders (the last one in 10)
tts_args=""           # stages 8-9: more options of local/tts.sh, e.g. "--num-sentences 50 --num-voices 6"
syn_args=""           # stage 10: options of local/syn_ratio.sh, e.g. "--steps 1200 --vocoder griffin-lim"
syn_tts=""            # stage 10: the TTS config whose model speaks (default: the first student, else the first TTS)
tag=""                # experiment name (default: the train config's name)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 10

[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
exp=exp/$tag
lm_exp=exp/$(basename "${lm_config%.*}")
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
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config \
    --train_data data/train --valid_data data/dev --token_list data/lang $train_args
}
stage 4 train train --key $tag --args "$train_args" \
  --in "$train_config data/train/feats.scp data/train/cmvn.ark data/lang/tokens.txt data/dev/feats.scp" \
  --out "$exp/model.pt"

greedy() {
  for s in dev test; do
    utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_$s/greedy --model $exp/model.pt --data data/$s \
      --dump-logprobs
  done
  utils/score.sh --modes greedy --tag $tag $exp data/dev data/test
}
stage 5 greedy greedy --key $tag --args "$nj" --in "$exp/model.pt data/dev/feats.scp data/test/feats.scp" \
  --out "$exp/decode_dev/greedy/logprobs.scp $exp/decode_test/greedy/logprobs.scp"

ngram_beam() {
  utils/train_ngram.sh --order $ngram_order data/train/text data/lang data/lm
  utils/tune_lm.sh --cmd "$decode_cmd" --nj $nj --alphas $alphas --betas $betas --beam $beam \
    --lm data/lm/ngram.bin --lexicon data/lm/lexicon.txt $exp data/dev
  for s in dev test; do
    utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_$s/beam --logprobs $exp/decode_$s/greedy/logprobs.scp \
      --tokens data/lang/tokens.txt --settings $exp/decode.yaml --nbest $nbest
  done
  utils/score.sh --modes beam --tag $tag $exp data/dev data/test
}
stage 6 ngram_beam ngram_beam --key $tag --args "$ngram_order $alphas $betas $beam $nbest $nj" \
  --in "data/train/text data/dev/text data/test/text $exp/decode_dev/greedy/logprobs.scp $exp/decode_test/greedy/logprobs.scp" \
  --out "$exp/decode.yaml $exp/decode_dev/beam/nbest.jsonl $exp/decode_test/beam/nbest.jsonl"

nnlm_rescore() {
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $lm_exp -- --config $lm_config \
    --train_data data/train --valid_data data/dev --token_list data/lang
  utils/rescore.sh --cmd "$decode_cmd" --weights $lm_weights --length-bonuses $length_bonuses \
    --lm $lm_exp/model.pt --dev data/dev $exp data/dev data/test
  utils/score.sh --modes rescore --tag $tag $exp data/dev data/test
}
stage 7 nnlm_rescore nnlm_rescore --key $tag --args "$lm_weights $length_bonuses" \
  --in "$lm_config data/train/text data/dev/text $exp/decode_dev/beam/nbest.jsonl $exp/decode_test/beam/nbest.jsonl" \
  --out "$lm_exp/model.pt $exp/decode_dev/rescore/text $exp/decode_test/rescore/text"

# Not part of the default run: --stage 8 --stop-stage 10.
tts_models=$(for c in $tts_configs $tts_student_configs $vocoder_configs; do
  echo -n "exp/$(basename "${c%.*}")/model.pt "; done)
tts_opts=(--tts-configs "$tts_configs" --student-configs "$tts_student_configs" --vocoder-configs "$vocoder_configs")
# shellcheck disable=SC2086
tts_train() { local/tts.sh --step train --nj $nj "${tts_opts[@]}" $tts_args; }
stage 8 tts tts_train --args "$nj $tts_args" --in "data/train/wav.scp conf/tts_logmel.yaml $tts_configs $tts_student_configs $vocoder_configs" \
  --out "$tts_models"
# shellcheck disable=SC2086
tts_eval() { local/tts.sh --step eval --nj $nj --asr-exp $exp "${tts_opts[@]}" $tts_args; }
stage 9 tts_eval tts_eval --key $tag --args "$nj $tts_args" --in "$exp/model.pt $tts_models data/test/text" \
  --out "exp/tts_eval/table.md"
# shellcheck disable=SC2086
syn_tts=${syn_tts:-$(set -- $tts_student_configs $tts_configs; echo "${1:-}")}
syn_ratio() {
  [ -n "$syn_tts" ] || { echo "$0: stage 10 needs a TTS: give --syn-tts, --tts-student-configs or --tts-configs" >&2; exit 1; }
  local/syn_ratio.sh --nj $nj --syn-model "exp/$(basename "$syn_tts" .yaml)/model.pt" \
    --vocoder "exp/$(basename "${vocoder_configs##* }" .yaml)/model.pt" $syn_args
}
stage 10 syn_ratio syn_ratio --args "$nj $syn_tts $syn_args" \
  --in "data/train/feats.scp data/test/feats.scp $tts_models conf/syn_train.yaml local/syn_ratio.sh" \
  --out "exp/syn_ratio_table.md"

if stage_selected 5 || stage_selected 6 || stage_selected 7; then
  echo; echo "== RESULTS.md (every run recorded in this directory) =="; cat RESULTS.md
fi
