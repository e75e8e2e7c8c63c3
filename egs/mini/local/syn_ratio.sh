#!/usr/bin/env bash
# The --syn-ratio experiment: ASR on natural speech mixed with synthetic speech at several
# ratios, the small-scale counterpart of the Jasper paper's table (arXiv 1811.00707:
# LibriSpeech test-clean WER 100/0 5.10, 66/33 4.79, 50/50 4.66, 33/66 4.81, 0/100 49.80).
#
# "Natural" speech is the espeak-ng part of data/train (--natural-backend); the
# "synthesizer" is another engine (--syn-backend, default flite) speaking the same
# transcripts with --num-speakers voices (utils/synthesize_data.sh). Each ratio gets a mix
# (utils/mix_data.sh; the ratio counts utterances, and the mix is the largest the sources
# allow, so all natural speech is kept except at 33/66 and 0/100), a model trained for
# exactly --steps optimizer steps (conf/syn_train.yaml), and greedy WER on data/test,
# whose espeak-ng voices are held out of training.
#
# Needs (from run.sh stages 1-3): data/train with utt2dur and feats.scp, data/test with
# feats.scp, data/lang/tokens.txt, and $feats_config (the front end of data/train).
# Writes: data/train_nat, data/train_nat_syn (audio, tables, features), data/train_aug<NN>,
# exp/syn_<NN>/ (model, decode_test), and a "Synthetic speech" table in RESULTS.md
# (replaced on every run). Usage (from egs/mini): local/syn_ratio.sh [--steps 1200] [--nj 2]
set -euo pipefail

nj=2
steps=1200                                # optimizer steps per model (same for every ratio)
ratios="100:0 66:33 50:50 33:66 0:100"    # natural:synthetic, utterances
natural_backend=espeak-ng                 # training voices treated as natural speech
syn_backend=flite                         # the synthesizer
num_speakers=8                            # synthetic speakers
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

# Natural part: the training speakers of one engine.
awk '{print $1}' data/train/spk2utt | grep "^${natural_backend}_" > data/.syn_nat_spk || true
[ -s data/.syn_nat_spk ] || { echo "$0: no $natural_backend speakers in data/train" >&2; exit 1; }
utils/subset_data_dir.sh --spk-list data/.syn_nat_spk data/train data/train_nat
cp data/train/frontend.yaml data/train_nat/

# Synthetic part: the natural transcripts spoken by another engine.
utils/synthesize_data.sh --cmd "$train_cmd" --nj $nj --backend $syn_backend --num-speakers $num_speakers \
  --seed $seed --feats-conf $feats_config data/train_nat/text data/train_nat_syn exp/syn_synth fbank/train_nat_syn

table=exp/syn_ratio_table.md
: > $table.rows
for r in $ratios; do
  name=$(echo "$r" | tr ':' '_')
  utils/mix_data.sh --seed $seed "$r" data/train_nat data/train_nat_syn data/train_aug_$name
  exp=exp/syn_$name
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config --train_data data/train_aug_$name \
    --token_list data/lang --max_steps $steps
  utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_test/greedy --model $exp/model.pt --data data/test
  python - "$r" data/train_aug_$name/mix_info $exp/decode_test/greedy/text $steps >> $table.rows <<'PY'
import sys
from s2s.data.datadir import read_table
from s2s.score.wer import score_texts
ratio, info, hyp, steps = sys.argv[1:]
i = read_table(info)
rep = score_texts(read_table("data/test/text"), read_table(hyp, allow_empty_value=True))
nat, syn = ratio.split(":")
print(f"| {nat}/{syn} | {i['natural_utts']} ({float(i['natural_hours']):.2f} h) | "
      f"{i['synthetic_utts']} ({float(i['synthetic_hours']):.2f} h) | {steps} | {rep.wer:.2f} | {rep.cer:.2f} |")
PY
  tail -n 1 $table.rows
done

{
  echo "<!-- syn-ratio: begin (written by local/syn_ratio.sh) -->"
  echo "## Synthetic speech"
  echo
  echo "Natural = $natural_backend training voices of data/train; synthetic = the same transcripts by"
  echo "$num_speakers $syn_backend speakers (utils/synthesize_data.sh). Ratio by utterances (utils/mix_data.sh),"
  echo "$(basename $train_config), $steps steps each, greedy decoding; test = held-out espeak-ng voices."
  echo "Jasper 10x3 on LibriSpeech test-clean for comparison: 5.10, 4.79, 4.66, 4.81, 49.80."
  echo
  echo "| natural/synthetic | natural utts | synthetic utts | steps | test WER % | test CER % |"
  echo "|---|---|---|---|---|---|"
  cat $table.rows
  echo "<!-- syn-ratio: end -->"
} > $table
python - "$table" <<'PY'
import re, sys
from pathlib import Path
block = Path(sys.argv[1]).read_text()
res = Path("RESULTS.md")
old = res.read_text() if res.is_file() else "# Results\n"
pat = re.compile(r"<!-- syn-ratio: begin.*?<!-- syn-ratio: end -->\n", re.S)
new = pat.sub(lambda m: block, old) if pat.search(old) else old.rstrip("\n") + "\n\n" + block
tmp = res.with_name(".RESULTS.md.tmp")
tmp.write_text(new)
tmp.replace(res)
PY
cat $table
