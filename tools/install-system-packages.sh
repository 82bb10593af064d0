#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing, and says which and why before
# doing anything. Needs root (as in CI); otherwise it prints the command to run and exits 0, and the
# tests that need a missing package say so themselves.
set -euo pipefail

declare -A why=(
  [chromium]="the browser tests (tests/browser) drive Debian's Chromium through Playwright"
  [shellcheck]="tests/deploy lints the deployment scripts with ShellCheck"
  [nodejs]="the page's JavaScript unit tests (tests/browser/js) run under Node's test runner"
  [npm]="make azurite installs the pinned Azurite (the chat history's local store) with npm ci"
)
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
# Debian packages npm apart from nodejs (NodeSource's nodejs includes it).
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Missing system packages, needed by the tests:"
for package in "${missing[@]}"; do
  echo "  $package: ${why[$package]}"
done
if [ "$(id -u)" -ne 0 ]; then
  echo "Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "Installing with apt-get (running as root): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "Installed: ${missing[*]}"
