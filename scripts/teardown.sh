#!/usr/bin/env bash
# Delete everything scripts/deploy.sh created: the resource group, the sign-in app registration if any,
# and with --purge the soft-deleted Key Vault too (otherwise its name stays reserved for 7 days;
# deploy.sh would recover it).
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

# CHAT_SIGN_IN=required made an app registration: it lives in the tenant, not in the resource group.
registration_id=$(az ad app list --display-name "chat-sign-in-${app_name#func-}" --query "[0].appId" --output tsv)
if [[ -n "$registration_id" ]]; then
  log "deleting the app registration chat-sign-in-${app_name#func-}"
  az ad app delete --id "$registration_id" --output none
fi

if [[ "$purge" == true ]]; then
  if [[ -n "$(az keyvault list-deleted --query "[?name=='$vault_name'].name" --output tsv)" ]]; then
    log "purging soft-deleted Key Vault $vault_name"
    az keyvault purge --name "$vault_name" --output none
  fi
fi
log "done"
