/**
 * The storage settings that guard the account: which containers `_container` may name
 * (EXPORT_ALLOWED_CONTAINERS), and that SAS links are never signed with an account key outside an
 * emulator on loopback.
 */
import { loadConfig } from '../../src/config';
import type { Env } from '../../src/settings/setting';

const BASE: Env = {
  COSMOS_ENDPOINT: 'https://cosmos.example.org:443/',
  EXPORT_STORAGE_ACCOUNT_URL: 'https://exports.blob.core.windows.net',
  AUTH_MODE: 'none',
};
const AZURE_KEY =
  'DefaultEndpointsProtocol=https;AccountName=exports;AccountKey=a2V5;EndpointSuffix=core.windows.net';
const AZURITE_KEY =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;';

describe('EXPORT_ALLOWED_CONTAINERS', () => {
  it('given names and prefixes ending in *, then they are read', () => {
    const config = loadConfig({ ...BASE, EXPORT_ALLOWED_CONTAINERS: 'reports, export-*' });
    expect(config.storage.allowedContainers).toEqual(['reports', 'export-*']);
    expect(loadConfig(BASE).storage.allowedContainers).toEqual([]);
  });
  it.each(['*', 'Bad_Name', 'export-*-x', 'ab'])(
    'given %s, then start-up fails naming the setting',
    (entry) => {
      expect(() => loadConfig({ ...BASE, EXPORT_ALLOWED_CONTAINERS: entry })).toThrow(
        /EXPORT_ALLOWED_CONTAINERS/,
      );
    },
  );
});

describe('EXPORT_FILE_ACCESS=sas', () => {
  it('given an account URL (Entra ID, user delegation SAS), then it starts', () => {
    expect(loadConfig({ ...BASE, EXPORT_FILE_ACCESS: 'sas' }).export.fileAccess).toBe('sas');
  });
  it('given a key-based connection string of an emulator on loopback, then it starts', () => {
    for (const connectionString of [AZURITE_KEY, 'UseDevelopmentStorage=true']) {
      const env = { ...BASE, EXPORT_FILE_ACCESS: 'sas', EXPORT_STORAGE_CONNECTION_STRING: connectionString };
      expect(loadConfig(env).export.fileAccess).toBe('sas');
    }
  });
  it('given a key-based connection string of a real account, then start-up fails: links are never signed with an account key', () => {
    const env = { ...BASE, EXPORT_FILE_ACCESS: 'sas', EXPORT_STORAGE_CONNECTION_STRING: AZURE_KEY };
    expect(() => loadConfig(env)).toThrow(/EXPORT_FILE_ACCESS/);
    // Downloads through the API need no SAS, so the key may serve them.
    expect(() => loadConfig({ ...env, EXPORT_FILE_ACCESS: 'download' })).not.toThrow();
  });
});
