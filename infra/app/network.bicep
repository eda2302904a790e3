// Private networking: a virtual network with a subnet for the function app's outbound traffic
// (Flex Consumption VNet integration needs a subnet delegated to Microsoft.App/environments), a
// subnet of private endpoints for both storage accounts and Cosmos DB, and the private DNS zones
// that make their usual host names resolve to those endpoints inside the network.

@description('Azure region of the resources.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the virtual network.')
param vnetName string

@description('Address space of the virtual network; the two /24 subnets are its first two.')
param addressPrefix string

@description('Storage account of the Functions host (blob, queue and table endpoints).')
param hostStorageAccountName string

@description('Storage account of the exports (blob endpoint).')
param exportStorageAccountName string

@description('Cosmos DB account (SQL endpoint).')
param cosmosAccountName string

var appSubnetPrefix = cidrSubnet(addressPrefix, 24, 0)
var endpointSubnetPrefix = cidrSubnet(addressPrefix, 24, 1)

// Private DNS zone of each endpoint kind (group id), in the current cloud's storage suffix.
var zones = {
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  queue: 'privatelink.queue.${environment().suffixes.storage}'
  table: 'privatelink.table.${environment().suffixes.storage}'
  Sql: 'privatelink.documents.azure.com'
}

// One private endpoint per account and group: the host needs blob, queue and table; the exports
// only blob; Cosmos DB its SQL API.
var endpoints = [
  { account: hostStorageAccountName, type: 'Microsoft.Storage/storageAccounts', group: 'blob' }
  { account: hostStorageAccountName, type: 'Microsoft.Storage/storageAccounts', group: 'queue' }
  { account: hostStorageAccountName, type: 'Microsoft.Storage/storageAccounts', group: 'table' }
  { account: exportStorageAccountName, type: 'Microsoft.Storage/storageAccounts', group: 'blob' }
  { account: cosmosAccountName, type: 'Microsoft.DocumentDB/databaseAccounts', group: 'Sql' }
]

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: endpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }

  resource appSubnet 'subnets' existing = {
    name: 'app'
  }

  resource endpointSubnet 'subnets' existing = {
    name: 'private-endpoints'
  }
}

resource dnsZones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zone in items(zones): {
    name: zone.value
    location: 'global'
    tags: tags
  }
]

resource dnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zone, i) in items(zones): {
    parent: dnsZones[i]
    name: vnetName
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for endpoint in endpoints: {
    name: 'pe-${endpoint.account}-${toLower(endpoint.group)}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: vnet::endpointSubnet.id
      }
      privateLinkServiceConnections: [
        {
          name: '${endpoint.account}-${toLower(endpoint.group)}'
          properties: {
            privateLinkServiceId: resourceId(endpoint.type, endpoint.account)
            groupIds: [
              endpoint.group
            ]
          }
        }
      ]
    }
  }
]

resource dnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (endpoint, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: toLower(endpoint.group)
          properties: {
            privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', zones[endpoint.group])
          }
        }
      ]
    }
    dependsOn: [
      dnsZones
    ]
  }
]

output appSubnetId string = vnet::appSubnet.id
output vnetId string = vnet.id
