/**
 * How the Blob destination signs SAS links, read back from the URLs it makes: user delegation SAS for
 * a real account reached with Entra ID (HTTPS only, read only, one blob, the expiry asked for), and an
 * account key never outside an emulator on loopback. The user delegation key itself comes from the
 * storage service, which is not reachable here: a fixed key stands in for its answer, so the test
 * checks what the app signs, not the service's acceptance (see the SAS tests in test/security/).
 */
import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient, StorageSharedKeyCredential, type UserDelegationKey } from '@azure/storage-blob';
import { BlobExportDestination } from '../../src/destination/blobExportDestination';

const ACCOUNT = 'https://exports.blob.core.windows.net';
const noToken: TokenCredential = { getToken: async () => null };

describe('SAS links of the Blob destination', () => {
  it('given Entra ID, when a link is made, then it is a user delegation SAS for reading one blob over HTTPS until the given end', async () => {
    const service = new BlobServiceClient(ACCOUNT, noToken);
    const asked: Array<[Date, Date]> = [];
    service.getUserDelegationKey = (async (startsOn: Date, expiresOn: Date) => {
      asked.push([startsOn, expiresOn]);
      return {
        signedObjectId: '00000000-0000-0000-0000-00000000000a',
        signedTenantId: '00000000-0000-0000-0000-00000000000b',
        signedStartsOn: startsOn,
        signedExpiresOn: expiresOn,
        signedService: 'b',
        signedVersion: '2025-01-05',
        value: Buffer.from('delegation-key').toString('base64'),
      } as UserDelegationKey;
    }) as typeof service.getUserDelegationKey;
    const expiresOn = new Date(Date.now() + 30 * 60_000);
    const url = new URL(
      await new BlobExportDestination(service, 'fhir-export').sasUrl('job-1/Patient-1.ndjson', expiresOn),
    );

    expect(asked).toHaveLength(1);
    expect(url.origin + url.pathname).toBe(`${ACCOUNT}/fhir-export/job-1/Patient-1.ndjson`);
    const sas = url.searchParams;
    expect(sas.get('skoid')).toBe('00000000-0000-0000-0000-00000000000a');
    expect(sas.get('sp')).toBe('r');
    expect(sas.get('sr')).toBe('b');
    expect(sas.get('spr')).toBe('https');
    expect(Date.parse(sas.get('se') as string)).toBe(Math.floor(expiresOn.getTime() / 1000) * 1000);
  });

  it('given an account key for a real account, when a link is asked for, then none is made', async () => {
    const service = new BlobServiceClient(ACCOUNT, new StorageSharedKeyCredential('exports', 'a2V5'));
    await expect(
      new BlobExportDestination(service, 'fhir-export').sasUrl(
        'job-1/Patient-1.ndjson',
        new Date(Date.now() + 60_000),
      ),
    ).rejects.toThrow(/user delegation key/);
  });
});
