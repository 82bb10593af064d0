#!/usr/bin/env bash
# Point the Web PubSub hub's event handler at the deployed function app, then prove it works.
#
#   URL:    https://<the app's real defaultHostName>/api/eventhandler?code=<function key>
#   events: user events "*", system events connect, connected, disconnected
#
# Used as the azd postdeploy hook (and postprovision with --if-deployed, because a provision
# resets the hub) and by scripts/deploy.sh. Re-running it is safe: it writes the same settings.
#
# Environment (azd passes its outputs; deploy.sh exports them):
#   AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, AZURE_WEB_PUBSUB_NAME  required
#   AZURE_WEB_PUBSUB_HUB        default Sample_ChatApp
#   WIRE_HUB_RETRIES            default 20 (attempts while the app indexes and warms up)
#   WIRE_HUB_RETRY_DELAY        default 6 (seconds between attempts)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
source "$SCRIPT_DIR/lib.sh"

readonly EVENT_HANDLER_PATH=/api/eventhandler
readonly USER_EVENT_PATTERN='*'
readonly SYSTEM_EVENTS=(connect connected disconnected)

if_deployed=false
case "${1:-}" in
  --if-deployed) if_deployed=true ;;
  "") ;;
  *) die "usage: $0 [--if-deployed]" ;;
esac

require_cmd az curl
require_env AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_WEB_PUBSUB_NAME
rg=$AZURE_RESOURCE_GROUP
app=$AZURE_FUNCTION_APP_NAME
wps=$AZURE_WEB_PUBSUB_NAME
hub=${AZURE_WEB_PUBSUB_HUB:-Sample_ChatApp}
retries=${WIRE_HUB_RETRIES:-20}
delay=${WIRE_HUB_RETRY_DELAY:-6}

ensure_az_extension webpubsub

# Flex Consumption apps get host names like <app>-<hash>.<region>-01.azurewebsites.net, so the
# name is read from the app, never built from the app name.
host=$(az functionapp show --resource-group "$rg" --name "$app" --query defaultHostName --output tsv)
[[ -n "$host" ]] || die "function app '$app' in '$rg' has no defaultHostName"
log "function app host: $host"

# The function is found by its route, so its Python name does not matter.
find_function() {
  function_name=$(az functionapp function list --resource-group "$rg" --name "$app" \
    --query "[?invokeUrlTemplate != null && ends_with(invokeUrlTemplate, '$EVENT_HANDLER_PATH')] | [0].name" \
    --output tsv)
  [[ -n "$function_name" ]]
}
function_name=""
if [[ "$if_deployed" == true ]]; then
  if ! find_function; then
    log "no function serves $EVENT_HANDLER_PATH yet (code not deployed): the postdeploy hook will wire hub '$hub'"
    exit 0
  fi
elif ! retry "$retries" "$delay" find_function; then
  die "no function in '$app' serves $EVENT_HANDLER_PATH; was the code deployed? (az functionapp function list -g $rg -n $app)"
fi
function_name=${function_name##*/} # the list reports "<app>/<function>"
log "event handler function: $function_name"

read_key() {
  key=$(az functionapp function keys list --resource-group "$rg" --name "$app" \
    --function-name "$function_name" --query default --output tsv)
  [[ -n "$key" ]]
}
key=""
retry "$retries" "$delay" read_key || die "could not read the default key of function '$function_name'"

url="https://$host$EVENT_HANDLER_PATH?code=$key"
redacted="https://$host$EVENT_HANDLER_PATH?code=***"

handler_args=(
  --event-handler "url-template=$url" "user-event-pattern=$USER_EVENT_PATTERN"
)
for event in "${SYSTEM_EVENTS[@]}"; do
  handler_args+=("system-event=$event")
done

# --output none everywhere below: the hub settings contain the key.
if az webpubsub hub show --resource-group "$rg" --name "$wps" --hub-name "$hub" --output none >/dev/null 2>&1; then
  log "updating hub '$hub' of '$wps': $redacted"
  az webpubsub hub update --resource-group "$rg" --name "$wps" --hub-name "$hub" \
    "${handler_args[@]}" --allow-anonymous false --output none
else
  log "creating hub '$hub' of '$wps': $redacted"
  az webpubsub hub create --resource-group "$rg" --name "$wps" --hub-name "$hub" \
    "${handler_args[@]}" --allow-anonymous false --output none
fi

# Read the settings back: exactly one handler, with what was written.
query_hub() {
  az webpubsub hub show --resource-group "$rg" --name "$wps" --hub-name "$hub" --query "$1" --output tsv
}
[[ "$(query_hub 'length(properties.eventHandlers)')" == 1 ]] ||
  die "hub '$hub' should have exactly one event handler after the update"
[[ "$(query_hub 'properties.eventHandlers[0].urlTemplate')" == "$url" ]] ||
  die "hub '$hub' did not keep the event handler URL"
[[ "$(query_hub 'properties.eventHandlers[0].userEventPattern')" == "$USER_EVENT_PATTERN" ]] ||
  die "hub '$hub' did not keep user event pattern '$USER_EVENT_PATTERN'"
expected_events=$(
  IFS=,
  echo "${SYSTEM_EVENTS[*]}"
)
[[ "$(query_hub "join(',', properties.eventHandlers[0].systemEvents)")" == "$expected_events" ]] ||
  die "hub '$hub' did not keep system events $expected_events"
[[ "$(query_hub 'properties.anonymousConnectPolicy')" == deny ]] ||
  die "hub '$hub' allows anonymous connects"

# The service validates the URL with an OPTIONS request (abuse protection) before it sends any event.
# Make the same request to the same URL here, so a 401 (bad key) or 404 (wrong host or route) fails the deployment
# instead of every later connect.
wps_host=$(az webpubsub show --resource-group "$rg" --name "$wps" --query hostName --output tsv)
[[ -n "$wps_host" ]] || die "Web PubSub '$wps' has no hostName"
handshake() {
  local headers
  headers=$(curl --silent --show-error --max-time 30 --request OPTIONS --dump-header - --output /dev/null \
    --header "WebHook-Request-Origin: $wps_host" "$url") || return 1
  status=$(printf '%s\n' "$headers" | awk 'toupper($1) ~ /^HTTP\// { code = $2 } END { print code }')
  [[ "$status" == 200 ]] || return 1
  printf '%s\n' "$headers" | tr -d '\r' | grep -qiE "^webhook-allowed-origin: *(\*|$wps_host)$"
}
status=""
if ! retry "$retries" "$delay" handshake; then
  die "the abuse-protection handshake failed (last HTTP status: ${status:-none}); Web PubSub will not deliver events to $redacted"
fi
log "hub '$hub' wired: $redacted (handshake OK, events: ${USER_EVENT_PATTERN} + $expected_events)"
