// One storage account with its blob containers: used twice, for the Functions host (durable task
// hub, deployment package) and for the exports (NDJSON files, anonymization configurations).
// Shared-key access is disabled: every client authenticates with Entra ID.

@description('Azure region of the resources.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Blob containers to create.')
param containerNames string[]

@description('Containers whose blobs the lifecycle policy deletes after expiryDays (a subset of containerNames; empty: no policy).')
param expiringContainerNames string[]

@description('Days after their last modification when blobs in the expiring containers are deleted.')
@minValue(1)
param expiryDays int

@description('false: the account refuses public network traffic and is reached through private endpoints only.')
param publicNetworkAccess bool

@description('Redundancy of the account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: false
      services: {
        blob: { enabled: true }
        file: { enabled: true }
        queue: { enabled: true, keyType: 'Account' }
        table: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = [
  for name in containerNames: {
    parent: blobService
    name: name
    properties: {
      publicAccess: 'None'
    }
  }
]

// Safety net behind the app's own clean-up: whatever an export left behind in an export container
// is removed once it is older than the retention period.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2025-06-01' = if (!empty(expiringContainerNames)) {
  parent: storage
  name: 'default'
  dependsOn: [
    containers
  ]
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-expired-export-files'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [for name in expiringContainerNames: '${name}/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: expiryDays
                }
              }
              snapshot: {
                delete: {
                  daysAfterCreationGreaterThan: expiryDays
                }
              }
              version: {
                delete: {
                  daysAfterCreationGreaterThan: expiryDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

output storageAccountName string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
