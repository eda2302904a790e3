/**
 * What the compiled template makes of concrete parameters, computed with a small ARM expression
 * evaluator: every resource name for extreme environment names against its service's naming rule,
 * the fail() checks, the API authentication settings, the public base URL, the two deployment shapes
 * (default and private networking, from their .bicepparam files), diagnostics and alerts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArmEvaluator, ArmFailure } from './armExpression';
import { ArmTemplate, Json, Located, ofType, readTemplate, repoRoot, runInfraCheck } from './armTemplate';
import { TelemetryEvents } from '../../src/export/exportTelemetry';

const API_CLIENT_ID = '9a8b7c6d-0000-4000-8000-123456789abc';
const TENANT_ID = '11111111-2222-3333-4444-555555555555';

let workDir: string;
let main: ArmTemplate;
let shapes: Record<string, Record<string, unknown>>;

beforeAll(() => {
  // A copy, so that this file and template.test.ts never write one build folder at once.
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-deployment-'));
  const infra = path.join(workDir, 'infra');
  fs.cpSync(path.join(repoRoot, 'infra'), infra, {
    recursive: true,
    filter: (source) => !/[\\/](\.bicep-cli|build)$/.test(source),
  });
  const result = runInfraCheck(path.join(infra, 'main.bicep'));
  if (result.status !== 0) throw new Error(`infra check failed (${result.status}):\n${result.output}`);
  main = readTemplate(path.join(infra, 'build', 'main.json'));
  shapes = {};
  for (const shape of ['main', 'private']) {
    const file = JSON.parse(
      fs.readFileSync(path.join(infra, 'build', `${shape}.parameters.json`), 'utf8'),
    ) as {
      parameters: Record<string, { value: unknown }>;
    };
    shapes[shape] = Object.fromEntries(Object.entries(file.parameters).map(([k, v]) => [k, v.value]));
  }
}, 300_000);

afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

function evaluator(parameters: Record<string, unknown>): ArmEvaluator {
  return new ArmEvaluator(main, { apiClientId: API_CLIENT_ID, ...parameters });
}

function moduleOf(name: string): Located {
  const found = ofType(main, 'Microsoft.Resources/deployments').find((l) => l.resource.name === name);
  if (!found) throw new Error(`no module ${name}`);
  return found;
}

/** The value main passes to a module's parameter, evaluated for the given parameters of main. */
function moduleParameter(module: string, parameter: string, parameters: Record<string, unknown>): unknown {
  const raw = (moduleOf(module).resource.properties?.parameters as Record<string, unknown>)[parameter];
  const evaluated = evaluator(parameters).value(raw) as { value: unknown };
  return evaluated.value;
}

function appSetting(name: string, parameters: Record<string, unknown>): unknown {
  return (moduleParameter('function', 'appSettings', parameters) as Record<string, unknown>)[name];
}

// Naming rules of each service (Azure resource naming rules, Microsoft Learn).
const NAME_RULES: Record<string, RegExp> = {
  // Microsoft.ManagedIdentity/userAssignedIdentities: 3-128, alphanumerics, hyphens, underscores.
  identity: /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$/,
  // Microsoft.Storage/storageAccounts: 3-24 lower-case letters and digits, globally unique.
  hostStorage: /^[a-z0-9]{3,24}$/,
  exportStorage: /^[a-z0-9]{3,24}$/,
  // Microsoft.DocumentDB/databaseAccounts: 3-44 lower-case letters, digits and hyphens, not starting with a hyphen.
  cosmos: /^[a-z0-9][a-z0-9-]{2,43}$/,
  // Microsoft.OperationalInsights/workspaces: 4-63, alphanumerics and hyphens, alphanumeric at both ends.
  logAnalytics: /^[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]$/,
  // Microsoft.Insights/components: 1-260, none of %&\?/ and no trailing period or space.
  appInsights: /^[^%&\\?/]{0,259}[^%&\\?/. ]$/,
  // Microsoft.Web/serverfarms: 1-60, alphanumerics and hyphens.
  plan: /^[a-zA-Z0-9-]{1,60}$/,
  // Microsoft.Web/sites: 2-60, alphanumerics and hyphens, not at either end; kept to 32 for the host id.
  functionApp: /^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$/,
  // Microsoft.Network/virtualNetworks: 2-64, word characters, periods and hyphens; starts alphanumeric.
  vnet: /^[a-zA-Z0-9][\w.-]{0,62}\w$/,
};

const VALID_NAMES = ['ab', 'AB', 'a1', 'abcdefghijkl', 'ProdEuWest12', 'a-b-c-d-e-f1', 'Z9-x'];
const INVALID_NAMES = ['1ab', '-ab', 'ab-', 'a_b', 'dev env', 'prød'];

describe('Given the compiled template and extreme environment names', () => {
  it('When the environment name is bounded, then the parameter says 2 to 12 characters and the pattern', () => {
    const env = main.parameters?.environmentName as {
      minLength?: number;
      maxLength?: number;
      metadata?: Json;
    };
    expect(env.minLength).toBe(2);
    expect(env.maxLength).toBe(12);
    expect(String(env.metadata?.description)).toMatch(/letters, digits and hyphens, starting with a letter/);
  });

  it.each(VALID_NAMES)(
    'When environmentName is %p, then every name meets its service naming rule',
    (environmentName) => {
      const names = evaluator({ environmentName }).variable('names') as Record<string, string>;
      for (const [key, rule] of Object.entries(NAME_RULES)) {
        expect({ key, name: names[key] }).toEqual({ key, name: expect.stringMatching(rule) });
      }
      expect(names.hostStorage).not.toBe(names.exportStorage);
      // Alert rule and private endpoint names built on those names stay within their limits.
      for (const suffix of ['export-failed', 'export-long-running', 'function-errors', 'cosmos-throttled']) {
        expect(`${names.alertPrefix}-${suffix}`).toMatch(/^[a-z0-9-]{1,260}$/);
      }
      for (const account of [names.hostStorage, names.exportStorage, names.cosmos]) {
        for (const group of ['blob', 'queue', 'table', 'sql'])
          expect(`pe-${account}-${group}`.length).toBeLessThanOrEqual(64);
      }
    },
  );

  it.each(INVALID_NAMES)(
    'When environmentName is %p, then the deployment fails with the rule',
    (environmentName) => {
      expect(() => evaluator({ environmentName }).variable('names')).toThrow(ArmFailure);
      expect(() => evaluator({ environmentName }).variable('names')).toThrow(
        /2-12 letters, digits and hyphens/,
      );
    },
  );

  it('When the modules are read, then each takes its resource name from the names variable', () => {
    const nameParameters: Record<string, string[]> = {
      monitoring: ['logAnalyticsName', 'applicationInsightsName'],
      hostStorage: ['storageAccountName'],
      exportStorage: ['storageAccountName'],
      cosmos: ['accountName'],
      function: ['planName', 'functionAppName'],
      network: ['vnetName'],
    };
    for (const [module, parameters] of Object.entries(nameParameters)) {
      const passed = moduleOf(module).resource.properties?.parameters as Record<string, { value: string }>;
      for (const parameter of parameters)
        expect(passed[parameter].value).toMatch(/^\[variables\('names'\)\./);
    }
  });
});

describe('Given the source parameters', () => {
  it('When useCosmosSource is false without fhirSourceUrl, then the deployment fails with a message', () => {
    const run = () => appSetting('FHIR_SOURCE_URL', { environmentName: 'dev', useCosmosSource: false });
    expect(run).toThrow(ArmFailure);
    expect(run).toThrow(/fhirSourceUrl is required when useCosmosSource is false/);
  });

  it('When useCosmosSource is false with a URL, or true without one, then the settings follow', () => {
    const fhir = {
      environmentName: 'dev',
      useCosmosSource: false,
      fhirSourceUrl: 'https://fhir.example.org/r4',
    };
    expect(appSetting('FHIR_SOURCE_URL', fhir)).toBe('https://fhir.example.org/r4');
    expect(appSetting('SOURCE_KIND', fhir)).toBe('fhir');
    expect(appSetting('SOURCE_KIND', { environmentName: 'dev' })).toBe('cosmos');
    expect(appSetting('FHIR_SOURCE_URL', { environmentName: 'dev' })).toBe('');
  });
});

describe('Given the API authentication parameters', () => {
  it('When evaluated, then issuer, keys and audience are those of Entra ID v2 tokens for the API app', () => {
    const parameters = { environmentName: 'dev', authTenantId: TENANT_ID };
    expect(appSetting('AUTH_ISSUER', parameters)).toBe(`https://login.microsoftonline.com/${TENANT_ID}/v2.0`);
    expect(appSetting('AUTH_JWKS_URI', parameters)).toBe(
      `https://login.microsoftonline.com/${TENANT_ID}/discovery/v2.0/keys`,
    );
    // A v2 access token's aud is the API's client id, never its api:// URI.
    expect(appSetting('AUTH_AUDIENCE', parameters)).toBe(API_CLIENT_ID);
    expect(main.parameters).not.toHaveProperty('authAudience');
    expect(main.parameters?.apiClientId).toMatchObject({ minLength: 36, maxLength: 36 });
  });

  it('When the outputs are read, then they give the runbook its token endpoint, scope and base URL', () => {
    const outputs = main.outputs as Record<string, { value: string }>;
    for (const name of [
      'AUTH_TOKEN_ENDPOINT',
      'AUTH_TOKEN_SCOPE',
      'AUTH_ISSUER',
      'FHIR_BASE_URL',
      'AZURE_TENANT_ID',
    ])
      expect(outputs).toHaveProperty(name);
    const evaluate = (name: string) =>
      evaluator({ environmentName: 'dev', authTenantId: TENANT_ID }).value(outputs[name].value);
    expect(evaluate('AUTH_TOKEN_ENDPOINT')).toBe(
      `https://login.microsoftonline.com/${TENANT_ID}/oauth2/v2.0/token`,
    );
    expect(evaluate('AUTH_TOKEN_SCOPE')).toBe(`${API_CLIENT_ID}/.default`);
  });
});

describe('Given the function module', () => {
  const functionTemplate = () => moduleOf('function').resource.properties?.template as ArmTemplate;
  const settingsOf = (publicBaseUrl: string) => {
    const config = ofType(functionTemplate(), 'Microsoft.Web/sites/config')[0];
    const evaluator = new ArmEvaluator(
      functionTemplate(),
      {
        publicBaseUrl,
        functionAppName: 'func-dev-abc',
        hostStorageAccountName: 'sthost',
        identityClientId: 'client',
        applicationInsightsName: 'appi',
        appSettings: {},
      },
      {
        'Microsoft.Web/sites': { defaultHostName: 'func-dev-abc.azurewebsites.net' },
        'Microsoft.Insights/components': { ConnectionString: 'InstrumentationKey=x' },
      },
    );
    return evaluator.value(config.resource.properties) as Record<string, string>;
  };

  it('When no publicBaseUrl is given, then PUBLIC_BASE_URL is the default host name plus /api', () => {
    expect(settingsOf('').PUBLIC_BASE_URL).toBe('https://func-dev-abc.azurewebsites.net/api');
  });

  it('When publicBaseUrl is given, then PUBLIC_BASE_URL is that URL', () => {
    expect(settingsOf('https://fhir.example.org/export').PUBLIC_BASE_URL).toBe(
      'https://fhir.example.org/export',
    );
  });
});

describe('Given the two deployment shapes compiled from their .bicepparam files', () => {
  it('When the default shape is read, then it has no private networking and every account is public', () => {
    expect(shapes.main.enablePrivateNetworking ?? false).toBe(false);
    expect(
      moduleParameter('hostStorage', 'publicNetworkAccess', { environmentName: 'dev', ...shapes.main }),
    ).toBe(true);
    expect(moduleParameter('function', 'subnetId', { environmentName: 'dev', ...shapes.main })).toBe('');
  });

  describe('When the private networking shape is read', () => {
    const privateParameters = () => ({ ...shapes.private });

    it('then the network module is deployed and the app joins its delegated subnet', () => {
      expect(privateParameters().enablePrivateNetworking).toBe(true);
      expect(moduleOf('network').resource.condition).toBe("[parameters('enablePrivateNetworking')]");
      expect(evaluator(privateParameters()).value(moduleOf('network').resource.condition)).toBe(true);
      const network = moduleOf('network').resource.properties?.template as ArmTemplate;
      const vnet = ofType(network, 'Microsoft.Network/virtualNetworks')[0];
      const subnets = (vnet.resource.properties as { subnets: { name: string; properties: Json }[] }).subnets;
      const app = subnets.find((s) => s.name === 'app');
      expect(JSON.stringify(app?.properties.delegations)).toMatch(/Microsoft\.App\/environments/);
      const site = ofType(main, 'Microsoft.Web/sites').find((l) => l.modulePath[0] === 'function') as Located;
      expect(String(site.resource.properties?.virtualNetworkSubnetId)).toMatch(/parameters\('subnetId'\)/);
      expect(String((moduleOf('function').resource.properties?.parameters as Json).subnetId)).toMatch(
        /reference\('network'\)\.outputs\.appSubnetId/,
      );
    });

    it('then storage and Cosmos DB refuse public traffic', () => {
      for (const module of ['hostStorage', 'exportStorage', 'cosmos'])
        expect(moduleParameter(module, 'publicNetworkAccess', privateParameters())).toBe(false);
      const storage = ofType(main, 'Microsoft.Storage/storageAccounts').find(
        (l) => l.modulePath[0] === 'hostStorage',
      ) as Located;
      expect(storage.resource.properties?.publicNetworkAccess).toMatch(/'Enabled', 'Disabled'/);
      const cosmos = ofType(main, 'Microsoft.DocumentDB/databaseAccounts').find(
        (l) => l.modulePath[0] === 'cosmos',
      ) as Located;
      expect(cosmos.resource.properties?.publicNetworkAccess).toMatch(/'Enabled', 'Disabled'/);
    });

    it('then private endpoints cover host blob, queue, table, export blob and Cosmos SQL, each in a linked DNS zone', () => {
      const network = moduleOf('network').resource.properties?.template as ArmTemplate;
      const endpoints = new ArmEvaluator(network, {
        hostStorageAccountName: 'sthost',
        exportStorageAccountName: 'stexport',
        cosmosAccountName: 'cosmos',
      }).variable('endpoints') as { account: string; group: string }[];
      expect(endpoints.map((e) => `${e.account}/${e.group}`).sort()).toEqual(
        ['cosmos/Sql', 'stexport/blob', 'sthost/blob', 'sthost/queue', 'sthost/table'].sort(),
      );
      expect(ofType(network, 'Microsoft.Network/privateEndpoints')).toHaveLength(1);
      expect(ofType(network, 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups')).toHaveLength(1);
      expect(ofType(network, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks')).toHaveLength(1);
      const zones = Object.values(
        new ArmEvaluator(network, {}).variable('zones') as Record<string, string>,
      ).sort();
      expect(zones).toEqual(
        [
          'privatelink.blob.core.windows.net',
          'privatelink.documents.azure.com',
          'privatelink.queue.core.windows.net',
          'privatelink.table.core.windows.net',
        ].sort(),
      );
    });
  });
});

describe('Given the diagnostics module', () => {
  const diagnostics = () => moduleOf('diagnostics').resource.properties?.template as ArmTemplate;

  it('When its diagnostic settings are read, then both blob services, Cosmos DB and the app send to the workspace', () => {
    const settings = ofType(diagnostics(), 'Microsoft.Insights/diagnosticSettings');
    const scopes = settings.map((l) => String(l.resource.scope)).join('\n');
    expect(scopes).toMatch(/blobServices/);
    expect(scopes).toMatch(/Microsoft\.DocumentDB\/databaseAccounts/);
    expect(scopes).toMatch(/Microsoft\.Web\/sites/);
    for (const setting of settings)
      expect(String(setting.resource.properties?.workspaceId)).toMatch(
        /Microsoft\.OperationalInsights\/workspaces/,
      );
    const blob = settings.find((l) => String(l.resource.scope).includes('blobServices')) as Located;
    expect(String(blob.resource.copy ? 'loop' : '')).toBe('loop');
    const passed = moduleOf('diagnostics').resource.properties?.parameters as Record<
      string,
      { value: unknown }
    >;
    expect(JSON.stringify(passed.storageAccountNames.value)).toMatch(/hostStorage.*exportStorage/);
  });

  it('When the alert rules are read, then they query the events the app emits and notify the action group', () => {
    const evaluated = new ArmEvaluator(diagnostics(), {
      longRunningExportMinutes: 240,
      functionErrorsThreshold: 5,
      actionGroupId: '/subscriptions/1/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/ops',
    });
    const alerts = evaluated.variable('logAlerts') as { key: string; query: string; threshold: number }[];
    const byKey = Object.fromEntries(alerts.map((a) => [a.key, a]));
    expect(byKey['export-failed'].query).toContain(`name == "${TelemetryEvents.failed}"`);
    const longRunning = byKey['export-long-running'].query;
    expect(longRunning).toContain(`name == "${TelemetryEvents.started}"`);
    for (const ended of [TelemetryEvents.completed, TelemetryEvents.failed, TelemetryEvents.cancelled])
      expect(longRunning).toContain(`"${ended}"`);
    expect(longRunning).toContain('ago(240m)');
    expect(byKey['function-errors'].query).toMatch(/^requests \| where success == false/);
    expect(byKey['function-errors'].threshold).toBe(5);
    expect(evaluated.variable('actionGroups')).toEqual([
      '/subscriptions/1/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/ops',
    ]);
    const rules = ofType(diagnostics(), 'Microsoft.Insights/scheduledQueryRules');
    expect(JSON.stringify(rules[0].resource.properties)).toMatch(/actionGroups/);

    const throttling = ofType(diagnostics(), 'Microsoft.Insights/metricAlerts')[0];
    const criteria = JSON.stringify(throttling.resource.properties?.criteria);
    expect(criteria).toMatch(/"metricName":"TotalRequests"/);
    expect(criteria).toMatch(/"name":"StatusCode".*"429"/);
    expect(main.parameters).toHaveProperty('alertActionGroupId');
    expect(main.parameters).toHaveProperty('longRunningExportMinutes');
  });
});
