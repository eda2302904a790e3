// Cosmos DB for NoSQL: the account, the database, the export jobs container and, when the
// Cosmos source is used, the container of FHIR resources. Key-based auth is disabled; the app
// reaches the data plane through the built-in data contributor role (see rbac.bicep).

@description('Azure region of the resources.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Cosmos DB account name.')
@minLength(3)
@maxLength(44)
param accountName string

@description('Database name.')
param databaseName string

@description('Container of export job records and their progress documents (partition key /jobId).')
param jobsContainerName string

@description('Container of FHIR resources read by the Cosmos source (partition key /resourceType).')
param resourcesContainerName string

@description('Create the resources container (true when the Cosmos source is used).')
param deployResourcesContainer bool

@description('serverless: pay per request. provisioned: autoscale throughput shared by the database.')
@allowed([
  'serverless'
  'provisioned'
])
param capacityMode string

@description('Upper bound of the database autoscale throughput (RU/s); used only when capacityMode is provisioned.')
@minValue(1000)
param autoscaleMaxThroughput int

@description('false: the account refuses public network traffic and is reached through its private endpoint only.')
param publicNetworkAccess bool

var isServerless = capacityMode == 'serverless'

resource account 'Microsoft.DocumentDB/databaseAccounts@2025-10-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: isServerless
      ? [
          {
            name: 'EnableServerless'
          }
        ]
      : []
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    enableAutomaticFailover: false
    enableMultipleWriteLocations: false
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2025-10-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: isServerless
      ? {}
      : {
          autoscaleSettings: {
            maxThroughput: autoscaleMaxThroughput
          }
        }
  }
}

resource jobsContainer 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-10-15' = {
  parent: database
  name: jobsContainerName
  properties: {
    resource: {
      id: jobsContainerName
      partitionKey: {
        paths: [
          '/jobId'
        ]
        kind: 'Hash'
        version: 2
      }
      // TTL on without a default: an ended job's record carries its own `ttl`
      // (EXPORT_JOB_RECORD_RETENTION_DAYS); active jobs never expire.
      defaultTtl: -1
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/"_etag"/?'
          }
        ]
      }
    }
  }
}

resource resourcesContainer 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-10-15' = if (deployResourcesContainer) {
  parent: database
  name: resourcesContainerName
  properties: {
    resource: {
      id: resourcesContainerName
      partitionKey: {
        paths: [
          '/resourceType'
        ]
        kind: 'Hash'
        version: 2
      }
    }
  }
}

output accountName string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
output jobsContainerName string = jobsContainer.name
