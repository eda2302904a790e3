// durable-fhir-export: FHIR Bulk Data $export on Azure Durable Functions (Flex Consumption).
// Deploys into an existing resource group:
//   user-assigned identity; two storage accounts (the Functions host's: task hub and deployment
//   package; the exports': NDJSON files and anonymization configurations); Cosmos DB for NoSQL;
//   Log Analytics + Application Insights with diagnostic settings and alert rules; the Flex
//   Consumption plan and function app; optionally a virtual network with private endpoints; and all
//   of the identity's role assignments (app/rbac.bicep). No account keys or secrets are used anywhere.
targetScope = 'resourceGroup'

// ---------- naming ----------
@description('Short environment name, part of every resource name: 2-12 characters, letters, digits and hyphens, starting with a letter and not ending with a hyphen (e.g. dev, prod-eu). Upper case is allowed and lower-cased in names; the storage accounts drop the hyphens.')
@minLength(2)
@maxLength(12)
param environmentName string

@description('Azure region; must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

@description('Tags added to every resource.')
param tags object = {}

// ---------- function app ----------
@description('Memory of each Flex Consumption instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound of the Flex Consumption scale-out.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Name of the durable task hub (letters and digits, starting with a letter).')
@minLength(3)
@maxLength(45)
param taskHubName string = 'FhirExportHub'

@description('FHIR base URL the service puts in its links (status location, manifest). Empty: https://<the app\'s default host name>/api. Set it when a gateway or custom domain fronts the app.')
param publicBaseUrl string = ''

// ---------- storage ----------
@description('Redundancy of the two storage accounts.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Blob container of the NDJSON export files (in the export storage account).')
@minLength(3)
@maxLength(63)
param exportContainerName string = 'fhir-export'

@description('Further export containers a kick-off may name with _container (EXPORT_ALLOWED_CONTAINERS); each is created in the export account.')
param exportAllowedContainerNames string[] = []

@description('Blob container of the anonymization configurations (in the export storage account).')
@minLength(3)
@maxLength(63)
param anonymizationContainerName string = 'anonymization'

@description('Hours an export\'s files stay available after the job completed (the app deletes them then).')
@minValue(1)
param exportFileRetentionHours int = 24

@description('Days after which the storage lifecycle policy deletes any file left in an export container. Defaults to one day more than the app\'s retention, rounded up.')
@minValue(1)
param exportLifecycleRetentionDays int = (exportFileRetentionHours + 23) / 24 + 1

// ---------- Cosmos DB ----------
@description('serverless (default) or provisioned autoscale throughput shared by the database.')
@allowed([
  'serverless'
  'provisioned'
])
param cosmosCapacityMode string = 'serverless'

@description('Autoscale maximum RU/s of the database when cosmosCapacityMode is provisioned.')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 1000

@description('Cosmos DB database name.')
param cosmosDatabaseName string = 'fhir-export'

@description('Container of job records (partition key /jobId).')
param cosmosJobsContainerName string = 'jobs'

@description('Container of FHIR resources for the Cosmos source (partition key /resourceType).')
param cosmosResourcesContainerName string = 'resources'

// ---------- data source ----------
@description('true: resources are read from the Cosmos DB resources container (SOURCE_KIND=cosmos); false: from a FHIR REST server (SOURCE_KIND=fhir), which needs fhirSourceUrl.')
param useCosmosSource bool = true

@description('Base URL of the FHIR R4 server; required when useCosmosSource is false (the deployment fails without it).')
param fhirSourceUrl string = ''

@description('How the app authenticates to the FHIR server: managed-identity (the app\'s identity; grant it a reader role on the server) or none. Secret-based modes are deliberately not offered here.')
@allowed([
  'managed-identity'
  'none'
])
param fhirSourceAuth string = 'managed-identity'

@description('Token scope for the FHIR server with managed-identity auth (e.g. https://<server>/.default); empty lets the app derive it.')
param fhirSourceScope string = ''

// ---------- API authentication ----------
@description('Entra ID tenant that issues the callers\' tokens. Defaults to the deployment\'s tenant.')
@minLength(36)
@maxLength(36)
param authTenantId string = tenant().tenantId

@description('Application (client) id of the API\'s Entra app registration. Its tokens are v2 (requestedAccessTokenVersion 2), whose aud is this id.')
@minLength(36)
@maxLength(36)
param apiClientId string

// ---------- export tuning ----------
@description('Resources requested per source page (_count); one page is one activity call and one staged block.')
@minValue(1)
@maxValue(10000)
param exportResourcesPerPage int = 2000

@description('Resource types exported in parallel (sub-orchestrations) per job.')
@minValue(1)
@maxValue(64)
param exportTypeParallelism int = 4

// ---------- networking ----------
@description('true: the app joins a new virtual network, both storage accounts and Cosmos DB are reached through private endpoints only (public network access disabled), and private DNS zones resolve them.')
param enablePrivateNetworking bool = false

@description('Address space of the virtual network (private networking only); two /24 subnets are taken from its start.')
param vnetAddressPrefix string = '10.40.0.0/16'

// ---------- monitoring ----------
@description('Days that Log Analytics keeps the data.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Resource id of an existing action group the alerts notify; empty: alerts fire without notifications (visible in the portal).')
param alertActionGroupId string = ''

@description('Minutes after which a running export raises the long-running alert.')
@minValue(15)
@maxValue(1380)
param longRunningExportMinutes int = 240

@description('Cosmos DB requests answered 429 (throttled) within 15 minutes that raise the throttling alert.')
@minValue(1)
param cosmosThrottledRequestsThreshold int = 50

@description('Failed function invocations within 15 minutes that raise the function errors alert.')
@minValue(1)
param functionErrorsThreshold int = 5

// ---------- names ----------
var envChars = map(range(0, length(environmentName)), i => substring(toLower(environmentName), i, 1))
var envIsValid = empty(filter(envChars, c => !contains('abcdefghijklmnopqrstuvwxyz0123456789-', c))) && contains(
  'abcdefghijklmnopqrstuvwxyz',
  envChars[0]
) && !endsWith(environmentName, '-')
// Every name is built on env, so an invalid environment name stops the deployment before anything is created.
var env = envIsValid
  ? toLower(environmentName)
  : fail('environmentName must be 2-12 letters, digits and hyphens, start with a letter and not end with a hyphen.')
var envAlnum = take(replace(env, '-', ''), 8)
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, location, environmentName))
var names = {
  identity: 'id-fx-${env}-${resourceToken}'
  hostStorage: 'st${envAlnum}h${resourceToken}'
  exportStorage: 'st${envAlnum}x${resourceToken}'
  cosmos: 'cosmos-fx-${env}-${resourceToken}'
  logAnalytics: 'log-fx-${env}-${resourceToken}'
  appInsights: 'appi-fx-${env}-${resourceToken}'
  plan: 'plan-fx-${env}-${resourceToken}'
  // At most 31 characters: the host id derives from the first 32 of the app name.
  functionApp: 'func-${env}-${resourceToken}'
  vnet: 'vnet-fx-${env}-${resourceToken}'
  alertPrefix: 'alert-fx-${env}'
  deploymentContainer: 'app-package'
}
var allTags = union(tags, { 'azd-env-name': environmentName, application: 'durable-fhir-export' })
var exportContainerNames = union([exportContainerName], exportAllowedContainerNames)
var checkedFhirSourceUrl = useCosmosSource || !empty(fhirSourceUrl)
  ? fhirSourceUrl
  : fail('fhirSourceUrl is required when useCosmosSource is false: the app has no source to export from without it.')
var authority = '${environment().authentication.loginEndpoint}${authTenantId}'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: names.identity
  location: location
  tags: allTags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: allTags
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.appInsights
    retentionInDays: logRetentionInDays
  }
}

module network 'app/network.bicep' = if (enablePrivateNetworking) {
  name: 'network'
  // The private endpoints attach to the accounts, so those exist first.
  dependsOn: [
    hostStorage
    exportStorage
    cosmos
  ]
  params: {
    location: location
    tags: allTags
    vnetName: names.vnet
    addressPrefix: vnetAddressPrefix
    hostStorageAccountName: names.hostStorage
    exportStorageAccountName: names.exportStorage
    cosmosAccountName: names.cosmos
  }
}

module hostStorage 'app/storage.bicep' = {
  name: 'hostStorage'
  params: {
    location: location
    tags: allTags
    storageAccountName: names.hostStorage
    skuName: storageSkuName
    containerNames: [names.deploymentContainer]
    expiringContainerNames: []
    expiryDays: exportLifecycleRetentionDays
    publicNetworkAccess: !enablePrivateNetworking
  }
}

module exportStorage 'app/storage.bicep' = {
  name: 'exportStorage'
  params: {
    location: location
    tags: allTags
    storageAccountName: names.exportStorage
    skuName: storageSkuName
    containerNames: union(exportContainerNames, [anonymizationContainerName])
    expiringContainerNames: exportContainerNames
    expiryDays: exportLifecycleRetentionDays
    publicNetworkAccess: !enablePrivateNetworking
  }
}

module cosmos 'app/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    location: location
    tags: allTags
    accountName: names.cosmos
    databaseName: cosmosDatabaseName
    jobsContainerName: cosmosJobsContainerName
    resourcesContainerName: cosmosResourcesContainerName
    deployResourcesContainer: useCosmosSource
    capacityMode: cosmosCapacityMode
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    publicNetworkAccess: !enablePrivateNetworking
  }
}

// Names are passed as values known before deployment (not module outputs), so that what-if can
// predict the role assignments; the explicit dependsOn orders the deployments instead.
module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  dependsOn: [
    hostStorage
    exportStorage
    cosmos
    monitoring
  ]
  params: {
    principalId: identity.properties.principalId
    identityResourceId: identity.id
    hostStorageAccountName: names.hostStorage
    exportStorageAccountName: names.exportStorage
    cosmosAccountName: names.cosmos
    applicationInsightsName: names.appInsights
  }
}

module function 'app/function.bicep' = {
  name: 'function'
  // Start the app only once its identity may reach storage, Cosmos DB and Application Insights
  // (with private networking, the subnet id already orders it after the private endpoints).
  dependsOn: [
    rbac
    monitoring
  ]
  params: {
    location: location
    tags: allTags
    planName: names.plan
    functionAppName: names.functionApp
    identityId: identity.id
    identityClientId: identity.properties.clientId
    hostStorageAccountName: names.hostStorage
    deploymentContainerName: names.deploymentContainer
    applicationInsightsName: names.appInsights
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    publicBaseUrl: publicBaseUrl
    subnetId: enablePrivateNetworking ? network!.outputs.appSubnetId : ''
    appSettings: {
      AZURE_CLIENT_ID: identity.properties.clientId
      TASK_HUB_NAME: taskHubName
      COSMOS_ENDPOINT: cosmos.outputs.endpoint
      COSMOS_DATABASE: cosmos.outputs.databaseName
      COSMOS_JOBS_CONTAINER: cosmos.outputs.jobsContainerName
      COSMOS_RESOURCES_CONTAINER: cosmosResourcesContainerName
      EXPORT_STORAGE_ACCOUNT_URL: exportStorage.outputs.blobEndpoint
      EXPORT_CONTAINER: exportContainerName
      EXPORT_ALLOWED_CONTAINERS: join(exportAllowedContainerNames, ',')
      EXPORT_FILE_RETENTION_HOURS: string(exportFileRetentionHours)
      EXPORT_RESOURCES_PER_PAGE: string(exportResourcesPerPage)
      EXPORT_TYPE_PARALLELISM: string(exportTypeParallelism)
      SOURCE_KIND: useCosmosSource ? 'cosmos' : 'fhir'
      FHIR_SOURCE_URL: checkedFhirSourceUrl
      FHIR_SOURCE_AUTH: fhirSourceAuth
      FHIR_SOURCE_SCOPE: fhirSourceScope
      AUTH_MODE: 'jwt'
      // v2 tokens only: their iss is the v2 issuer and their aud the API's client id.
      AUTH_ISSUER: '${authority}/v2.0'
      AUTH_AUDIENCE: apiClientId
      AUTH_JWKS_URI: '${authority}/discovery/v2.0/keys'
      // The worker's Node options, as dev/runtime/workerArguments.ts gives them to the local app.
      languageWorkers__node__arguments: '--heap-growing-percent=100'
    }
  }
}

module diagnostics 'app/diagnostics.bicep' = {
  name: 'diagnostics'
  dependsOn: [
    hostStorage
    exportStorage
    cosmos
    function
  ]
  params: {
    location: location
    tags: allTags
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.appInsights
    storageAccountNames: [
      names.hostStorage
      names.exportStorage
    ]
    cosmosAccountName: names.cosmos
    functionAppName: names.functionApp
    alertNamePrefix: names.alertPrefix
    actionGroupId: alertActionGroupId
    longRunningExportMinutes: longRunningExportMinutes
    cosmosThrottledRequestsThreshold: cosmosThrottledRequestsThreshold
    functionErrorsThreshold: functionErrorsThreshold
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = authTenantId
output AZURE_FUNCTION_APP_NAME string = function.outputs.functionAppName
output FUNCTION_APP_URL string = 'https://${function.outputs.defaultHostName}'
output FHIR_BASE_URL string = function.outputs.publicBaseUrl
output AUTH_ISSUER string = '${authority}/v2.0'
output AUTH_TOKEN_ENDPOINT string = '${authority}/oauth2/v2.0/token'
output AUTH_TOKEN_SCOPE string = '${apiClientId}/.default'
output AZURE_CLIENT_ID string = identity.properties.clientId
output HOST_STORAGE_ACCOUNT_NAME string = hostStorage.outputs.storageAccountName
output DEPLOYMENT_CONTAINER_NAME string = names.deploymentContainer
output EXPORT_STORAGE_ACCOUNT_NAME string = exportStorage.outputs.storageAccountName
output EXPORT_STORAGE_ACCOUNT_URL string = exportStorage.outputs.blobEndpoint
output ANONYMIZATION_CONTAINER_NAME string = anonymizationContainerName
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
