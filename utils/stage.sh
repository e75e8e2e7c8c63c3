# shellcheck shell=bash
# Sourced by run.sh after parse_options.sh. Three functions:
#
#   check_stages FIRST LAST
#       Refuses, before anything runs, a --stage/--stop-stage that is not a whole number, lies
#       outside FIRST..LAST (the recipe's stage table), or starts after it stops.
#   stage N NAME FUNCTION [--args "..."] [--in "inputs"] [--out "outputs"] [--key EXP]
#       Runs FUNCTION when N is within --stage..--stop-stage, unless the stage's outputs exist
#       and its inputs (content of small files, size+mtime of large ones) and arguments are
#       unchanged since it last succeeded. The stamp is exp/.stamps/[EXP/]stageN.NAME: stages
#       that write an experiment's outputs pass --key (its name), so one experiment's run never
#       touches another's stamps. A failed or killed stage leaves no stamp, so a re-run repeats
#       it. --force true re-runs every selected stage.
#   stage_selected N
#       True when stage N is within --stage..--stop-stage (e.g. to print RESULTS.md only when
#       the scoring stage ran).
#
# $stage, $stop_stage (and $force) are the sourcing recipe's options.
# shellcheck disable=SC2154

check_stages() {
  local first=$1 last=$2 v
  for v in "stage=$stage" "stop-stage=$stop_stage"; do
    case ${v#*=} in
      ''|*[!0-9]*)
        echo "$0: --${v%%=*} must be a stage number from $first to $last, got '${v#*=}' (see $0 --help)" >&2
        exit 2 ;;
    esac
    if [ "${v#*=}" -lt "$first" ] || [ "${v#*=}" -gt "$last" ]; then
      echo "$0: --${v%%=*} ${v#*=} is not a stage of this recipe: stages are $first to $last (see $0 --help)" >&2
      exit 2
    fi
  done
  if [ "$stage" -gt "$stop_stage" ]; then
    echo "$0: --stage $stage comes after --stop-stage $stop_stage: nothing would run; give --stage <= --stop-stage" >&2
    exit 2
  fi
}

stage_selected() {
  [ "$1" -ge "$stage" ] && [ "$1" -le "$stop_stage" ]
}

stage() {
  local n=$1 name=$2 fn=$3; shift 3
  local args="" ins="" outs="" key=""
  while [ $# -gt 0 ]; do
    case $1 in
      --args) args=$2 ;; --in) ins=$2 ;; --out) outs=$2 ;; --key) key=$2 ;;
      *) echo "stage: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
  done
  stage_selected "$n" || return 0
  local st=exp/.stamps/${key:+$key/}stage$n.$name
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
  mkdir -p "$(dirname "$st")"
  # shellcheck disable=SC2086
  python3 -m s2s.recipe.stamp write "$st" "$args" -- $ins -- $outs
  echo "$(date '+%F %T') stage $n ($name): done in $((SECONDS - t0)) s"
}
