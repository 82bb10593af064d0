// Everything the chat app needs inside one resource group: a Flex Consumption (FC1) Linux Function App
// on Python 3.12 with a user-assigned managed identity, identity-based host storage, Application
// Insights with Entra-only ingestion, and Web PubSub with the Sample_ChatApp hub.
// The hub's event handler is NOT declared here: its URL carries a function key, which exists only
// after the code is deployed. scripts/wire-hub.sh sets it (azd postdeploy and postprovision hooks).
targetScope = 'resourceGroup'

param environmentName string
param location string = resourceGroup().location
param tags object = {}

@allowed([
  'Free_F1'
  'Standard_S1'
])
param webPubSubSku string = 'Free_F1'

@allowed([
  'key'
  'identity'
])
param webPubSubAuthMode string = 'key'

@description('off: anyone picks a name. required: App Service Authentication with Microsoft Entra ID (sign-in.bicep) and ChatSignIn=required.')
@allowed([
  'off'
  'required'
])
param chatSignIn string = 'off'

@description('Chat admins (ChatAdmins): comma-separated <idp>:<id>; moderation needs sign-in.')
param chatAdmins string = ''

var isKeyMode = webPubSubAuthMode == 'key'
var signInRequired = chatSignIn == 'required'
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var hubName = 'Sample_ChatApp'
var deploymentContainerName = 'app-package'
var webPubSubTiers = {
  Free_F1: 'Free'
  Standard_S1: 'Standard'
}
var connectionStringSecretName = 'webpubsub-connection-string'
var secondaryConnectionStringSecretName = 'webpubsub-connection-string-secondary'
var keyVaultName = 'kv-${resourceToken}'

// Built-in role definition ids (stable across tenants).
var storageBlobDataOwnerRole = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributorRole = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributorRole = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisherRole = '3913510d-42f4-4e42-8a64-420c390055eb'
var keyVaultSecretsUserRole = '4633458b-17de-408a-b874-0445c86b69e6'
var webPubSubServiceOwnerRole = '12cf5a90-567b-43ae-8102-96cf46c7d9b4'

// ---------------------------------------------------------------- identity
// User-assigned rather than system-assigned: its roles can be granted before the app exists, so the
// host never starts without access to its own storage.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-${resourceToken}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------- monitoring
resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2026-03-01' = {
  name: 'log-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Telemetry is accepted only with an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
    DisableLocalAuth: true
  }
}

// ---------------------------------------------------------------- storage
resource storage 'Microsoft.Storage/storageAccounts@2026-04-01' = {
  // checkov:skip=CKV_AZURE_35: no VNet in this template, so the Functions host reaches storage over the public endpoint (Entra-only, shared keys off)
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35; anonymous blob access is off (allowBlobPublicAccess false)
  // checkov:skip=CKV_AZURE_206: host storage holds only leases, keys and the deployment package; LRS is enough
  // checkov:skip=CKV_AZURE_43: the name is 'st' + uniqueString(), which checkov cannot evaluate; it is 15 lower-case alphanumerics
  name: 'st${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // The host and the Flex deployment both use the managed identity, so no account key is needed.
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-04-01' = {
  parent: storage
  name: 'default'
}

// Flex Consumption pulls the deployed package from this container.
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The chat's history and shared state (rooms, presence, per-user flood limits): created at deploy
// time so the template declares the whole data model; the app also creates them on first use (an
// idempotent call), which is what a fresh Azurite needs locally. The app reaches them with its
// identity (Storage Table Data Contributor, below) through ChatStorage__tableServiceUri.
resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-04-01' = {
  parent: storage
  name: 'default'
}

resource chatMessagesTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-04-01' = {
  parent: tableService
  name: 'chatmessages'
}

resource chatStateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-04-01' = {
  parent: tableService
  name: 'chatstate'
}

resource storageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageBlobDataOwnerRole)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageQueueDataContributorRole)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributorRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageTableDataContributorRole)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource monitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, monitoringMetricsPublisherRole)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- Web PubSub
resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' = {
  // checkov:skip=CKV_AZURE_175: Free_F1 is the default for a sample; set webPubSubSku=Standard_S1 (WEB_PUBSUB_SKU) for the SLA
  // checkov:skip=CKV_AZURE_176: the service calls no Azure resource with an identity (the upstream uses a function key)
  name: 'wps-${resourceToken}'
  location: location
  tags: tags
  sku: {
    name: webPubSubSku
    tier: webPubSubTiers[webPubSubSku]
    capacity: 1
  }
  properties: {
    // Key mode needs the access keys (connection string, ce-signature); identity mode turns them off.
    disableLocalAuth: !isKeyMode
    publicNetworkAccess: 'Enabled'
    tls: {
      clientCertEnabled: false
    }
  }
}

resource hub 'Microsoft.SignalRService/webPubSub/hubs@2024-03-01' = {
  parent: webPubSub
  name: hubName
  properties: {
    // Clients need a token from /api/negotiate.
    anonymousConnectPolicy: 'deny'
    // Set by scripts/wire-hub.sh once the function key exists. A PUT replaces the whole hub, so a
    // plain `azd provision` clears the handler; the postprovision hook wires it again.
    eventHandlers: []
  }
}

resource webPubSubServiceOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!isKeyMode) {
  name: guid(webPubSub.id, identity.id, webPubSubServiceOwnerRole)
  scope: webPubSub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', webPubSubServiceOwnerRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- Key Vault (key mode only)
// Why a Key Vault rather than listKeys() straight into an app setting: a plain app setting shows the
// access key to anyone who can read the app's configuration (Website Contributor, the portal, `az
// functionapp config appsettings list`), while a Key Vault reference keeps it behind a separate RBAC
// role with audited reads, and rotation is one secret update. The cost is one more resource and
// soft-delete: reusing the environment name after `azd down` needs `azd down --purge`.
resource keyVault 'Microsoft.KeyVault/vaults@2026-02-01' = if (isKeyMode) {
  // checkov:skip=CKV_AZURE_109: Key Vault references are resolved from the app's public outbound addresses (no VNet here)
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109
  // checkov:skip=CKV_AZURE_110: purge protection cannot be turned off and would block `azd down --purge` and name reuse
  // checkov:skip=CKV_AZURE_42: soft delete is on (7 days); the purge-protection half of this check is CKV_AZURE_110
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // Key Vault references are resolved from the app's public outbound addresses (no VNet here).
    publicNetworkAccess: 'Enabled'
  }
}

resource connectionStringSecret 'Microsoft.KeyVault/vaults/secrets@2026-02-01' = if (isKeyMode) {
  // checkov:skip=CKV_AZURE_41: the value is the service's access key, rotated by regenerating the key; an expiry would stop the app
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not look inside conditional resources
  parent: keyVault
  name: connectionStringSecretName
  properties: {
    value: webPubSub.listKeys().primaryConnectionString
    contentType: 'text/plain'
  }
}

resource secondaryConnectionStringSecret 'Microsoft.KeyVault/vaults/secrets@2026-02-01' = if (isKeyMode) {
  // checkov:skip=CKV_AZURE_41: see connectionStringSecret
  // checkov:skip=CKV_AZURE_114: see connectionStringSecret
  parent: keyVault
  name: secondaryConnectionStringSecretName
  properties: {
    value: webPubSub.listKeys().secondaryConnectionString
    contentType: 'text/plain'
  }
}

resource keyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (isKeyMode) {
  name: guid(keyVault.id, identity.id, keyVaultSecretsUserRole)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- Function App
resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy needs always-ready instances, which a pay-per-use sample does not want
  name: 'plan-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// Flex Consumption rejects the old runtime and content settings (FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, WEBSITE_CONTENT*, SCM_DO_BUILD_DURING_DEPLOYMENT,
// ...): the runtime lives in functionAppConfig instead, and tests/deploy asserts none of them is set.
var commonSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  // The chat's tables (see chatMessagesTable), through the same identity.
  ChatStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  ChatStorage__credential: 'managedidentity'
  ChatStorage__clientId: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  // DefaultAzureCredential picks the user-assigned identity by this client id.
  AZURE_CLIENT_ID: identity.properties.clientId
  WebPubSubHub: hubName
  ChatSignIn: chatSignIn
}

// Sign-in mode: the page offers Microsoft only, and App Service signs in with the app's identity
// (a federated credential on the registration) instead of a client secret.
var signInSettings = {
  ChatSignInProviders: 'aad'
  OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID: identity.properties.clientId
  ChatAdmins: chatAdmins
}

// Versionless references: App Service re-reads the secret after rotation (within 24 h, or on restart).
var keyModeSettings = {
  WebPubSubConnectionString: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${connectionStringSecretName})'
  WebPubSubConnectionStringSecondary: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secondaryConnectionStringSecretName})'
}

var identityModeSettings = {
  WebPubSubEndpoint: 'https://${webPubSub.properties.hostName}'
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  // checkov:skip=CKV_AZURE_222: a public chat app: browsers call /api/negotiate and /api/index, Web PubSub calls /api/eventhandler
  // checkov:skip=CKV_AZURE_17: browsers do not present client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero; minimum instances are an always-ready (paid) choice
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health-check setting
  name: 'func-${resourceToken}'
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: 40
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'python'
        version: '3.12'
      }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  // checkov:skip=CKV_AZURE_13: App Service Authentication is optional (CHAT_SIGN_IN=required turns it on in sign-in.bicep); without it the routes carry their own auth
  // checkov:skip=CKV_AZURE_63: this resource holds app settings only; checkov reads it as a whole site config
  // checkov:skip=CKV_AZURE_65: as CKV_AZURE_63
  // checkov:skip=CKV_AZURE_66: as CKV_AZURE_63
  // checkov:skip=CKV_AZURE_80: as CKV_AZURE_63 (and the app is Python, not .NET)
  // checkov:skip=CKV_AZURE_88: as CKV_AZURE_63 (Flex Consumption does not use Azure Files)
  // checkov:skip=CKV_AZURE_222: as on functionApp
  parent: functionApp
  name: 'appsettings'
  properties: union(
    commonSettings,
    isKeyMode ? keyModeSettings : identityModeSettings,
    signInRequired ? signInSettings : {}
  )
  // The host reads storage and the secrets at start-up: grant access first.
  dependsOn: [
    storageBlobDataOwner
    storageQueueDataContributor
    storageTableDataContributor
    monitoringMetricsPublisher
    keyVaultSecretsUser
    connectionStringSecret
    secondaryConnectionStringSecret
    webPubSubServiceOwner
  ]
}

// ---------------------------------------------------------------- sign-in (CHAT_SIGN_IN=required)
module signIn './sign-in.bicep' = if (signInRequired) {
  name: 'sign-in'
  params: {
    functionAppName: functionApp.name
    resourceToken: resourceToken
    identityPrincipalId: identity.properties.principalId
  }
  // The secret-setting name it refers to must exist first.
  dependsOn: [
    appSettings
  ]
}

output functionAppName string = functionApp.name
output functionAppHostName string = functionApp.properties.defaultHostName
output webPubSubName string = webPubSub.name
output webPubSubHostName string = webPubSub.properties.hostName
output webPubSubHub string = hub.name
