#!/usr/bin/env bash
# The synthetic-speech experiment (run.sh stage 10): ASR trained on natural speech mixed with speech
# from the corpus TTS, the small-scale counterpart of the Jasper paper's table (arXiv 1811.00707,
# W2L+/Jasper on LibriSpeech test-clean: 100/0 5.10, 66/33 4.79, 50/50 4.66, 33/66 4.81, 0/100 49.80).
#
# Natural speech: data/train (every training voice). Synthetic speech: --num-syn new sentences of the
# corpus's grammar (none in train, dev or test; local/tts_tools.py sentences) spoken by a stage-8
# TTS (--syn-model, vocoded by --vocoder; run.sh passes its first student, the FastPitch with its
# own aligner) in the training voices taken in turn
# (utils/synthesize_data.sh), each file then given the corpus's recorded-like silence and noise
# floor as the natural files were. Two kinds of rows, every model trained for exactly --steps
# optimizer steps (conf/syn_train.yaml) and decoded greedily on data/test (held-out voices):
#   replacing: natural:synthetic at --ratios with the training set's size fixed (--total, default
#              the natural utterances), so synthetic speech takes the place of natural speech;
#   added:     all natural speech plus synthetic speech at --added ratios (natural:synthetic).
# Writes data/syn_text, data/train_syn, data/train_mix_*, exp/syn_*/, exp/syn_ratio_table.md and the
# "Synthetic speech" block of RESULTS.md (replaced on every run).
# Usage (from egs/mini): local/syn_ratio.sh [--steps 1200] [--nj 2] [--vocoder exp/vocoder_istft/model.pt]
set -euo pipefail

nj=2
steps=1200                                # optimizer steps per model (same for every row)
ratios="100:0 66:33 50:50 33:66 0:100"    # natural:synthetic, utterances, fixed total (replacing)
added="66:33 50:50"                       # natural:synthetic, all natural speech kept (adding)
total=                                    # utterances of a replacing mix (default: all natural ones)
syn_backend=tacotron2                     # the synthesizer (tacotron2, or an engine for comparison)
syn_model=exp/fastpitch_aligner/model.pt  # its checkpoint (stage 8; exp/tts/model.pt: the Tacotron 2)
vocoder=exp/vocoder_istft/model.pt        # its vocoder: griffin-lim or a vocoder checkpoint
num_syn=3000                              # synthetic utterances (new sentences)
num_speakers=1000                         # synthetic voices, at most this many of the synthesizer's
feats_config=conf/fbank.yaml
train_config=conf/syn_train.yaml
seed=1
ngpu=auto                                 # GPUs for training (auto: all visible; 0: CPU)

# shellcheck source=../cmd.sh
. ./cmd.sh
# shellcheck source=../path.sh
. ./path.sh
. utils/parse_options.sh

for f in data/train/feats.scp data/test/feats.scp data/lang/tokens.txt "$feats_config" "$train_config"; do
  [ -f "$f" ] || { echo "$0: $f not found; run ./run.sh --stop-stage 3 first" >&2; exit 1; }
done
if [ "$syn_backend" = tacotron2 ]; then
  for f in "$syn_model" "$vocoder"; do
    [ "$f" = griffin-lim ] || [ -f "$f" ] || { echo "$0: $f not found; run ./run.sh --stage 8 --stop-stage 8 first" >&2; exit 1; }
  done
fi
[ -n "$total" ] || total=$(wc -l < data/train/utt2spk)

python local/tts_tools.py sentences --num "$num_syn" --exclude data/train/text data/dev/text data/test/text \
  --seed "$seed" --out data/syn_text/text
if [ ! -f data/train_syn/feats.scp ] || [ data/syn_text/text -nt data/train_syn/feats.scp ]; then
  utils/synthesize_data.sh --cmd "$train_cmd" --nj "$nj" --backend "$syn_backend" --model "$syn_model" \
    --vocoder "$vocoder" --num-speakers "$num_speakers" --seed "$seed" data/syn_text/text data/train_syn exp/syn_synth fbank/train_syn
  python local/tts_tools.py recorded data/train_syn --seed "$seed"
  rm -f data/train_syn/feats.scp
  utils/make_feats.sh --cmd "$train_cmd" --nj "$nj" --conf "$feats_config" data/train_syn exp/syn_synth/feats fbank/train_syn
fi

table=exp/syn_ratio_table.md
: > $table.rows
row() {  # KIND RATIO MIX-OPTIONS...
  local kind=$1 r=$2 name; shift 2
  name="${kind}_${r/:/_}"
  utils/mix_data.sh --seed "$seed" "$@" "$r" data/train data/train_syn data/train_mix_$name
  local exp=exp/syn_$name
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config --train_data data/train_mix_$name \
    --token_list data/lang --max_steps $steps
  utils/decode.sh --cmd "$decode_cmd" --nj "$nj" $exp/decode_test/greedy --model $exp/model.pt --data data/test
  python - "$kind" "$r" data/train_mix_$name/mix_info $exp/decode_test/greedy/text $steps >> $table.rows <<'PY'
import sys
from s2s.data.datadir import read_table
from s2s.score.wer import score_texts
kind, ratio, info, hyp, steps = sys.argv[1:]
i = read_table(info)
rep = score_texts(read_table("data/test/text"), read_table(hyp, allow_empty_value=True))
nat, syn = ratio.split(":")
print(f"| {kind} | {nat}/{syn} | {i['natural_utts']} ({float(i['natural_hours']):.2f} h) | "
      f"{i['synthetic_utts']} ({float(i['synthetic_hours']):.2f} h) | {steps} | {rep.wer:.2f} | {rep.cer:.2f} |")
PY
  tail -n 1 $table.rows
}
for r in $ratios; do row replacing "$r" --total "$total"; done
for r in $added; do row added "$r"; done

{
  echo "## Synthetic speech"
  echo
  echo "Natural: data/train ($(wc -l < data/train/utt2spk) utterances, every training voice). Synthetic: $num_syn new sentences"
  echo "(none in train, dev or test) by $syn_backend $( [ "$syn_backend" = tacotron2 ] && echo "($syn_model, vocoder $vocoder)") in the"
  echo "training voices, with the corpus's recorded-like silence and noise floor. Replacing: the mix has $total"
  echo "utterances; added: all natural speech plus synthetic. $(basename $train_config), $steps steps each, greedy"
  echo "decoding; test = held-out espeak-ng voices (local/syn_ratio.sh). Jasper paper (LibriSpeech"
  echo "test-clean) for comparison: 100/0 5.10, 66/33 4.79, 50/50 4.66, 33/66 4.81, 0/100 49.80."
  echo
  echo "| mix | natural/synthetic | natural utts | synthetic utts | steps | test WER % | test CER % |"
  echo "|---|---|---|---|---|---|---|"
  cat $table.rows
} > $table
python -c "import sys; from pathlib import Path; from s2s.score import replace_block; \
replace_block('RESULTS.md', 'syn-ratio', Path(sys.argv[1]).read_text())" $table
cat $table
