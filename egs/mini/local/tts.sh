#!/usr/bin/env bash
# Speech synthesis for the corpus's own voices (run.sh stages 8 and 9).
#
#   local/tts.sh --step train   data/tts_{train,valid} (one utterance of every training voice held
#                               out for validation) with the TTS log-mel (conf/tts_logmel.yaml);
#                               every TTS model of --tts-configs (conf/tts.yaml: Tacotron 2 with
#                               style tokens; conf/centaur.yaml: Centaur) and every vocoder of
#                               --vocoder-configs (WaveNet, iSTFT vocoder), each in exp/<config
#                               name>, trained side by side, one thread each; alignment plots in
#                               exp/<tts>/plots; then the symbol durations of data/tts_{train,valid}
#                               from the first TTS model's attention (--teacher; DATA/durations,
#                               s2s.bin.tts_durations) with each symbol's mean F0 (DATA/pitch),
#                               and the non-autoregressive models of --student-configs
#                               (conf/fastpitch.yaml; conf/fastspeech.yaml: without pitch) trained on them;
#                               a student with its own aligner (conf/fastpitch_aligner.yaml) needs no
#                               teacher, only each frame's F0 (DATA/f0, s2s.bin.tts_pitch): train it
#                               alone with --tts-configs "" --vocoder-configs "" --student-configs
#                               conf/fastpitch_aligner.yaml
#   local/tts.sh --step eval    intelligibility: --num-sentences held-out sentences (data/test/text:
#                               no test sentence is in train) in --num-voices training voices,
#                               rendered by the engines, by each TTS model (students included)
#                               with Griffin-Lim and
#                               each vocoder, and by each vocoder from the engine's own mels;
#                               transcribed by the ASR model (--asr-exp, greedy): WER/CER, MCD
#                               against the engine rendering and CPU seconds per second of speech,
#                               the "Speech synthesis" table of RESULTS.md (local/tts_tools.py)
#
# Re-runs continue: training resumes from the last checkpoint (and trains on when max_epochs was
# raised), and a rendering is kept unless the plan or a model, vocoder or engine rendering it
# reads is newer.
set -euo pipefail

step=train
nj=2
tts_configs="conf/tts.yaml conf/centaur.yaml"
student_configs="conf/fastpitch_aligner.yaml"  # non-autoregressive, trained after the others: with its own aligner, or on the teacher's durations (conf/fastpitch.yaml) ("": none)
teacher=                   # the model giving the durations (default: the first of --tts-configs)
student_threads=2          # the students train after the others, alone: threads each
vocoder_configs="conf/vocoder_wavenet.yaml conf/vocoder_istft.yaml"
feats_config=conf/tts_logmel.yaml
asr_exp=exp/train          # the ASR model that transcribes the synthesized speech
num_sentences=50
num_voices=6
seed=1
ngpu=0                     # GPUs for training (0: CPU, every model at once, one thread each)

# shellcheck source=../cmd.sh
. ./cmd.sh
# shellcheck source=../path.sh
. ./path.sh
. utils/parse_options.sh

name() { basename "${1%.*}"; }

train() {
  [ -f data/train/utt2spk ] || { echo "$0: data/train not found; run ./run.sh --stop-stage 1 first" >&2; exit 1; }
  mkdir -p exp/tts_data
  # Validation: the first utterance of every training voice (the TTS knows only those voices).
  awk '{print $2}' data/train/spk2utt | sort > exp/tts_data/valid_utts
  awk 'NR == FNR {v[$1]; next} !($1 in v) {print $1}' exp/tts_data/valid_utts data/train/utt2spk \
    > exp/tts_data/train_utts
  for s in train valid; do
    if [ ! -f data/tts_$s/feats.scp ]; then
      utils/subset_data_dir.sh --utt-list exp/tts_data/${s}_utts data/train data/tts_$s
      rm -f data/tts_$s/{feats.scp,cmvn.ark,frontend.yaml,utt2num_frames}
    fi
    utils/make_feats.sh --cmd "$train_cmd" --nj "$nj" --conf $feats_config data/tts_$s exp/make_feats/tts_$s logmel
  done
  local pids=() cfg extra
  for cfg in $tts_configs $vocoder_configs; do
    extra=(); case " $tts_configs " in *" $cfg "*) extra=(--plot_dir "exp/$(name "$cfg")/plots") ;; esac
    OMP_NUM_THREADS=1 utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu "exp/$(name "$cfg")" -- --config "$cfg" \
      --train_data data/tts_train --valid_data data/tts_valid "${extra[@]}" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  [ -n "$student_configs" ] || return 0
  local cfg_aligned=() cfg_taught=()
  for cfg in $student_configs; do
    [ -f "$cfg" ] || { echo "$0: --student-configs: $cfg not found" >&2; exit 1; }
    # A FastSpeech with its own aligner (model_conf.aligner) needs no teacher, only each frame's F0.
    if python -c 'import sys, yaml; sys.exit(not ((yaml.safe_load(open(sys.argv[1])) or {}).get("model_conf") or {}).get("aligner"))' "$cfg"; then
      cfg_aligned+=("$cfg")
    else
      cfg_taught+=("$cfg")
    fi
  done
  local s
  if [ ${#cfg_aligned[@]} -gt 0 ]; then
    for s in train valid; do
      if [ ! -f data/tts_$s/f0 ] || [ data/tts_$s/feats.scp -nt data/tts_$s/f0 ]; then
        $train_cmd exp/tts_data/log/f0_$s.log python -m s2s.bin.tts_pitch --data data/tts_$s
      fi
    done
  fi
  if [ ${#cfg_taught[@]} -gt 0 ]; then
    local t=${teacher:-exp/$(name "${tts_configs%% *}")/model.pt} trim
    [ -f "$t" ] || { echo "$0: the teacher $t of ${cfg_taught[*]} is not trained; train it (--tts-configs) or give --teacher" >&2; exit 1; }
    # The students trim silence as the first of them says, and the durations must match that.
    trim=$(python -c 'import sys, yaml; print((yaml.safe_load(open(sys.argv[1])) or {}).get("trim_silence_db", 0))' \
      "${cfg_taught[0]}")
    # Extracted again when the teacher, its checkpoint or the trimming changed; the per-symbol
    # pitch (data/tts_*/pitch, for FastPitch) is written with the durations.
    for s in train valid; do
      if [ ! -f data/tts_$s/durations ] || [ ! -f data/tts_$s/pitch ] || [ "$t" -nt data/tts_$s/durations ] || \
         [ "$(cat exp/tts_data/durations_$s.from 2>/dev/null)" != "$t $trim" ]; then
        $train_cmd exp/tts_data/log/durations_$s.log python -m s2s.bin.tts_durations "$t" --data data/tts_$s \
          --trim-silence-db "$trim"
        echo "$t $trim" > exp/tts_data/durations_$s.from
      fi
    done
  fi
  for cfg in $student_configs; do
    OMP_NUM_THREADS=$student_threads utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu "exp/$(name "$cfg")" -- \
      --config "$cfg" --train_data data/tts_train --valid_data data/tts_valid
  done
}

eval_tts() {
  [ -f "$asr_exp/model.pt" ] || { echo "$0: $asr_exp/model.pt not found; run ./run.sh --stop-stage 4 first" >&2; exit 1; }
  local d=exp/tts_eval systems=() first_tts
  mkdir -p $d
  # the copy-synthesis rows and the MCD take the log-mel front end of the first TTS model
  first_tts=$(set -- $tts_configs $student_configs; echo "${1:-}")
  [ -n "$first_tts" ] || { echo "$0: no TTS to evaluate: give --tts-configs or --student-configs" >&2; exit 1; }
  first_tts=exp/$(name "$first_tts")/model.pt
  python local/tts_tools.py plan --sentences data/test/text --voices-from data/tts_train \
    --num-sentences "$num_sentences" --num-voices "$num_voices" --seed "$seed" --out $d/plan
  render() {  # NAME RENDER-OPTIONS...: render into data/tts_eval_NAME, decode it, add it to the table
    local name=$1; shift
    # Rendered again when missing or older than the plan or any model, vocoder or engine rendering
    # it reads (a retrained TTS is rendered anew; the others are kept).
    local stale="" prev="" a timing="data/tts_eval_$name/timing"
    [ -f "$timing" ] && [ ! "$d/plan" -nt "$timing" ] || stale=1
    for a in "$@"; do
      case $prev in
        --model|--vocoder) [ -f "$a" ] && [ "$a" -nt "$timing" ] && stale=1 ;;
        --engine-dir) [ "$a/timing" -nt "$timing" ] && stale=1 ;;
      esac
      prev=$a
    done
    if [ -n "$stale" ]; then
      $train_cmd "$d/log/render_$name.log" python local/tts_tools.py render --plan $d/plan --seed "$seed" \
        --out "data/tts_eval_$name" "$@"
    fi
    utils/decode.sh --cmd "$decode_cmd" --nj "$nj" "$d/decode_$name" --model "$asr_exp/model.pt" \
      --data "data/tts_eval_$name"
    systems+=(--system "data/tts_eval_$name:$d/decode_$name")
  }
  render engine --system engine
  local tts voc
  for tts in $tts_configs $student_configs; do
    render "$(name "$tts")_griffin-lim" --system tts --model "exp/$(name "$tts")/model.pt" --vocoder griffin-lim
    for voc in $vocoder_configs; do
      render "$(name "$tts")_$(name "$voc")" --system tts --model "exp/$(name "$tts")/model.pt" \
        --vocoder "exp/$(name "$voc")/model.pt"
    done
  done
  for voc in $vocoder_configs; do
    render "copy_$(name "$voc")" --system copy --model "$first_tts" --vocoder "exp/$(name "$voc")/model.pt" \
      --engine-dir data/tts_eval_engine
  done
  python local/tts_tools.py score --plan $d/plan --engine-dir data/tts_eval_engine --model "$first_tts" \
    "${systems[@]}" --out $d/table.md
  python local/tts_tools.py results --table $d/table.md --plan $d/plan --results RESULTS.md
}

case $step in
  train) train ;;
  eval) eval_tts ;;
  *) echo "$0: --step must be train or eval, got '$step'" >&2; exit 1 ;;
esac
