#!/usr/bin/env bash
# Delete everything scripts/deploy.sh created: the resource group, and with --purge the soft-deleted
# Key Vault too (otherwise its name stays reserved for 7 days; deploy.sh would recover it).
#
#   CHAT_ENV_NAME=mychat scripts/teardown.sh [--yes] [--purge]
#
# For an azd deployment use `azd down --purge` instead.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
source "$SCRIPT_DIR/lib.sh"
# shellcheck source=scripts/names.sh
source "$SCRIPT_DIR/names.sh"

assume_yes=false
purge=false
for arg in "$@"; do
  case "$arg" in
    --yes) assume_yes=true ;;
    --purge) purge=true ;;
    *) die "usage: $0 [--yes] [--purge]" ;;
  esac
done

require_cmd az
require_env CHAT_ENV_NAME
subscription=$(az account show --query id --output tsv) || die "not signed in: run 'az login' first"
chat_names "$subscription" "$CHAT_ENV_NAME"

if az group show --name "$rg" --output none >/dev/null 2>&1; then
  if [[ "$assume_yes" != true ]]; then
    [[ -t 0 ]] || die "refusing to delete $rg without a terminal to confirm; pass --yes"
    read -r -p "Delete resource group $rg and everything in it? [y/N] " answer
    [[ "$answer" == y || "$answer" == Y ]] || die "cancelled"
  fi
  log "deleting resource group $rg (this takes a few minutes)"
  az group delete --name "$rg" --yes --output none
else
  log "resource group $rg does not exist: nothing to delete"
fi

if [[ "$purge" == true ]]; then
  if [[ -n "$(az keyvault list-deleted --query "[?name=='$vault_name'].name" --output tsv)" ]]; then
    log "purging soft-deleted Key Vault $vault_name"
    az keyvault purge --name "$vault_name" --output none
  fi
fi
log "done"
