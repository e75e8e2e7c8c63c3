#!/usr/bin/env bash
# The GPU check: every GPU measurement the project needs, in one run of about 8 minutes on one
# H100/H200 (a lent GPU machine gives a session about 15 minutes in all).
#
#   benchmarks/gpu_check.sh [--dry-run] [--out DIR]
#
#   1. training-step throughput and peak memory, fp32 vs fp16 vs bf16, and bf16 with
#      torch.compile, with the model FLOP utilisation against the GPU's peak, for Jasper DR 10x5,
#      QuartzNet 15x5 and DeepSpeech2 (egs/librispeech configs, LibriSpeech-length batches of
#      synthetic features: benchmarks/train_throughput.py). Goals: bf16 >= 2x fp32 for Jasper
#      10x5 (OpenSeq2Seq reports 1.5-3x for mixed precision); Jasper 10x5 >= 35 % of bf16 peak.
#   2. egs/mini's recipe path on CUDA: corpus, features, tokens, 300 training steps with
#      --ngpu 1 and bf16 (utils/train.sh, torchrun, NCCL), greedy decoding and scoring.
#   3. the input pipeline against the GPU's own Jasper 10x5 bf16 consumption
#      (benchmarks/data_pipeline.py --gpu-consumption).
#
# --dry-run runs the same steps on the CPU with tiny models and data (the test suite checks the
# script this way). Logs: OUT/<step>.log (default OUT: a new directory under /tmp); the summary
# at the end repeats every step's RESULT line and ends with `RESULT gpu_check=ok|failed ...`.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dry=false
out=""
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry=true; shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$0: unknown option '$1' (--dry-run, --out DIR)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || out=$(mktemp -d /tmp/gpu_check.XXXXXX)
mkdir -p "$out"
py="$root/.venv/bin/python"; [ -x "$py" ] || py=python3
conf=$root/egs/librispeech/conf
failed=0
summary=()

run_step() {  # name, command...
  local name=$1; shift
  local start=$SECONDS
  echo "== $name: $*"
  if "$@" > "$out/$name.log" 2>&1; then
    summary+=("$name ($((SECONDS - start)) s): $(grep '^RESULT' "$out/$name.log" | tail -n 1)")
  else
    failed=1
    summary+=("$name ($((SECONDS - start)) s): FAILED, see $out/$name.log")
    tail -n 20 "$out/$name.log" >&2
  fi
}

if [ "$dry" = true ]; then
  device=cpu
  models=("mini:$root/egs/mini/conf/train.yaml:40")
  sizes=(--utts 8 --steps 1 --warmup 1 --max-frames 200)
  precisions=fp32,bf16
  compile_precisions=""
  mini_opts=(--num-train 24 --num-dev 4 --num-test 4 --ngpu 0 --train-args "--max_steps 3 --precision bf16")
  pipe_opts=(--utts 8 --workers "0,1")
else
  device=cuda
  "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" ||
    { echo "$0: no CUDA device visible to torch; run with --dry-run to check the script on the CPU" >&2; exit 1; }
  nvidia-smi -L || true
  models=("jasper10x5:$conf/jasper10x5_dr.yaml:64" "quartznet15x5:$conf/quartznet15x5.yaml:64"
          "ds2:$conf/ds2_large_8gpus.yaml:160")
  # LibriSpeech-length batches: up to 16.7 s (1670 frames), 32 utterances per step as the configs.
  sizes=(--utts 160 --steps 10 --warmup 3 --max-frames 1670 --batch-frames 40000 --max-batch-size 32)
  precisions=fp32,fp16,bf16
  compile_precisions=bf16
  mini_opts=(--num-train 600 --num-dev 50 --num-test 50 --ngpu 1 --train-args "--max_steps 300 --precision bf16")
  pipe_opts=(--utts 240 --workers "0,4,8")
fi

# 1. Training throughput, memory and utilisation per model and precision.
for spec in "${models[@]}"; do
  IFS=: read -r name config dim <<< "$spec"
  run_step "train_$name" "$py" "$root/benchmarks/train_throughput.py" --device $device --config "$config" \
    --input-dim "$dim" --precisions $precisions "${sizes[@]}"
  if [ -n "$compile_precisions" ]; then
    run_step "train_${name}_compile" "$py" "$root/benchmarks/train_throughput.py" --device $device \
      --config "$config" --input-dim "$dim" --precisions $compile_precisions --compile on "${sizes[@]}"
  fi
done

# 2. The recipe path on this device: egs/mini from the corpus to scored greedy decoding.
mini=$(mktemp -d /tmp/gpu_check_mini.XXXXXX)
for item in run.sh cmd.sh path.sh local utils; do ln -s "$root/egs/mini/$item" "$mini/$item"; done
mkdir "$mini/conf" && cp "$root/egs/mini/conf/"*.yaml "$mini/conf/"
run_step mini_recipe bash -c "cd '$mini' && PATH='$(dirname "$py")':\$PATH ./run.sh --stop-stage 5 $(printf '%q ' "${mini_opts[@]}") &&
  grep -h 'validation:' exp/train/train.log | tail -n 1 &&
  echo RESULT mini_test_wer=\$(awk '/%WER/ {print \$2}' exp/train/decode_test/greedy/scoring/wer.txt)"

# 3. The input pipeline against the consumption measured in step 1 (Jasper 10x5, bf16).
consumption=""
if [ "$dry" = false ]; then
  consumption=$(grep -o 'bf16_audio_s_per_s=[0-9.]*' "$out/train_jasper10x5.log" 2>/dev/null | head -n 1 | cut -d= -f2)
fi
run_step data_pipeline "$py" "$root/benchmarks/data_pipeline.py" "${pipe_opts[@]}" \
  ${consumption:+--gpu-consumption "$consumption"}

echo
echo "== summary ($out)"
printf '%s\n' "${summary[@]}"
status=ok; [ $failed -eq 0 ] || status=failed
echo "RESULT gpu_check=$status device=$device dry_run=$dry seconds=$SECONDS"
[ $failed -eq 0 ]
