#!/usr/bin/env bash
# egs/librispeech: LibriSpeech 960 h, from the OpenSLR download to RESULTS.md.
#
# Stages (numbers are fixed):
#   0  download OpenSLR 12 (--parts) and 11 (--lm-files): resumed, MD5-checked, safely extracted
#      (--librispeech-dir DIR uses an existing copy of LibriSpeech/ instead of downloading parts)
#   1  data prep: data/<part> (dev_clean, ...) and data/train (all train-* parts), validated
#   2  offline speed perturbation of data/train: data/train_sp (0.9, 1.0, 1.1), with --speed-perturb true
#      (the OpenSeq2Seq configs that perturb do it on the fly instead: noise_conf)
#   3  features for every set through $train_cmd (--nj), global CMVN of the training set
#   4  synthetic speech: synthesize LM-corpus sentences, mix natural:synthetic at --syn-ratio
#      (the Jasper paper: 50:50) into data/train_aug, with an engine or a TTS trained by
#      egs/libritts (--syn-backend tacotron2 --syn-model M --syn-vocoder V); off by default
#      (--syn-ratio 0): see egs/mini's "Synthetic speech" table for what it gave there
#   5  tokens (characters, or SentencePiece with --nbpe N) and LMs: the n-gram (OpenSLR 4-gram
#      or one built with KenLM, --ngram) and the neural LM (--use-nnlm)
#   6  train the acoustic model with torchrun: --ngpu per node, --num-nodes through $cuda_cmd
#   7  decode dev/test sets: greedy, and beam search + n-gram with alpha/beta tuned on dev
#      (--decoding openseq2seq: the published beam 2048 + 6-gram + alpha 2.0, beta -0.2)
#   8  rescore the beam n-best lists with the neural LM
#   9  score: WER per set and decoding mode into RESULTS.md, with the run's config/GPUs/time
#
# One GPU machine:  ./run.sh --ngpu 1        Resume after a crash:  ./run.sh --stage 6
# SLURM cluster:    edit cmd.sh (cuda_cmd=utils/slurm.pl) and conf/slurm.conf, then
#                   ./run.sh --ngpu 8 --num-nodes 2
set -euo pipefail

# The recipe's files (cmd.sh, path.sh, conf/, local/) are relative to its directory.
if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=9          # last stage to run
nj=8                  # parallel jobs (features, synthesis, decoding)
download_dir=downloads  # where archives and the extracted corpus go
librispeech_dir=""    # an existing LibriSpeech/ directory (skips downloading the parts)
base_url=https://www.openslr.org/resources  # OpenSLR mirror holding 12/ and 11/
md5_file=""           # "name md5" lines overriding the published sums (another mirror)
parts="dev-clean dev-other test-clean test-other train-clean-100 train-clean-360 train-other-500"
lm_files="librispeech-lm-norm.txt.gz librispeech-vocab.txt librispeech-lexicon.txt 4-gram.arpa.gz"
speed_perturb=false   # offline 3-way speed perturbation (Kaldi's train_sp); the configs perturb on the fly
feats_config=""       # front end; default conf/spectrogram160.yaml for encoder: ds2, else conf/logmel64.yaml
syn_ratio=0           # natural:synthetic utterances in the training mix (Jasper paper: 50:50); 0 skips stage 4
syn_backend=espeak-ng # synthesizer for stage 4 (espeak-ng, flite, festival, or tacotron2 with --syn-model)
syn_model=""          # tacotron2: a TTS checkpoint, e.g. ../libritts/exp/tacotron2_gst/model.pt
syn_vocoder=griffin-lim  # tacotron2: griffin-lim or a vocoder checkpoint (../libritts/exp/vocoder_istft/model.pt)
syn_speakers=16       # synthetic voices
nbpe=0                # 0: character tokens; N: SentencePiece BPE with N pieces
ngram=openslr         # openslr: the published 4-gram.arpa.gz; kenlm: built with utils/train_ngram.sh
ngram_order=4         # order of the KenLM-built n-gram
use_ngram=true        # beam search + n-gram decoding (stage 7)
use_nnlm=true         # neural LM training (stage 5) and rescoring (stage 8)
nnlm_config=conf/lm_transformer.yaml  # neural LM config
train_config=conf/jasper10x5_dr.yaml  # acoustic model and training settings
train_args=""         # extra overrides for s2s.bin.train, e.g. "--max_epochs 2"
ngpu=auto             # GPUs per node (auto: all visible; 0: CPU)
num_nodes=1           # nodes; > 1 needs a cluster $cuda_cmd (utils/slurm.pl)
precision=""          # fp32 | fp16 | bf16 (default: the config's on GPUs, fp32 on CPU)
avg_num=5             # checkpoints averaged into model.pt
decoding=tuned        # tuned: --beam, --ngram and alpha/beta tuned on dev over --alphas/--betas;
                      # openseq2seq: the published Jasper decoding (beam 2048, a 6-gram estimated with
                      # KenLM from the LibriSpeech LM corpus, alpha 2.0, beta -0.2; OpenSeq2Seq jasper.rst)
beam=64               # beam width
alphas=0:2:0.25       # n-gram weights tried on dev (start:stop:step or a,b,c)
betas=-1:3:0.5        # word insertion bonuses tried on dev
nbest=10              # hypotheses kept for rescoring
nnlm_weights=0:1.5:0.1  # neural LM weights tried on dev in rescoring
length_bonuses=0      # extra per-word bonuses tried with them, e.g. -1:2:0.5
tag=""                # experiment name (default: the train config's name)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 9

case $decoding in
  tuned) ;;
  openseq2seq) beam=2048; ngram=kenlm; ngram_order=6; alphas=2.0; betas=-0.2 ;;
  *) echo "$0: --decoding must be tuned or openseq2seq, got '$decoding'" >&2; exit 2 ;;
esac
if [ -z "$feats_config" ]; then
  # DeepSpeech2 takes OpenSeq2Seq's 160-bin spectrogram, the conv models 64 log-mel bins.
  feats_config=conf/logmel64.yaml
  grep -q '^encoder: *ds2' "$train_config" 2>/dev/null && feats_config=conf/spectrogram160.yaml
fi
[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
exp=exp/$tag
corpus=${librispeech_dir:-$download_dir/LibriSpeech}
dsets=""; train_parts=""
for p in $parts; do case $p in train-*) train_parts+=" ${p//-/_}" ;; *) dsets+=" ${p//-/_}" ;; esac; done
dev_sets=$(for s in $dsets; do case $s in dev_*) echo -n "$s " ;; esac; done)
train_set=train; [ "$speed_perturb" = true ] && train_set=train_sp
am_train=$train_set; [ "$syn_ratio" != 0 ] && am_train=train_aug
# --ngpu auto is resolved by utils/torchrun.sh on the node that trains (fp32 there if it finds
# no GPU). The configs say fp16 (OpenSeq2Seq "mixed"); --ngpu 0 trains fp32 unless --precision says otherwise.
[ -z "$precision" ] && [ "$ngpu" = 0 ] && precision=fp32
prec_args=""; [ -n "$precision" ] && prec_args="--precision $precision"
if [ -z "$train_parts" ] && [ "$stop_stage" -ge 2 ]; then
  echo "$0: --parts has no train-* part, which stages 2-9 need: add one (e.g. --parts \"$parts train-clean-100\")" \
       "or stop after data preparation with --stop-stage 1" >&2
  exit 2
fi
mkdir -p exp

# Only what the selected stages use: the parts unless --librispeech-dir has them, the LM files
# only when stages 4-5 (synthetic speech, tokens and LMs) will run.
need_parts=$parts; [ -n "$librispeech_dir" ] && need_parts=""
need_lm=$lm_files; [ "$stop_stage" -lt 4 ] && need_lm=""
download() {
  local_opts=(); [ -n "$md5_file" ] && local_opts=(--md5-file "$md5_file")
  local/download.sh --base-url "$base_url" --parts "$need_parts" --lm-files "$need_lm" "${local_opts[@]}" "$download_dir"
}
if [ -n "$need_parts$need_lm" ]; then
  stage 0 download download --args "$need_parts|$need_lm|$base_url" --in "$md5_file" \
    --out "$(for p in $need_parts; do echo -n "$corpus/$p "; done)$(for f in $need_lm; do echo -n "$download_dir/lm/$f "; done)"
fi

data_prep() {
  for p in $parts; do
    python local/data_prep.py "$corpus/$p" "data/${p//-/_}" || return 1
    utils/validate_data_dir.sh --no-feats "data/${p//-/_}" || return 1
  done
  [ -n "$train_parts" ] || return 0  # data preparation only (--stop-stage 1)
  # shellcheck disable=SC2086
  utils/combine_data.sh data/train $(for s in $train_parts; do echo data/$s; done) &&
    utils/validate_data_dir.sh --no-feats data/train
}
stage 1 data data_prep --args "$parts" --in "$corpus" \
  --out "$(for p in $parts; do echo -n "data/${p//-/_}/wav.scp "; done)$([ -n "$train_parts" ] && echo data/train/utt2dur)"

speed_perturb_train() {
  for f in 0.9 1.1; do utils/perturb_data_dir_speed.sh $f data/train data/train_sp$f || return 1; done
  # Factor 1.0 is the original data (Kaldi's 3-way perturbation keeps its ids).
  utils/combine_data.sh data/train_sp data/train data/train_sp0.9 data/train_sp1.1 &&
    utils/validate_data_dir.sh --no-feats data/train_sp
}
[ "$speed_perturb" = true ] && stage 2 speed_perturb speed_perturb_train --in "data/train/wav.scp" \
  --out "data/train_sp/wav.scp"

features() {
  for s in $train_set $dsets; do
    utils/make_feats.sh --cmd "$train_cmd" --nj $nj --conf $feats_config data/$s exp/make_feats/$s fbank/$s || return 1
  done
  utils/compute_cmvn_stats.sh data/$train_set
}
stage 3 features features --args "$nj $train_set $dsets" --in "$feats_config data/$train_set/wav.scp" \
  --out "$(for s in $train_set $dsets; do echo -n "data/$s/feats.scp "; done)data/$train_set/cmvn.ark"

synthetic() {
  # As many synthetic utterances as the natural:synthetic ratio needs, from LM-corpus sentences.
  local n_syn
  n_syn=$(awk -v n="$(wc -l < data/$train_set/utt2spk)" -v r=$syn_ratio \
    'BEGIN { split(r, a, ":"); printf "%d", n * a[2] / a[1] + 0.5 }')
  # shellcheck disable=SC2046
  python local/sample_lm_text.py --lm-text $download_dir/lm/librispeech-lm-norm.txt.gz --num $n_syn \
      --exclude $(for s in $dsets; do echo data/$s/text; done) --out data/syn_text/text &&
    utils/synthesize_data.sh --cmd "$train_cmd" --nj $nj --backend $syn_backend --num-speakers $syn_speakers \
      ${syn_model:+--model $syn_model --vocoder $syn_vocoder} \
      --feats-conf $feats_config data/syn_text/text data/train_syn exp/synthesize fbank/train_syn &&
    utils/mix_data.sh $syn_ratio data/$train_set data/train_syn data/train_aug
}
[ "$syn_ratio" != 0 ] && stage 4 synthetic synthetic --args "$syn_ratio $syn_backend $syn_speakers $nj $syn_vocoder" \
  --in "data/$train_set/feats.scp $feats_config $syn_model" --out "data/train_aug/feats.scp data/train_aug/cmvn.ark"

lang_and_lms() {
  local kind="--kind char"; [ "$nbpe" != 0 ] && kind="--kind bpe --vocab-size $nbpe"
  # shellcheck disable=SC2086
  python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang $kind
  local/prepare_ngram.sh --ngram $ngram --order $ngram_order --lm-dir $download_dir/lm data/lm
  if [ "$use_nnlm" = true ]; then
    # shellcheck disable=SC2086
    utils/train.sh --cmd "$cuda_cmd" --ngpu "$ngpu" exp/nnlm -- --config $nnlm_config \
      --train_data $download_dir/lm/librispeech-lm-norm.txt.gz --valid_data data/dev_clean --token_list data/lang \
      $prec_args
  fi
}
stage 5 lang_and_lms lang_and_lms --args "$nbpe $ngram $ngram_order $use_nnlm" \
  --in "data/train/text $nnlm_config" --out "data/lang/tokens.txt data/lm/ngram.arpa$([ "$use_nnlm" = true ] && echo " exp/nnlm/model.pt")"

train() {
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu --num-nodes $num_nodes --avg-num $avg_num --avg-kind epoch $exp -- \
    --config $train_config --train_data data/$am_train --valid_data data/${dev_sets%% *} --token_list data/lang \
    $prec_args $train_args
  python local/results.py run-info --exp $exp --config $train_config --ngpu $ngpu --num-nodes $num_nodes \
    --train-set data/$am_train --log $exp/log/train.log
}
stage 6 train train --key $tag --args "$train_args $num_nodes $ngpu $precision $avg_num" \
  --in "$train_config data/$am_train/feats.scp data/lang/tokens.txt" --out "$exp/model.pt"

decode() {
  local s dump=""; [ "$use_ngram" = true ] && dump=--dump-logprobs
  for s in $dsets; do
    utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_$s/greedy --model $exp/model.pt --data data/$s $dump
  done
  [ "$use_ngram" = true ] || return 0
  local lm=data/lm/ngram.arpa; [ -f data/lm/ngram.bin ] && lm=data/lm/ngram.bin
  # shellcheck disable=SC2046
  utils/tune_lm.sh --cmd "$decode_cmd" --nj $nj --alphas "$alphas" --betas "$betas" --beam $beam --lm $lm \
    $exp $(for s in $dev_sets; do echo data/$s; done)
  for s in $dsets; do
    utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_$s/beam --logprobs $exp/decode_$s/greedy/logprobs.scp \
      --tokens data/lang/tokens.txt --settings $exp/decode.yaml --nbest $nbest
  done
}
stage 7 decode decode --key $tag --args "$nj $use_ngram $alphas|$betas $beam $nbest $dsets" \
  --in "$exp/model.pt data/lm/ngram.arpa" \
  --out "$(for s in $dsets; do echo -n "$exp/decode_$s/greedy/text "; [ "$use_ngram" = true ] && echo -n "$exp/decode_$s/beam/text "; done)"

rescore() {
  # shellcheck disable=SC2046
  utils/rescore.sh --cmd "$decode_cmd" --weights "$nnlm_weights" --length-bonuses "$length_bonuses" \
    --lm exp/nnlm/model.pt --dev "$(for s in $dev_sets; do echo -n "data/$s "; done)" \
    $exp $(for s in $dsets; do echo data/$s; done)
}
[ "$use_nnlm" = true ] && [ "$use_ngram" = true ] && stage 8 rescore rescore --key $tag \
  --args "$nnlm_weights $length_bonuses $dsets" --in "exp/nnlm/model.pt $exp/decode.yaml" \
  --out "$(for s in $dsets; do echo -n "$exp/decode_$s/rescore/text "; done)"

score() {
  # shellcheck disable=SC2046
  utils/score.sh --tag $tag $exp $(for s in $dsets; do echo data/$s; done)
  python local/results.py write --results RESULTS.md --exp $exp
}
stage 9 score score --key $tag --args "$dsets" \
  --in "$(for s in $dsets; do for m in greedy beam rescore; do echo -n "$exp/decode_$s/$m/text "; done; done)" \
  --out "RESULTS.md"

if stage_selected 9 && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md (every run recorded in this directory) =="; cat RESULTS.md
fi
