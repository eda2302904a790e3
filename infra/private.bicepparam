// The private networking shape: the app joins a virtual network, and both storage accounts and
// Cosmos DB are reachable through private endpoints only. Deploy with
//   az deployment group create -g <group> -f infra/main.bicep -p infra/private.bicepparam
using 'main.bicep'

param environmentName = readEnvironmentVariable('FX_ENV_NAME', 'prod')
param apiClientId = readEnvironmentVariable('API_CLIENT_ID', '00000000-0000-0000-0000-000000000000')
param enablePrivateNetworking = true
param vnetAddressPrefix = '10.40.0.0/16'
param storageSkuName = 'Standard_ZRS'
param maximumInstanceCount = 100
param alertActionGroupId = readEnvironmentVariable('ALERT_ACTION_GROUP_ID', '')
param longRunningExportMinutes = 240
