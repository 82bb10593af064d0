// Sign-in for the chat (CHAT_SIGN_IN=required): App Service Authentication with Microsoft Entra ID.
//
// The app registration is declared here with the Microsoft Graph Bicep extension (GA since July 2025)
// rather than made by an `az ad app create` hook: it is then part of the same idempotent deployment
// (uniqueName keys it, so a second `azd provision` updates instead of duplicating), its redirect URI
// comes straight from the app's real host name (Flex Consumption host names are not guessable), and
// `azd down` shows it with everything else. No client secret exists: the registration trusts the app's
// user-assigned managed identity through a federated identity credential, and App Service signs in
// with it (OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID). The deploying user needs the right to create app
// registrations in the tenant (e.g. Application Developer, or Application.ReadWrite.All).
extension microsoftGraphV1

@description('The Function App to protect.')
param functionAppName string

@description('Seeds the registration\'s unique name, as resources.bicep seeds every other name.')
param resourceToken string

@description('Object (principal) id of the app\'s user-assigned identity, trusted instead of a secret.')
param identityPrincipalId string

resource functionApp 'Microsoft.Web/sites@2025-03-01' existing = {
  name: functionAppName
}

var registrationName = 'chat-sign-in-${resourceToken}'
var callbackUrl = 'https://${functionApp.properties.defaultHostName}/.auth/login/aad/callback'
var issuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'

resource registration 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: registrationName
  displayName: registrationName
  signInAudience: 'AzureADMyOrg'
  web: {
    redirectUris: [
      callbackUrl
    ]
    implicitGrantSettings: {
      enableIdTokenIssuance: false
      enableAccessTokenIssuance: false
    }
  }
}

resource federatedCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = {
  name: '${registration.uniqueName}/app-identity'
  audiences: [
    'api://AzureADTokenExchange'
  ]
  issuer: issuer
  subject: identityPrincipalId
}

// Users of the tenant sign in to the registration through its service principal.
resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: registration.appId
}

resource authSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  // checkov reads every sites/config resource as a whole site config; these are authentication settings only:
  // checkov:skip=CKV_AZURE_13: this IS App Service Authentication (authsettingsV2); checkov looks for the V1 siteConfig flag
  // checkov:skip=CKV_AZURE_63: authentication settings only; logging is configured on the site
  // checkov:skip=CKV_AZURE_65: as CKV_AZURE_63
  // checkov:skip=CKV_AZURE_66: as CKV_AZURE_63
  // checkov:skip=CKV_AZURE_80: as CKV_AZURE_63 (and the app is Python, not .NET)
  // checkov:skip=CKV_AZURE_88: as CKV_AZURE_63 (Flex Consumption does not use Azure Files)
  // checkov:skip=CKV_AZURE_222: a public chat app, as on the site in resources.bicep
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      // Browsers are sent to Entra ID; the page's script calls (X-Requested-With) get 401.
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      // Web PubSub calls the webhook with no user; it keeps its own checks (function key, signature).
      excludedPaths: [
        '/api/eventhandler'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: registration.appId
          openIdIssuer: issuer
          clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
        }
      }
    }
    login: {
      // The app reads the X-MS-CLIENT-PRINCIPAL* headers only; it needs no stored tokens.
      tokenStore: {
        enabled: false
      }
    }
  }
  dependsOn: [
    federatedCredential
    servicePrincipal
  ]
}

output clientId string = registration.appId
