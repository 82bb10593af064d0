# shellcheck shell=bash
# Resource names for one environment, shared by deploy.sh and teardown.sh (sourced, never run).
# Like uniqueString() in Bicep: stable for a subscription and environment name, unique enough to
# avoid clashes in global name spaces (storage, Key Vault, Web PubSub, app host names).

chat_names() {
  local subscription=$1 env_name=$2 token
  [[ "$env_name" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] ||
    die "CHAT_ENV_NAME must be 1-31 lower-case letters, digits or '-', starting with a letter or digit"
  token=$(printf '%s/%s' "$subscription" "$env_name" | sha256sum | cut -c1-13)
  rg="rg-$env_name"
  identity_name="id-$token"
  workspace_name="log-$token"
  insights_name="appi-$token"
  storage_name="st$token"
  deployment_container=app-package
  webpubsub_name="wps-$token"
  vault_name="kv-$token"
  secret_name=webpubsub-connection-string
  secondary_secret_name=webpubsub-connection-string-secondary
  app_name="func-$token"
  export rg identity_name workspace_name insights_name storage_name deployment_container \
    webpubsub_name vault_name secret_name secondary_secret_name app_name
}
