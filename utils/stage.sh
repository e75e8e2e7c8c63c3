#!/usr/bin/env bash
# Sourced by run.sh: `stage N NAME FUNCTION --args "..." --in "inputs" --out "outputs"`.
# Runs FUNCTION when N is within --stage..--stop-stage, unless the stage's outputs exist and
# its inputs (content of small files, size+mtime of large ones) and arguments are unchanged
# since it last succeeded (stamp in exp/.stamps/). A failed or killed stage leaves no stamp,
# so a re-run repeats it. --force true re-runs every selected stage.
# $stage and $stop_stage are the sourcing recipe's options.
# shellcheck disable=SC2154
stage() {
  local n=$1 name=$2 fn=$3; shift 3
  local args="" ins="" outs=""
  while [ $# -gt 0 ]; do
    case $1 in
      --args) args=$2 ;; --in) ins=$2 ;; --out) outs=$2 ;;
      *) echo "stage: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
  done
  if [ "$n" -lt "$stage" ] || [ "$n" -gt "$stop_stage" ]; then return 0; fi
  local st=exp/.stamps/stage$n.$name
  # shellcheck disable=SC2086
  if [ "${force:-false}" != true ] && python3 -m s2s.recipe.stamp check "$st" "$args" -- $ins -- $outs; then
    echo "$(date '+%F %T') stage $n ($name): outputs complete, inputs and arguments unchanged: skipped"
    return 0
  fi
  echo "$(date '+%F %T') stage $n ($name): start"
  rm -f "$st"
  local t0=$SECONDS
  # A subshell outside any conditional, so `set -e` holds inside the stage function:
  # the first failing command fails the stage (an `if ! $fn` would switch set -e off).
  local rc=0
  set +e
  ( set -e; $fn )
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "$(date '+%F %T') stage $n ($name): FAILED (exit $rc)" >&2
    exit 1
  fi
  # shellcheck disable=SC2086
  python3 -m s2s.recipe.stamp write "$st" "$args" -- $ins -- $outs
  echo "$(date '+%F %T') stage $n ($name): done in $((SECONDS - t0)) s"
}
