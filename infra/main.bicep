// Entry point for `azd up` / `azd provision`: one resource group, everything else in ./resources.bicep.
// Plain resource declarations only (no registry modules), so tests/deploy can parse and check it offline.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds the resource names.')
param environmentName string

@minLength(1)
@description('Azure region for every resource. It must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
param location string

@description('Web PubSub SKU: Free_F1 (1 unit, 20 connections, no SLA) or Standard_S1.')
@allowed([
  'Free_F1'
  'Standard_S1'
])
param webPubSubSku string = 'Free_F1'

@description('How the app talks to Web PubSub: key (WebPubSubConnectionString from Key Vault) or identity (WebPubSubEndpoint + managed identity, local auth disabled).')
@allowed([
  'key'
  'identity'
])
param webPubSubAuthMode string = 'key'

@description('off (anyone picks a name) or required (App Service Authentication with Microsoft Entra ID; the app registration is created by infra/sign-in.bicep).')
@allowed([
  'off'
  'required'
])
param chatSignIn string = 'off'

@description('Chat admins, comma-separated <idp>:<id> (as /.auth/me shows them: provider_name and the nameidentifier claim); only with chatSignIn=required.')
param chatAdmins string = ''

var tags = {
  'azd-env-name': environmentName
}

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module resources './resources.bicep' = {
  name: 'resources'
  scope: rg
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    webPubSubSku: webPubSubSku
    webPubSubAuthMode: webPubSubAuthMode
    chatSignIn: chatSignIn
    chatAdmins: chatAdmins
  }
}

// azd stores these in .azure/<env>/.env; scripts/wire-hub.sh reads them in the postdeploy hook.
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = resources.outputs.functionAppName
output AZURE_FUNCTION_APP_HOSTNAME string = resources.outputs.functionAppHostName
output AZURE_WEB_PUBSUB_NAME string = resources.outputs.webPubSubName
output AZURE_WEB_PUBSUB_HUB string = resources.outputs.webPubSubHub
output AZURE_WEB_PUBSUB_AUTH_MODE string = webPubSubAuthMode
output CHAT_SIGN_IN string = chatSignIn
