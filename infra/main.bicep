// durable-fhir-export: FHIR Bulk Data $export on Azure Durable Functions (Flex Consumption).
// Deploys into an existing resource group:
//   user-assigned identity, storage (task hub, deployment package, exports), Cosmos DB for NoSQL,
//   Log Analytics + Application Insights, the Flex Consumption plan and function app, and all of
//   the identity's role assignments (app/rbac.bicep). No account keys or secrets are used anywhere.
targetScope = 'resourceGroup'

// ---------- naming ----------
@description('Short environment name (e.g. dev, prod); part of every resource name.')
@minLength(1)
@maxLength(16)
param environmentName string

@description('Azure region; must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

@description('Tags added to every resource.')
param tags object = {}

// ---------- function app ----------
@description('Node.js major version of the Functions runtime.')
@allowed([
  '20'
  '22'
])
param nodeVersion string = '22'

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

// ---------- storage ----------
@description('Redundancy of the storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Blob container of the NDJSON export files.')
@minLength(3)
@maxLength(63)
param exportContainerName string = 'fhir-export'

@description('Hours an export\'s files stay available after the job completed (the app deletes them then).')
@minValue(1)
param exportFileRetentionHours int = 24

@description('Days after which the storage lifecycle policy deletes any file left in the export container. Defaults to one day more than the app\'s retention, rounded up.')
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
@description('true: resources are read from the Cosmos DB resources container (SOURCE_KIND=cosmos); false: from a FHIR REST server (SOURCE_KIND=fhir).')
param useCosmosSource bool = true

@description('Base URL of the FHIR R4 server; required when useCosmosSource is false.')
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
@description('Expected issuer (iss) of the bearer tokens. Defaults to the Entra ID v2 issuer of the deployment tenant.')
param authIssuer string = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'

@description('Expected audience (aud) of the bearer tokens, e.g. the API\'s application id URI.')
@minLength(1)
param authAudience string

@description('JSON Web Key Set URL that signs the bearer tokens. Defaults to the Entra ID v2 keys of the deployment tenant.')
param authJwksUri string = '${environment().authentication.loginEndpoint}${tenant().tenantId}/discovery/v2.0/keys'

// ---------- export tuning ----------
@description('Resources requested per source page (_count); one page is one activity call and one staged block.')
@minValue(1)
@maxValue(10000)
param exportResourcesPerPage int = 2000

@description('Resource types exported in parallel (sub-orchestrations) per job.')
@minValue(1)
@maxValue(64)
param exportTypeParallelism int = 4

// ---------- monitoring ----------
@description('Days that Log Analytics keeps the data.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, location, environmentName))
var names = {
  identity: 'id-fx-${environmentName}-${resourceToken}'
  storage: take('stfx${resourceToken}', 24)
  cosmos: 'cosmos-fx-${environmentName}-${resourceToken}'
  logAnalytics: 'log-fx-${environmentName}-${resourceToken}'
  appInsights: 'appi-fx-${environmentName}-${resourceToken}'
  plan: 'plan-fx-${environmentName}-${resourceToken}'
  functionApp: 'func-fx-${environmentName}-${resourceToken}'
  deploymentContainer: 'app-package'
}
var allTags = union(tags, { 'azd-env-name': environmentName, application: 'durable-fhir-export' })

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

module storage 'app/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: allTags
    storageAccountName: names.storage
    skuName: storageSkuName
    deploymentContainerName: names.deploymentContainer
    exportContainerName: exportContainerName
    exportRetentionDays: exportLifecycleRetentionDays
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
  }
}

// Names are passed as values known before deployment (not module outputs), so that what-if can
// predict the role assignments; the explicit dependsOn orders the deployments instead.
module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  dependsOn: [
    storage
    cosmos
    monitoring
  ]
  params: {
    principalId: identity.properties.principalId
    identityResourceId: identity.id
    storageAccountName: names.storage
    cosmosAccountName: names.cosmos
    applicationInsightsName: names.appInsights
  }
}

module function 'app/function.bicep' = {
  name: 'function'
  // Start the app only once its identity may reach storage, Cosmos DB and Application Insights.
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
    storageAccountName: names.storage
    deploymentContainerName: names.deploymentContainer
    applicationInsightsName: names.appInsights
    nodeVersion: nodeVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: {
      AZURE_CLIENT_ID: identity.properties.clientId
      TASK_HUB_NAME: taskHubName
      COSMOS_ENDPOINT: cosmos.outputs.endpoint
      COSMOS_DATABASE: cosmos.outputs.databaseName
      COSMOS_JOBS_CONTAINER: cosmos.outputs.jobsContainerName
      COSMOS_RESOURCES_CONTAINER: cosmosResourcesContainerName
      EXPORT_STORAGE_ACCOUNT_URL: storage.outputs.blobEndpoint
      EXPORT_CONTAINER: storage.outputs.exportContainerName
      EXPORT_FILE_RETENTION_HOURS: string(exportFileRetentionHours)
      EXPORT_RESOURCES_PER_PAGE: string(exportResourcesPerPage)
      EXPORT_TYPE_PARALLELISM: string(exportTypeParallelism)
      SOURCE_KIND: useCosmosSource ? 'cosmos' : 'fhir'
      FHIR_SOURCE_URL: fhirSourceUrl
      FHIR_SOURCE_AUTH: fhirSourceAuth
      FHIR_SOURCE_SCOPE: fhirSourceScope
      AUTH_MODE: 'jwt'
      AUTH_ISSUER: authIssuer
      AUTH_AUDIENCE: authAudience
      AUTH_JWKS_URI: authJwksUri
      // The worker's Node options, as dev/runtime/workerArguments.ts gives them to the local app.
      languageWorkers__node__arguments: '--heap-growing-percent=100'
    }
  }
}

output AZURE_LOCATION string = location
output AZURE_FUNCTION_APP_NAME string = function.outputs.functionAppName
output FUNCTION_APP_URL string = 'https://${function.outputs.defaultHostName}'
output AZURE_CLIENT_ID string = identity.properties.clientId
output STORAGE_ACCOUNT_NAME string = storage.outputs.storageAccountName
output DEPLOYMENT_CONTAINER_NAME string = storage.outputs.deploymentContainerName
output EXPORT_STORAGE_ACCOUNT_URL string = storage.outputs.blobEndpoint
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
