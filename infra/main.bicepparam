// The default shape: public endpoints, Cosmos DB source. Deploy with
//   az deployment group create -g <group> -f infra/main.bicep -p infra/main.bicepparam
// API_CLIENT_ID is the application (client) id of the API's app registration (docs/operations.md).
using 'main.bicep'

param environmentName = readEnvironmentVariable('FX_ENV_NAME', 'dev')
param apiClientId = readEnvironmentVariable('API_CLIENT_ID', '00000000-0000-0000-0000-000000000000')
param instanceMemoryMB = 2048
param maximumInstanceCount = 100
param cosmosCapacityMode = 'serverless'
param useCosmosSource = true
param exportFileRetentionHours = 24
param exportResourcesPerPage = 1000
param exportTypeParallelism = 4
param taskHubName = 'FhirExportHub'
