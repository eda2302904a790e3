import { clientLedgerKey, holderFate, SERVICE_LEDGER_KEY } from '../../../src/jobs/jobSlots';

describe('job slot holders', () => {
  const reservedAt = '2024-01-01T00:00:00.000Z';
  const holder = { jobId: 'j', clientId: 'c', reservedAt };
  const at = (ms: number) => new Date(Date.parse(reservedAt) + ms);

  it.each([
    ['Queued', 'keep'],
    ['Running', 'keep'],
    ['Completed', 'drop'],
    ['Failed', 'drop'],
    ['Cancelled', 'drop'],
    ['voided', 'drop'],
  ] as const)('given a job that is %s, then the holder is %s', (state, fate) => {
    expect(holderFate(holder, state, at(10 * 60_000), 60_000)).toBe(fate);
  });

  it('given no job record, then the holder is kept within the grace and voided after it', () => {
    expect(holderFate(holder, undefined, at(60_000), 60_000)).toBe('keep');
    expect(holderFate(holder, undefined, at(60_001), 60_000)).toBe('void');
  });

  it('given any client id, then its ledger key is a valid Cosmos DB id apart from the service ledger', () => {
    const key = clientLedgerKey('https://issuer.example/clients/a?b#c');
    expect(key).toMatch(/^slots:client:[0-9a-f]{40}$/);
    expect(clientLedgerKey('a')).not.toBe(clientLedgerKey('b'));
    expect(key).not.toBe(SERVICE_LEDGER_KEY);
  });
});
