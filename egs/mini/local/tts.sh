#!/usr/bin/env bash
# Speech synthesis for the corpus's own voices (run.sh stages 8 and 9).
#
#   local/tts.sh --step train   data/tts_{train,valid} (one utterance of every training voice held
#                               out for validation) with the TTS log-mel (conf/tts_logmel.yaml);
#                               a multi-speaker Tacotron 2 with style tokens (exp/tts, alignment
#                               plots in exp/tts/plots), a WaveNet (exp/vocoder_wavenet) and an
#                               iSTFT vocoder (exp/vocoder_istft), the three trained side by side
#   local/tts.sh --step eval    intelligibility: --num-sentences held-out sentences (data/test/text:
#                               no test sentence is in train) in --num-voices training voices,
#                               rendered by the engines and by the TTS with each vocoder (and each
#                               trained vocoder on the engine's own mels), transcribed by the ASR
#                               model (greedy), WER/CER, MCD against the engine rendering and CPU
#                               seconds per second of speech: the "Speech synthesis" table of
#                               RESULTS.md (local/tts_tools.py)
#
# Re-runs continue: training resumes from the last checkpoint and finished renderings are kept.
set -euo pipefail

step=train
nj=2
tts_config=conf/tts.yaml
wavenet_config=conf/vocoder_wavenet.yaml
istft_config=conf/vocoder_istft.yaml
feats_config=conf/tts_logmel.yaml
asr_exp=exp/train          # the ASR model that transcribes the synthesized speech
num_sentences=50
num_voices=6
seed=1
ngpu=0                     # GPUs for training (0: CPU; the three models train at once, one thread each)

# shellcheck source=../cmd.sh
. ./cmd.sh
# shellcheck source=../path.sh
. ./path.sh
. utils/parse_options.sh

train() {
  [ -f data/train/utt2spk ] || { echo "$0: data/train not found; run ./run.sh --stop-stage 1 first" >&2; exit 1; }
  mkdir -p exp/tts
  # Validation: the first utterance of every training voice (the TTS knows only those voices).
  awk '{print $2}' data/train/spk2utt | sort > exp/tts/valid_utts
  awk 'NR == FNR {v[$1]; next} !($1 in v) {print $1}' exp/tts/valid_utts data/train/utt2spk > exp/tts/train_utts
  for s in train valid; do
    if [ ! -f data/tts_$s/feats.scp ]; then
      utils/subset_data_dir.sh --utt-list exp/tts/${s}_utts data/train data/tts_$s
      rm -f data/tts_$s/{feats.scp,cmvn.ark,frontend.yaml,utt2num_frames}
    fi
    utils/make_feats.sh --cmd "$train_cmd" --nj $nj --conf $feats_config data/tts_$s exp/make_feats/tts_$s logmel
  done
  local pids=() exp cfg
  for pair in "tts $tts_config" "vocoder_wavenet $wavenet_config" "vocoder_istft $istft_config"; do
    read -r exp cfg <<< "$pair"
    extra=(); [ "$exp" = tts ] && extra=(--plot_dir exp/tts/plots)
    OMP_NUM_THREADS=1 utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu exp/$exp -- --config $cfg \
      --train_data data/tts_train --valid_data data/tts_valid "${extra[@]}" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
}

eval_tts() {
  [ -f $asr_exp/model.pt ] || { echo "$0: $asr_exp/model.pt not found; run ./run.sh --stop-stage 4 first" >&2; exit 1; }
  local d=exp/tts_eval systems=()
  mkdir -p $d
  python local/tts_tools.py plan --sentences data/test/text --voices-from data/tts_train \
    --num-sentences $num_sentences --num-voices $num_voices --seed $seed --out $d/plan
  render() {  # NAME LABEL RENDER-OPTIONS...: render into data/tts_eval_NAME, decode, add to the table
    local name=$1 label=$2; shift 2
    if [ ! -f data/tts_eval_$name/timing ]; then
      $train_cmd $d/log/render_$name.log python local/tts_tools.py render --plan $d/plan --seed $seed \
        --out data/tts_eval_$name "$@"
    fi
    utils/decode.sh --cmd "$decode_cmd" --nj $nj $d/decode_$name --model $asr_exp/model.pt --data data/tts_eval_$name
    systems+=(--system "$label=data/tts_eval_$name:$d/decode_$name")
  }
  render engine "engines (flite, espeak-ng)" --system engine
  render tts_griffin-lim "Tacotron 2/Griffin-Lim (32 iterations)" --system tts --model exp/tts/model.pt \
    --vocoder griffin-lim
  for v in wavenet istft; do
    render tts_$v "Tacotron 2/$v" --system tts --model exp/tts/model.pt --vocoder exp/vocoder_$v/model.pt
    render copy_$v "engine mels (copy synthesis)/$v" --system copy --model exp/tts/model.pt \
      --vocoder exp/vocoder_$v/model.pt --engine-dir data/tts_eval_engine
  done
  python local/tts_tools.py score --plan $d/plan --engine-dir data/tts_eval_engine --model exp/tts/model.pt \
    "${systems[@]}" --out $d/table.md
  python local/tts_tools.py results --table $d/table.md --plan $d/plan --results RESULTS.md
}

case $step in
  train) train ;;
  eval) eval_tts ;;
  *) echo "$0: --step must be train or eval, got '$step'" >&2; exit 1 ;;
esac
