/**
 * Builds infra/main.bicep with scripts/infra-check.sh and checks the compiled ARM template for the
 * security and hosting properties the deployment promises.
 */
import * as path from 'node:path';
import {
  ArmTemplate,
  Json,
  createObjectPairs,
  Located,
  allResources,
  ofType,
  onlyOne,
  readTemplate,
  repoRoot,
  roleGuids,
  runInfraCheck,
} from './armTemplate';
import { WORKER_NODE_ARGUMENTS } from '../../dev/runtime/workerArguments';

const ROLES = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  cosmosBuiltInDataContributor: '00000000-0000-0000-0000-000000000002',
  owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  contributor: 'b24988ac-6180-42ed-9ca6-ee1c7c0dfeab',
};

// Site properties that Flex Consumption does not support ("Flex Consumption plan deprecations" of
// the Functions app settings reference); functionAppConfig replaces them.
const FLEX_UNSUPPORTED_SITE_CONFIG = [
  'ftpsState',
  'alwaysOn',
  'linuxFxVersion',
  'windowsFxVersion',
  'netFrameworkVersion',
  'javaVersion',
  'powerShellVersion',
  'use32BitWorkerProcess',
  'functionAppScaleLimit',
  'minimumElasticInstanceCount',
  'preWarmedInstanceCount',
];

const REQUIRED_SETTINGS = [
  'AzureWebJobsStorage__accountName',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'COSMOS_ENDPOINT',
  'COSMOS_DATABASE',
  'COSMOS_JOBS_CONTAINER',
  'COSMOS_RESOURCES_CONTAINER',
  'EXPORT_STORAGE_ACCOUNT_URL',
  'EXPORT_CONTAINER',
  'EXPORT_ALLOWED_CONTAINERS',
  'PUBLIC_BASE_URL',
  'AZURE_CLIENT_ID',
  'SOURCE_KIND',
  'FHIR_SOURCE_URL',
  'AUTH_MODE',
  'AUTH_ISSUER',
  'AUTH_AUDIENCE',
  'AUTH_JWKS_URI',
  'EXPORT_FILE_RETENTION_HOURS',
  'TASK_HUB_NAME',
  'EXPORT_RESOURCES_PER_PAGE',
  'EXPORT_TYPE_PARALLELISM',
];

const SECRET_PATTERNS = [
  /listKeys/i,
  /AccountKey=/i,
  /primaryMasterKey/i,
  /connectionStrings\(/i,
  /listConnectionStrings/i,
];

let main: ArmTemplate;
let buildOutput: string;

beforeAll(() => {
  const result = runInfraCheck();
  buildOutput = result.output;
  if (result.status !== 0) throw new Error(`infra check failed (${result.status}):\n${result.output}`);
  main = readTemplate(path.join(repoRoot, 'infra', 'build', 'main.json'));
}, 300_000);

function props(located: Located): Json {
  return located.resource.properties ?? {};
}

/** The app settings: the function module's platform settings merged with the app's own from main. */
function appSettings(): Record<string, unknown> {
  const config = ofType(main, 'Microsoft.Web/sites/config').find((l) =>
    l.resource.name.includes('appsettings'),
  );
  if (!config) throw new Error('no appsettings resource');
  const functionModule = config.template;
  // The settings resource merges the platform settings (an inlined createObject) with the app's own.
  const expression = String(config.resource.properties);
  expect(expression).toMatch(/^\[union\(createObject\(/);
  expect(expression).toMatch(/parameters\('appSettings'\)\)\]$/);
  const platform = createObjectPairs(expression);
  const functionDeployment = ofType(main, 'Microsoft.Resources/deployments').find(
    (l) => (l.resource.properties?.template as ArmTemplate | undefined) === functionModule,
  );
  const parameters = (functionDeployment?.resource.properties?.parameters ?? {}) as Record<
    string,
    { value?: unknown }
  >;
  const own = (parameters.appSettings?.value ?? {}) as Record<string, unknown>;
  // The identity client id handed to the module is the user-assigned identity's.
  expect(String(parameters.identityClientId?.value)).toMatch(/reference\('identity'\)\.clientId/);
  return { ...platform, ...own };
}

describe('Given the compiled ARM template of infra/main.bicep', () => {
  it('When built, then bicep reports no warning or error', () => {
    expect(buildOutput).not.toMatch(/ : (Warning|Error) /);
    expect(buildOutput).toMatch(/bicep lint ok/);
  });

  describe('When the app settings are read', () => {
    it('then every required setting is present', () => {
      const settings = appSettings();
      for (const name of REQUIRED_SETTINGS) expect(Object.keys(settings)).toContain(name);
    });

    it('then connections are identity-based and carry no keys', () => {
      const settings = appSettings();
      expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
      expect(settings).not.toHaveProperty('AzureWebJobsStorage');
      // ClientId=<the identity's client id>;Authorization=AAD, built with format() from the module parameter.
      expect(String(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING)).toMatch(
        /'ClientId=\{0\};Authorization=AAD', parameters\('identityClientId'\)/,
      );
      expect(settings.AzureWebJobsStorage__clientId).toBe("parameters('identityClientId')");
      expect(String(settings.APPLICATIONINSIGHTS_CONNECTION_STRING)).toMatch(
        /Microsoft\.Insights\/components.*ConnectionString$/,
      );
      expect(String(settings.AZURE_CLIENT_ID)).toBe("[reference('identity').clientId]");
      expect(settings.AUTH_MODE).toBe('jwt');
      expect(String(settings.EXPORT_STORAGE_ACCOUNT_URL)).toMatch(
        /reference\('exportStorage'\).*blobEndpoint/,
      );
      expect(String(settings.AzureWebJobsStorage__accountName)).toBe("parameters('hostStorageAccountName')");
      expect(String(settings.COSMOS_ENDPOINT)).toMatch(/outputs\.endpoint/);
      for (const [name, value] of Object.entries(settings)) {
        for (const pattern of SECRET_PATTERNS)
          expect(`${name}=${JSON.stringify(value)}`).not.toMatch(pattern);
      }
      const names = Object.keys(settings).filter((n) => /(_KEY|CONNECTION_STRING|SECRET|PASSWORD)$/i.test(n));
      expect(names).toEqual(['APPLICATIONINSIGHTS_CONNECTION_STRING']);
    });

    it('then the worker gets the Node options the local app runs with', () => {
      expect(appSettings().languageWorkers__node__arguments).toBe(WORKER_NODE_ARGUMENTS.join(' '));
    });

    it('then no setting that Flex Consumption rejects is set', () => {
      const settings = appSettings();
      expect(settings).not.toHaveProperty('FUNCTIONS_WORKER_RUNTIME');
      expect(settings).not.toHaveProperty('FUNCTIONS_EXTENSION_VERSION');
      expect(settings).not.toHaveProperty('WEBSITE_RUN_FROM_PACKAGE');
    });
  });

  it('When searched whole, then no key or connection string function is used anywhere', () => {
    const text = JSON.stringify(main);
    for (const pattern of SECRET_PATTERNS) expect(text).not.toMatch(pattern);
  });

  describe('When the role assignments are read', () => {
    const assignments = () => [
      ...ofType(main, 'Microsoft.Authorization/roleAssignments'),
      ...ofType(main, 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments'),
    ];

    it('then all of them are declared in the one rbac module', () => {
      const modules = new Set(assignments().map((l) => l.modulePath.join('/')));
      expect([...modules]).toEqual(['rbac']);
    });

    it('then the host account gets blob owner, queue and table roles and the export account blob contributor only', () => {
      const onStorage = (account: string) =>
        ofType(main, 'Microsoft.Authorization/roleAssignments').filter((l) =>
          String(l.resource.scope).includes(`parameters('${account}')`),
        );
      expect(onStorage('hostStorageAccountName').flatMap(roleGuids).sort()).toEqual(
        [
          ROLES.storageBlobDataOwner,
          ROLES.storageQueueDataContributor,
          ROLES.storageTableDataContributor,
        ].sort(),
      );
      expect(onStorage('exportStorageAccountName').flatMap(roleGuids)).toEqual([
        ROLES.storageBlobDataContributor,
      ]);
      // Never a control-plane Owner or Contributor on an account.
      const all = ofType(main, 'Microsoft.Authorization/roleAssignments').flatMap(roleGuids);
      expect(all).not.toContain(ROLES.owner);
      expect(all).not.toContain(ROLES.contributor);
    });

    it('then Monitoring Metrics Publisher is assigned on Application Insights', () => {
      const onInsights = ofType(main, 'Microsoft.Authorization/roleAssignments').filter((l) =>
        String(l.resource.scope).includes('Microsoft.Insights/components'),
      );
      expect(onInsights.flatMap(roleGuids)).toContain(ROLES.monitoringMetricsPublisher);
    });

    it('then the Cosmos DB Built-in Data Contributor SQL role is assigned on the account', () => {
      const cosmos = onlyOne(main, 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments');
      expect(roleGuids(cosmos)).toContain(ROLES.cosmosBuiltInDataContributor);
      expect(String(props(cosmos).roleDefinitionId)).toMatch(/sqlRoleDefinitions/);
      expect(String(props(cosmos).scope)).toMatch(/Microsoft\.DocumentDB\/databaseAccounts/);
    });

    it('then every assignment targets the user-assigned identity with a guid() name', () => {
      const rbacDeployment = ofType(main, 'Microsoft.Resources/deployments').find(
        (l) => l.resource.name === 'rbac',
      );
      const parameters = rbacDeployment?.resource.properties?.parameters as Record<string, { value: string }>;
      expect(parameters.principalId.value).toBe("[reference('identity').principalId]");
      expect(main.resources).toHaveProperty(
        'identity.type',
        'Microsoft.ManagedIdentity/userAssignedIdentities',
      );
      for (const located of assignments()) {
        expect(props(located).principalId).toBe("[parameters('principalId')]");
        expect(located.resource.name).toMatch(/guid\(/);
      }
      for (const located of ofType(main, 'Microsoft.Authorization/roleAssignments')) {
        expect(props(located).principalType).toBe('ServicePrincipal');
      }
    });
  });

  describe('When the function app is read', () => {
    it('then it runs on the Flex Consumption plan FC1', () => {
      const plan = onlyOne(main, 'Microsoft.Web/serverfarms');
      expect(plan.resource.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
      expect(props(plan).reserved).toBe(true);
    });

    it('then it is HTTPS only with TLS 1.2, sets no property Flex Consumption rejects, and basic publishing is off', () => {
      const site = onlyOne(main, 'Microsoft.Web/sites');
      expect(props(site).httpsOnly).toBe(true);
      const siteConfig = props(site).siteConfig as Json;
      expect(siteConfig.minTlsVersion).toBe('1.2');
      for (const name of FLEX_UNSUPPORTED_SITE_CONFIG) {
        expect(siteConfig).not.toHaveProperty(name);
        expect(props(site)).not.toHaveProperty(name);
      }
      expect(ofType(main, 'Microsoft.Web/sites/config').map((l) => l.resource.name)).toEqual([
        expect.stringContaining('appsettings'),
      ]);
      const basicAuth = ofType(main, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
      expect(basicAuth).toHaveLength(2);
      for (const policy of basicAuth) expect(props(policy).allow).toBe(false);
    });

    it('then the package comes from a blob container read with the user-assigned identity', () => {
      const site = onlyOne(main, 'Microsoft.Web/sites');
      const config = props(site).functionAppConfig as {
        deployment: { storage: { type: string; authentication: { type: string } } };
        runtime: { name: string; version: string };
        scaleAndConcurrency: { instanceMemoryMB: string; maximumInstanceCount: string };
      };
      expect(config.deployment.storage.type).toBe('blobContainer');
      expect(config.deployment.storage.authentication.type).toBe('UserAssignedIdentity');
      expect(config.runtime).toEqual({ name: 'node', version: '22' });
      expect(config.scaleAndConcurrency.instanceMemoryMB).toMatch(/parameters\('instanceMemoryMB'\)/);
      expect(config.scaleAndConcurrency.maximumInstanceCount).toMatch(/parameters\('maximumInstanceCount'\)/);
      expect((site.resource.identity as Json).type).toBe('UserAssigned');
    });

    it('then Node 22 is fixed, memory and scale-out are parameters of main with defaults', () => {
      expect(main.parameters).not.toHaveProperty('nodeVersion');
      expect(main.parameters?.instanceMemoryMB.defaultValue).toBe(2048);
      expect(main.parameters?.maximumInstanceCount.defaultValue).toEqual(expect.any(Number));
    });
  });

  describe('When the storage accounts are read', () => {
    it('then there are two (host and exports), each refusing shared keys, public blobs, plain HTTP and old TLS', () => {
      const accounts = ofType(main, 'Microsoft.Storage/storageAccounts').filter(
        (l) => (l.resource as { existing?: boolean }).existing !== true,
      );
      expect(accounts.map((l) => l.modulePath.join('/')).sort()).toEqual(['exportStorage', 'hostStorage']);
      for (const storage of accounts) {
        const p = props(storage);
        expect(p.allowSharedKeyAccess).toBe(false);
        expect(p.allowBlobPublicAccess).toBe(false);
        expect(p.minimumTlsVersion).toBe('TLS1_2');
        expect(p.supportsHttpsTrafficOnly).toBe(true);
      }
    });

    it('then the export account holds the export and anonymization containers, the host account the package', () => {
      const moduleParameters = (name: string) =>
        ofType(main, 'Microsoft.Resources/deployments').find((l) => l.resource.name === name)?.resource
          .properties?.parameters as Record<string, { value: unknown }>;
      const exportParams = moduleParameters('exportStorage');
      expect(String(exportParams.containerNames.value)).toMatch(
        /exportContainerNames.*anonymizationContainerName/,
      );
      expect(String(exportParams.expiringContainerNames.value)).toBe("[variables('exportContainerNames')]");
      expect(main.variables?.exportContainerNames).toMatch(
        /exportContainerName.*exportAllowedContainerNames/,
      );
      const hostParams = moduleParameters('hostStorage');
      expect(JSON.stringify(hostParams.containerNames.value)).toMatch(/deploymentContainer/);
      expect(hostParams.expiringContainerNames.value).toEqual([]);
      expect(main.parameters?.anonymizationContainerName.defaultValue).toBe('anonymization');
    });

    it('then a lifecycle rule deletes the files of every expiring container after the retention days', () => {
      const policies = ofType(main, 'Microsoft.Storage/storageAccounts/managementPolicies');
      // One declaration, used by both storage modules; the host's has no expiring containers.
      expect(policies).toHaveLength(2);
      const text = JSON.stringify(props(policies[0]));
      expect(text).toMatch(/prefixMatch/);
      expect(text).toMatch(/expiringContainerNames/);
      expect(text).toMatch(/daysAfterModificationGreaterThan/);
      expect(text).toMatch(/parameters\('expiryDays'\)/);
      expect(String(policies[0].resource.condition)).toMatch(
        /empty\(parameters\('expiringContainerNames'\)\)/,
      );
    });
  });

  describe('When Cosmos DB is read', () => {
    it('then local (key) auth is disabled and serverless is the default', () => {
      const account = onlyOne(main, 'Microsoft.DocumentDB/databaseAccounts');
      expect(props(account).disableLocalAuth).toBe(true);
      expect(JSON.stringify(props(account).capabilities)).toMatch(/EnableServerless/);
      expect(main.parameters?.cosmosCapacityMode.defaultValue).toBe('serverless');
    });

    it('then the jobs container is keyed by /jobId and the resources container by /resourceType', () => {
      const containers = ofType(main, 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers');
      const keys = containers.map(
        (l) => ((props(l).resource as Json).partitionKey as { paths: string[] }).paths[0],
      );
      expect(keys.sort()).toEqual(['/jobId', '/resourceType']);
      const resources = containers.find((l) => JSON.stringify(props(l)).includes('/resourceType')) as Located;
      expect(String(resources.resource.condition)).toMatch(/deployResourcesContainer/);
    });
  });

  it('When Application Insights is read, then local auth is disabled and it sits on a workspace', () => {
    const insights = onlyOne(main, 'Microsoft.Insights/components');
    expect(props(insights).DisableLocalAuth).toBe(true);
    expect(String(props(insights).WorkspaceResourceId)).toMatch(/Microsoft\.OperationalInsights\/workspaces/);
  });

  it('When every resource is listed, then none of them is a key vault secret or a storage key output', () => {
    const types = allResources(main).map((l) => l.resource.type);
    expect(types).not.toContain('Microsoft.KeyVault/vaults/secrets');
    const outputs = JSON.stringify(main.outputs ?? {});
    for (const pattern of SECRET_PATTERNS) expect(outputs).not.toMatch(pattern);
  });
});
