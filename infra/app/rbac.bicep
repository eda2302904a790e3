// Every permission the app's user-assigned identity needs, in one place.
// Names are deterministic, guid(scope, principal, role) with the identity's resource id standing for the
// principal, so redeploying is idempotent.

@description('Object (principal) id of the user-assigned managed identity.')
param principalId string

@description('Resource id of the same identity; known before deployment, so it keys the assignment names.')
param identityResourceId string

@description('Storage account of the Functions host: durable task hub and deployment package.')
param hostStorageAccountName string

@description('Storage account of the export files and anonymization configurations.')
param exportStorageAccountName string

@description('Cosmos DB account of the job records (and of the FHIR resources with the Cosmos source).')
param cosmosAccountName string

@description('Application Insights component that receives the telemetry.')
param applicationInsightsName string

// Built-in Azure RBAC role definitions (control-plane roles with data actions).
// The host account: Storage Blob Data Owner is what the Functions docs name for identity-based host
// storage (the host creates its containers), queues and tables carry the durable task hub.
var hostStorageRoles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}
// The export account: read, write and delete blobs, and user delegation keys for SAS links.
var storageBlobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

// Cosmos DB data-plane role (not an Azure RBAC role): Cosmos DB Built-in Data Contributor.
var cosmosDataContributorRoleId = '00000000-0000-0000-0000-000000000002'

resource hostStorage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: hostStorageAccountName
}

resource exportStorage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: exportStorageAccountName
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2025-10-15' existing = {
  name: cosmosAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Blob (host leases, task hub large messages, deployment package),
// queue (durable control and work-item queues) and table (history, instances) access.
resource hostStorageAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in items(hostStorageRoles): {
    name: guid(hostStorage.id, identityResourceId, role.value)
    scope: hostStorage
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.value)
      description: 'durable-fhir-export: ${role.key}'
    }
  }
]

resource exportStorageAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(exportStorage.id, identityResourceId, storageBlobDataContributorRoleId)
  scope: exportStorage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributorRoleId)
    description: 'durable-fhir-export: storageBlobDataContributor (exports)'
  }
}

// Entra-authenticated ingestion into Application Insights (DisableLocalAuth is on).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identityResourceId, monitoringMetricsPublisherRoleId)
  scope: appInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    description: 'durable-fhir-export: monitoringMetricsPublisher'
  }
}

// Read and write items in every container of the account (jobs, progress, FHIR resources).
resource cosmosDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2025-10-15' = {
  parent: cosmos
  name: guid(cosmos.id, identityResourceId, cosmosDataContributorRoleId)
  properties: {
    principalId: principalId
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}'
    scope: cosmos.id
  }
}
