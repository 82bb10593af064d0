# shellcheck shell=bash
# Helpers shared by deploy.sh, teardown.sh and wire-hub.sh (sourced, never run).

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

require_cmd() {
  local cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is not installed or not on PATH"
  done
}

require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "$name is not set"
  done
}

# retry ATTEMPTS DELAY_SECONDS COMMAND...: run COMMAND until it succeeds (role assignments and a
# freshly deployed app take a while to become visible).
retry() {
  local attempts=$1 delay=$2 i
  shift 2
  for ((i = 1; i <= attempts; i++)); do
    if "$@"; then
      return 0
    fi
    if ((i < attempts)); then
      sleep "$delay"
    fi
  done
  return 1
}

# az extensions the scripts need (webpubsub, application-insights) are installed once, quietly.
ensure_az_extension() {
  local name=$1
  if ! az extension show --name "$name" --output none >/dev/null 2>&1; then
    log "installing the az '$name' extension"
    az extension add --name "$name" --only-show-errors --output none
  fi
}
