# shellcheck shell=bash
# utils/parse_options.sh: Kaldi-style option parsing for recipe scripts.
#
# Source it after declaring the script's variables:
#     stage=0
#     nj=4          # number of parallel jobs
#     use_gpu=false
#     . utils/parse_options.sh
#
# Then `--nj 8` (or `--nj=8`) sets nj, `--use-gpu true` sets use_gpu. Only
# declared variables can be set: an unknown option is an error naming it. A
# variable whose value is true or false only accepts true or false.
# `--config FILE` sources FILE (lines of var=value) at that point, so later
# options override it. `--help`/`-h` prints the script's help ($help_message
# if set, else the comment block at the top of the script) and the declared
# options with their current values, then exits 0. Parsing stops at the first
# argument that is not an option (or after `--`); the rest stay in "$@".

_po_script="$0"

_po_help() {
  if [ -n "${help_message:-}" ]; then
    printf '%s\n' "$help_message"
  else
    # The comment block after the shebang, without the leading "# ".
    awk 'NR == 1 && /^#!/ { next }
         /^#/ { sub(/^# ?/, ""); print; seen = 1; next }
         seen || NF { exit }' "$_po_script"
  fi
  echo
  echo "Options (current values):"
  # Variables assigned at the start of a line before this file is sourced,
  # with any trailing comment as their description.
  local _po_line _po_name _po_desc
  while IFS= read -r _po_line; do
    [[ "$_po_line" =~ ^[[:space:]]*(\.|source)[[:space:]].*parse_options\.sh ]] && break
    if [[ "$_po_line" =~ ^([A-Za-z_][A-Za-z0-9_]*)= ]] && [ "${BASH_REMATCH[1]}" != help_message ]; then
      _po_name="${BASH_REMATCH[1]}"
      _po_desc=""
      [[ "$_po_line" =~ [[:space:]]#[[:space:]]*(.*)$ ]] && _po_desc="${BASH_REMATCH[1]}"
      if [ -n "$_po_desc" ]; then
        printf '  --%-24s %-20s # %s\n' "${_po_name//_/-}" "${!_po_name-}" "$_po_desc"
      else
        printf '  --%-24s %s\n' "${_po_name//_/-}" "${!_po_name-}"
      fi
    fi
  done < "$_po_script"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      _po_help
      exit 0 ;;
    --)
      shift
      break ;;
    --config|--config=*)
      if [ "$1" = --config ]; then
        [ $# -ge 2 ] || { echo "$0: option --config needs a file" >&2; exit 1; }
        _po_value="$2"; shift 2
      else
        _po_value="${1#--config=}"; shift
      fi
      [ -f "$_po_value" ] || { echo "$0: config file $_po_value not found (--config)" >&2; exit 1; }
      # shellcheck disable=SC1090  # a config file named on the command line
      . "$_po_value" || { echo "$0: error while sourcing config file $_po_value" >&2; exit 1; }
      ;;
    --*)
      if [[ "$1" == *=* ]]; then
        _po_opt="${1%%=*}"; _po_value="${1#*=}"; shift
      else
        _po_opt="$1"
        [ $# -ge 2 ] || { echo "$0: option $_po_opt needs a value" >&2; exit 1; }
        _po_value="$2"; shift 2
      fi
      _po_name="${_po_opt#--}"
      _po_name="${_po_name//-/_}"
      if ! [[ "$_po_name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ -z "${!_po_name+set}" ]; then
        echo "$0: unknown option $_po_opt (see $0 --help for the options)" >&2
        exit 1
      fi
      case "${!_po_name}" in
        true|false)
          case "$_po_value" in
            true|false) ;;
            *) echo "$0: option $_po_opt takes true or false, got '$_po_value'" >&2; exit 1 ;;
          esac ;;
      esac
      printf -v "$_po_name" '%s' "$_po_value"
      ;;
    *)
      break ;;
  esac
done
unset _po_opt _po_name _po_value
true
