#!/usr/bin/env bash
# Deploy the chat app with the az CLI only: the same resources as infra/ (Bicep), created one by one.
# Every step checks what exists first, so re-running it is safe and only fills in what is missing.
#
#   CHAT_ENV_NAME=mychat CHAT_LOCATION=westeurope scripts/deploy.sh
#
# Environment:
#   CHAT_ENV_NAME           required; names the resource group (rg-<name>) and seeds resource names
#   CHAT_LOCATION           required; a region with Flex Consumption (az functionapp list-flexconsumption-locations)
#   WEB_PUBSUB_SKU          Free_F1 (default) or Standard_S1
#   WEB_PUBSUB_AUTH_MODE    key (default: connection strings in Key Vault) or identity (managed identity)
#   DEPLOYER_OBJECT_ID      object id allowed to write the Key Vault secrets (default: the signed-in user)
#   CHAT_SIGN_IN            off (default: anyone picks a name) or required (App Service Authentication with
#                           Microsoft Entra ID; creates an app registration, so the signed-in user needs the
#                           right to create one, e.g. Application Developer)
#   CHAT_ADMINS             with CHAT_SIGN_IN=required: chat admins, comma-separated <idp>:<id> (for aad your object
#                           id: az ad signed-in-user show --query id; /.auth/me shows it as the objectidentifier
#                           claim), e.g. aad:0c1f...
#   PYTHON                  Python used to build the package (default python3; needs `pip install pathspec`)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$SCRIPT_DIR/lib.sh"

require_cmd az curl
require_env CHAT_ENV_NAME CHAT_LOCATION
env_name=$CHAT_ENV_NAME
location=$CHAT_LOCATION
sku=${WEB_PUBSUB_SKU:-Free_F1}
mode=${WEB_PUBSUB_AUTH_MODE:-key}
python=${PYTHON:-python3}
[[ "$sku" == Free_F1 || "$sku" == Standard_S1 ]] || die "WEB_PUBSUB_SKU must be Free_F1 or Standard_S1, not '$sku'"
[[ "$mode" == key || "$mode" == identity ]] || die "WEB_PUBSUB_AUTH_MODE must be key or identity, not '$mode'"
sign_in=${CHAT_SIGN_IN:-off}
[[ "$sign_in" == off || "$sign_in" == required ]] || die "CHAT_SIGN_IN must be off or required, not '$sign_in'"
require_cmd "$python"

subscription=$(az account show --query id --output tsv) || die "not signed in: run 'az login' first"
# shellcheck source=scripts/names.sh
source "$SCRIPT_DIR/names.sh"
chat_names "$subscription" "$env_name"
hub=Sample_ChatApp
log "deploying '$env_name' to $location (resource group $rg, Web PubSub $sku, $mode mode, sign-in $sign_in)"

ensure_az_extension webpubsub
ensure_az_extension application-insights

exists() { "$@" --output none >/dev/null 2>&1; }

# ensure_role PRINCIPAL_ID ROLE SCOPE_ID [PRINCIPAL_TYPE]
ensure_role() {
  local principal=$1 role=$2 scope=$3 type=${4:-ServicePrincipal} found
  # --assignee-object-id and --fill-principal-name false: no Microsoft Graph look-up, which fails
  # for an identity created seconds ago (not replicated yet; azure-cli issue 32943).
  found=$(az role assignment list --assignee-object-id "$principal" --fill-principal-name false \
    --role "$role" --scope "$scope" --query "[0].scope" --output tsv)
  if [[ -z "$found" ]]; then
    log "granting '$role' on ${scope##*/}"
    az role assignment create --assignee-object-id "$principal" --assignee-principal-type "$type" \
      --role "$role" --scope "$scope" --output none
  fi
}

# ------------------------------------------------------------------ resource group, identity
exists az group show --name "$rg" || {
  log "creating resource group $rg"
  az group create --name "$rg" --location "$location" --tags "chat-env=$env_name" --output none
}
exists az identity show --resource-group "$rg" --name "$identity_name" || {
  log "creating managed identity $identity_name"
  az identity create --resource-group "$rg" --name "$identity_name" --location "$location" --output none
}
identity_id=$(az identity show --resource-group "$rg" --name "$identity_name" --query id --output tsv)
principal_id=$(az identity show --resource-group "$rg" --name "$identity_name" --query principalId --output tsv)
client_id=$(az identity show --resource-group "$rg" --name "$identity_name" --query clientId --output tsv)

# ------------------------------------------------------------------ monitoring
exists az monitor log-analytics workspace show --resource-group "$rg" --workspace-name "$workspace_name" || {
  log "creating Log Analytics workspace $workspace_name"
  az monitor log-analytics workspace create --resource-group "$rg" --workspace-name "$workspace_name" \
    --location "$location" --retention-time 30 --output none
}
workspace_id=$(az monitor log-analytics workspace show --resource-group "$rg" --workspace-name "$workspace_name" --query id --output tsv)
exists az monitor app-insights component show --resource-group "$rg" --app "$insights_name" || {
  log "creating Application Insights $insights_name"
  az monitor app-insights component create --resource-group "$rg" --app "$insights_name" --location "$location" \
    --kind web --application-type web --workspace "$workspace_id" --output none
}
insights_id=$(az monitor app-insights component show --resource-group "$rg" --app "$insights_name" --query id --output tsv)
insights_connection=$(az monitor app-insights component show --resource-group "$rg" --app "$insights_name" --query connectionString --output tsv)
# Telemetry only with an Entra token, as in Bicep.
az resource update --ids "$insights_id" --set properties.DisableLocalAuth=true --output none
ensure_role "$principal_id" "Monitoring Metrics Publisher" "$insights_id"

# ------------------------------------------------------------------ storage
exists az storage account show --resource-group "$rg" --name "$storage_name" || {
  log "creating storage account $storage_name"
  az storage account create --resource-group "$rg" --name "$storage_name" --location "$location" \
    --sku Standard_LRS --kind StorageV2 --min-tls-version TLS1_2 --https-only true \
    --allow-blob-public-access false --allow-shared-key-access false --output none
}
storage_id=$(az storage account show --resource-group "$rg" --name "$storage_name" --query id --output tsv)
# Through the management plane: no data-plane role is needed for the deployer.
exists az storage container-rm show --resource-group "$rg" --storage-account "$storage_name" --name "$deployment_container" || {
  log "creating deployment container $deployment_container"
  az storage container-rm create --resource-group "$rg" --storage-account "$storage_name" \
    --name "$deployment_container" --public-access off --output none
}
# The chat's history and shared state (rooms, presence, per-user flood limits). Created here,
# at deploy time, so the deployment declares the whole data model; the app also creates them
# on first use (an idempotent call), which is what a fresh Azurite needs locally.
# Through the management plane (ARM), as the container above: the deployer needs no data role.
for table in chatmessages chatstate; do
  table_id="$storage_id/tableServices/default/tables/$table"
  exists az resource show --ids "$table_id" || {
    log "creating table $table"
    az resource create --id "$table_id" --properties '{}' --output none
  }
done
ensure_role "$principal_id" "Storage Blob Data Owner" "$storage_id"
ensure_role "$principal_id" "Storage Queue Data Contributor" "$storage_id"
ensure_role "$principal_id" "Storage Table Data Contributor" "$storage_id"

# ------------------------------------------------------------------ Web PubSub
exists az webpubsub show --resource-group "$rg" --name "$webpubsub_name" || {
  log "creating Web PubSub $webpubsub_name ($sku)"
  az webpubsub create --resource-group "$rg" --name "$webpubsub_name" --location "$location" \
    --sku "$sku" --unit-count 1 --output none
}
webpubsub_id=$(az webpubsub show --resource-group "$rg" --name "$webpubsub_name" --query id --output tsv)
webpubsub_host=$(az webpubsub show --resource-group "$rg" --name "$webpubsub_name" --query hostName --output tsv)
disable_local_auth=false
[[ "$mode" == identity ]] && disable_local_auth=true
az resource update --ids "$webpubsub_id" --set "properties.disableLocalAuth=$disable_local_auth" --output none

# ------------------------------------------------------------------ Key Vault (key mode)
declare -a mode_settings
if [[ "$mode" == key ]]; then
  if ! exists az keyvault show --resource-group "$rg" --name "$vault_name"; then
    if [[ -n "$(az keyvault list-deleted --query "[?name=='$vault_name'].name" --output tsv)" ]]; then
      log "recovering soft-deleted Key Vault $vault_name"
      az keyvault recover --name "$vault_name" --output none
    else
      log "creating Key Vault $vault_name"
      az keyvault create --resource-group "$rg" --name "$vault_name" --location "$location" \
        --enable-rbac-authorization true --retention-days 7 --output none
    fi
  fi
  vault_id=$(az keyvault show --resource-group "$rg" --name "$vault_name" --query id --output tsv)
  deployer=${DEPLOYER_OBJECT_ID:-$(az ad signed-in-user show --query id --output tsv)}
  ensure_role "$deployer" "Key Vault Secrets Officer" "$vault_id" "${DEPLOYER_PRINCIPAL_TYPE:-User}"
  ensure_role "$principal_id" "Key Vault Secrets User" "$vault_id"
  secret_file=$(mktemp)
  trap 'rm -f "$secret_file"' EXIT
  chmod 600 "$secret_file"
  # The value goes through a file, never the command line or the terminal.
  put_secret() {
    local secret=$1 field=$2
    az webpubsub key show --resource-group "$rg" --name "$webpubsub_name" --query "$field" --output tsv |
      tr -d '\n' >"$secret_file"
    current=$(az keyvault secret show --vault-name "$vault_name" --name "$secret" --query value --output tsv 2>/dev/null || true)
    if [[ "$current" != "$(cat "$secret_file")" ]]; then
      log "storing $secret in $vault_name"
      # A new role assignment takes a minute or two to apply.
      retry 12 10 az keyvault secret set --vault-name "$vault_name" --name "$secret" \
        --file "$secret_file" --encoding utf-8 --output none ||
        die "could not write $secret to $vault_name (does $deployer have 'Key Vault Secrets Officer'?)"
    fi
  }
  put_secret "$secret_name" primaryConnectionString
  put_secret "$secondary_secret_name" secondaryConnectionString
  mode_settings=(
    "WebPubSubConnectionString=@Microsoft.KeyVault(VaultName=$vault_name;SecretName=$secret_name)"
    "WebPubSubConnectionStringSecondary=@Microsoft.KeyVault(VaultName=$vault_name;SecretName=$secondary_secret_name)"
  )
  stale_settings=(WebPubSubEndpoint)
else
  ensure_role "$principal_id" "Web PubSub Service Owner" "$webpubsub_id"
  mode_settings=("WebPubSubEndpoint=https://$webpubsub_host")
  stale_settings=(WebPubSubConnectionString WebPubSubConnectionStringSecondary)
fi

# ------------------------------------------------------------------ Function App (Flex Consumption)
exists az functionapp show --resource-group "$rg" --name "$app_name" || {
  log "creating Flex Consumption function app $app_name (Python 3.12)"
  az functionapp create --resource-group "$rg" --name "$app_name" --flexconsumption-location "$location" \
    --runtime python --runtime-version 3.12 --storage-account "$storage_name" --app-insights "$insights_name" \
    --deployment-storage-name "$storage_name" --deployment-storage-container-name "$deployment_container" \
    --deployment-storage-auth-type UserAssignedIdentity --deployment-storage-auth-value "$identity_id" \
    --instance-memory 2048 --maximum-instance-count 40 --output none
}
app_id=$(az functionapp show --resource-group "$rg" --name "$app_name" --query id --output tsv)
az functionapp identity assign --resource-group "$rg" --name "$app_name" --identities "$identity_id" --output none
az resource update --ids "$app_id" --set "properties.keyVaultReferenceIdentity=$identity_id" --output none
az resource update --ids "$app_id" --set properties.httpsOnly=true --output none

log "setting app settings (identity-based storage and monitoring, $mode mode for Web PubSub)"
# --output none: the settings include secrets in key mode (as Key Vault references only, but still).
az functionapp config appsettings set --resource-group "$rg" --name "$app_name" --output none --settings \
  "AzureWebJobsStorage__accountName=$storage_name" \
  "AzureWebJobsStorage__credential=managedidentity" \
  "AzureWebJobsStorage__clientId=$client_id" \
  "ChatStorage__tableServiceUri=https://$storage_name.table.core.windows.net" \
  "ChatStorage__credential=managedidentity" \
  "ChatStorage__clientId=$client_id" \
  "APPLICATIONINSIGHTS_CONNECTION_STRING=$insights_connection" \
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING=ClientId=$client_id;Authorization=AAD" \
  "AZURE_CLIENT_ID=$client_id" \
  "WebPubSubHub=$hub" \
  "${mode_settings[@]}"
# `az functionapp create` wrote a key-based AzureWebJobsStorage; the identity-based settings replace it.
az functionapp config appsettings delete --resource-group "$rg" --name "$app_name" --output none \
  --setting-names AzureWebJobsStorage "${stale_settings[@]}"
# Nothing needs the account key any more.
az storage account update --resource-group "$rg" --name "$storage_name" --allow-shared-key-access false --output none

# ------------------------------------------------------------------ sign-in (CHAT_SIGN_IN)
# What infra/sign-in.bicep declares for azd, done with az: an Entra app registration whose redirect URI is
# the app's real host name and which trusts the app's managed identity (a federated credential, so no
# client secret exists), then App Service Authentication (authsettingsV2) on the app.
sign_in_settings=(ChatSignIn ChatSignInProviders OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID ChatAdmins)
if [[ "$sign_in" == required ]]; then
  registration_name="chat-sign-in-${app_name#func-}"
  app_host=$(az functionapp show --resource-group "$rg" --name "$app_name" --query defaultHostName --output tsv)
  callback="https://$app_host/.auth/login/aad/callback"
  registration_id=$(az ad app list --display-name "$registration_name" --query "[0].appId" --output tsv)
  if [[ -z "$registration_id" ]]; then
    log "creating the app registration $registration_name (sign-in with Microsoft Entra ID)"
    registration_id=$(az ad app create --display-name "$registration_name" --sign-in-audience AzureADMyOrg \
      --web-redirect-uris "$callback" --enable-id-token-issuance false --query appId --output tsv) ||
      die "could not create an app registration (does the signed-in user have the right to?)"
  else
    az ad app update --id "$registration_id" --web-redirect-uris "$callback" --output none
  fi
  exists az ad sp show --id "$registration_id" || az ad sp create --id "$registration_id" --output none
  tenant_id=$(az account show --query tenantId --output tsv)
  issuer="https://login.microsoftonline.com/$tenant_id/v2.0"
  if [[ -z "$(az ad app federated-credential list --id "$registration_id" --query "[?name=='app-identity'].name" --output tsv)" ]]; then
    log "trusting the app's identity from the app registration (no client secret)"
    az ad app federated-credential create --id "$registration_id" --output none --parameters "$(
      cat <<JSON
{"name": "app-identity", "issuer": "$issuer", "subject": "$principal_id", "audiences": ["api://AzureADTokenExchange"]}
JSON
    )"
  fi
  az functionapp config appsettings set --resource-group "$rg" --name "$app_name" --output none --settings \
    ChatSignIn=required ChatSignInProviders=aad "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID=$client_id" \
    "ChatAdmins=${CHAT_ADMINS:-}"
  log "turning on App Service Authentication (pages redirected to sign-in, scripts 401, /api/eventhandler open)"
  az rest --method put --output none \
    --url "https://management.azure.com$app_id/config/authsettingsV2?api-version=2025-03-01" --body "$(
      cat <<JSON
{
  "properties": {
    "platform": {"enabled": true},
    "globalValidation": {
      "requireAuthentication": true,
      "unauthenticatedClientAction": "RedirectToLoginPage",
      "redirectToProvider": "azureactivedirectory",
      "excludedPaths": ["/api/eventhandler"]
    },
    "httpSettings": {"requireHttps": true},
    "identityProviders": {
      "azureActiveDirectory": {
        "enabled": true,
        "registration": {
          "clientId": "$registration_id",
          "openIdIssuer": "$issuer",
          "clientSecretSettingName": "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"
        }
      }
    },
    "login": {"tokenStore": {"enabled": false}}
  }
}
JSON
    )"
else
  # Off: the app lets anyone pick a name. Platform authentication, if an earlier run turned it on,
  # stays as it is (turn it off with: az webapp auth update --enabled false).
  az functionapp config appsettings delete --resource-group "$rg" --name "$app_name" --output none \
    --setting-names "${sign_in_settings[@]}"
fi

# ------------------------------------------------------------------ code
package_dir=$(mktemp -d)
trap 'rm -rf "$package_dir" "${secret_file:-}"' EXIT
"$python" "$SCRIPT_DIR/package_app.py" --root "$REPO_DIR" --output "$package_dir/app.zip" ||
  die "packaging failed (is pathspec installed? $python -m pip install pathspec)"
log "publishing the code (remote build installs requirements.txt)"
az functionapp deployment source config-zip --resource-group "$rg" --name "$app_name" \
  --src "$package_dir/app.zip" --build-remote true --output none

# ------------------------------------------------------------------ hub
AZURE_RESOURCE_GROUP=$rg AZURE_FUNCTION_APP_NAME=$app_name AZURE_WEB_PUBSUB_NAME=$webpubsub_name \
  AZURE_WEB_PUBSUB_HUB=$hub bash "$SCRIPT_DIR/wire-hub.sh"

host=$(az functionapp show --resource-group "$rg" --name "$app_name" --query defaultHostName --output tsv)
log "done: open https://$host/api/index"
