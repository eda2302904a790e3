// Diagnostic settings into the Log Analytics workspace (blob service of both storage accounts,
// Cosmos DB, the function app) and the alert rules on what goes wrong with exports. The log alerts
// read the app's own custom events (src/export/exportTelemetry.ts) and the host's invocation
// records in Application Insights; Cosmos DB throttling is a platform metric.

@description('Azure region of the log alert rules.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Log Analytics workspace that receives the diagnostic logs.')
param logAnalyticsName string

@description('Application Insights component the log alerts query.')
param applicationInsightsName string

@description('Storage accounts whose blob service logs are collected.')
param storageAccountNames string[]

@description('Cosmos DB account.')
param cosmosAccountName string

@description('Function app.')
param functionAppName string

@description('Prefix of the alert rule names.')
param alertNamePrefix string

@description('Resource id of the action group the alerts notify; empty: none.')
param actionGroupId string

@description('Minutes after which a running export raises the long-running alert.')
@minValue(15)
@maxValue(1380)
param longRunningExportMinutes int

@description('Throttled (429) Cosmos DB requests within 15 minutes that raise the throttling alert.')
@minValue(1)
param cosmosThrottledRequestsThreshold int

@description('Failed function invocations within 15 minutes that raise the function errors alert.')
@minValue(1)
param functionErrorsThreshold int

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: logAnalyticsName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource storageAccounts 'Microsoft.Storage/storageAccounts@2025-06-01' existing = [
  for name in storageAccountNames: {
    name: name
  }
]

resource blobServices 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' existing = [
  for (name, i) in storageAccountNames: {
    parent: storageAccounts[i]
    name: 'default'
  }
]

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2025-10-15' existing = {
  name: cosmosAccountName
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' existing = {
  name: functionAppName
}

// ---------- diagnostic settings ----------
resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = [
  for (name, i) in storageAccountNames: {
    name: 'to-log-analytics'
    scope: blobServices[i]
    properties: {
      workspaceId: workspace.id
      logs: [
        {
          categoryGroup: 'allLogs'
          enabled: true
        }
      ]
      metrics: [
        {
          category: 'Transaction'
          enabled: true
        }
      ]
    }
  }
]

resource cosmosDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: cosmos
  properties: {
    workspaceId: workspace.id
    // Resource-specific tables (CDBDataPlaneRequests, ...) rather than AzureDiagnostics.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Requests'
        enabled: true
      }
    ]
  }
}

resource functionDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: functionApp
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// ---------- alerts ----------
var actionGroups = empty(actionGroupId) ? [] : [actionGroupId]

// A job event that names how the job ended; a job without one is still running.
var endEvents = '"ExportJobCompleted", "ExportJobFailed", "ExportJobCancelled"'

var logAlerts = [
  {
    key: 'export-failed'
    displayName: 'FHIR export failed'
    description: 'An export job ended Failed (custom event ExportJobFailed); failureReason and failureStatusCode say why.'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    query: 'customEvents | where name == "ExportJobFailed" | project timestamp, jobId = tostring(customDimensions.jobId), status = tostring(customDimensions.failureStatusCode), reason = tostring(customDimensions.failureReason)'
    threshold: 1
  }
  {
    key: 'export-long-running'
    displayName: 'FHIR export running too long'
    description: 'An export started (ExportJobStarted) more than ${longRunningExportMinutes} minutes ago has no ExportJobCompleted, ExportJobFailed or ExportJobCancelled event.'
    severity: 3
    frequency: 'PT15M'
    window: 'P1D'
    query: 'let ended = customEvents | where name in (${endEvents}) | distinct jobId = tostring(customDimensions.jobId); customEvents | where name == "ExportJobStarted" | summarize startedAt = min(timestamp) by jobId = tostring(customDimensions.jobId) | where startedAt < ago(${longRunningExportMinutes}m) | join kind=leftanti ended on jobId'
    threshold: 1
  }
  {
    key: 'function-errors'
    displayName: 'FHIR export function errors'
    description: 'Function invocations that failed (requests with success == false, recorded by the Functions host).'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    query: 'requests | where success == false | project timestamp, operation_Name, resultCode'
    threshold: functionErrorsThreshold
  }
]

resource logAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for alert in logAlerts: {
    name: '${alertNamePrefix}-${alert.key}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: alert.displayName
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [
        appInsights.id
      ]
      evaluationFrequency: alert.frequency
      windowSize: alert.window
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Count'
            operator: 'GreaterThanOrEqual'
            threshold: alert.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: actionGroups
      }
    }
  }
]

resource cosmosThrottling 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${alertNamePrefix}-cosmos-throttled'
  location: 'global'
  tags: tags
  properties: {
    description: 'Cosmos DB answered 429 (request rate too large): metric TotalRequests with StatusCode 429.'
    severity: 3
    enabled: true
    scopes: [
      cosmos.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'throttled-requests'
          metricNamespace: 'Microsoft.DocumentDB/databaseAccounts'
          metricName: 'TotalRequests'
          dimensions: [
            {
              name: 'StatusCode'
              operator: 'Include'
              values: [
                '429'
              ]
            }
          ]
          timeAggregation: 'Count'
          operator: 'GreaterThanOrEqual'
          threshold: cosmosThrottledRequestsThreshold
        }
      ]
    }
    autoMitigate: true
    actions: [for id in actionGroups: { actionGroupId: id }]
  }
}
