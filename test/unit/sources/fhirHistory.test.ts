/** Reading deletions from a FHIR type-history Bundle, and the history types of a CapabilityStatement. */
import { SourceError } from '../../../src/export/errors';
import { historyDeletions, historyTypes } from '../../../src/sources/fhirHistory';

const WINDOW = { since: '2024-01-01T00:00:00Z', until: '2024-12-31T23:59:59.999Z' };

const history = (...entry: unknown[]) => ({ resourceType: 'Bundle', type: 'history', entry });
const deleteEntry = (url: string, at?: string) => ({
  request: { method: 'DELETE', url },
  response: { status: '410 Gone', ...(at ? { lastModified: at } : {}) },
});
const putEntry = (id: string, at: string) => ({
  resource: { resourceType: 'Patient', id, meta: { lastUpdated: at } },
  request: { method: 'PUT', url: `Patient/${id}` },
  response: { status: '200 OK', lastModified: at },
});

describe('historyDeletions', () => {
  it('given DELETE entries in the window, lists each id with its deletion time', () => {
    const page = historyDeletions(
      history(
        deleteEntry('Patient/a/_history/3', '2024-05-02T00:00:00Z'),
        deleteEntry('Patient/b', '2024-05-01T00:00:00.5Z'),
      ),
      'Patient',
      WINDOW,
    );
    expect(page.deleted).toEqual([
      { id: 'a', deletedAt: '2024-05-02T00:00:00.000Z' },
      { id: 'b', deletedAt: '2024-05-01T00:00:00.500Z' },
    ]);
  });

  it('given an entry without request, reads a 410 response without resource as a deletion (id from fullUrl)', () => {
    const page = historyDeletions(
      history({
        fullUrl: 'https://fhir.example/r4/Patient/c',
        response: { status: '410', lastModified: '2024-06-01T00:00:00Z' },
      }),
      'Patient',
      WINDOW,
    );
    expect(page.deleted.map((d) => d.id)).toEqual(['c']);
  });

  it('given a deletion followed by a re-creation, leaves the resource out (latest change wins)', () => {
    const page = historyDeletions(
      history(putEntry('a', '2024-06-01T00:00:00Z'), deleteEntry('Patient/a', '2024-05-01T00:00:00Z')),
      'Patient',
      WINDOW,
    );
    expect(page.deleted).toEqual([]);
  });

  it('given a re-creation after until, still lists the deletion inside the window', () => {
    const page = historyDeletions(
      history(putEntry('a', '2025-02-01T00:00:00Z'), deleteEntry('Patient/a', '2024-05-01T00:00:00Z')),
      'Patient',
      WINDOW,
    );
    expect(page.deleted.map((d) => d.id)).toEqual(['a']);
  });

  it('leaves out deletions before since or after until, other types, and updates', () => {
    const page = historyDeletions(
      history(
        deleteEntry('Patient/early', '2023-12-31T23:59:59Z'),
        deleteEntry('Patient/late', '2025-01-01T00:00:00Z'),
        deleteEntry('Observation/o1', '2024-05-01T00:00:00Z'),
        putEntry('kept', '2024-05-01T00:00:00Z'),
      ),
      'Patient',
      WINDOW,
    );
    expect(page.deleted).toEqual([]);
  });

  it('given a deletion without a time, keeps it (the server filtered by _since) once per id', () => {
    const page = historyDeletions(
      history(deleteEntry('Patient/x'), deleteEntry('Patient/x')),
      'Patient',
      WINDOW,
    );
    expect(page.deleted).toEqual([{ id: 'x' }]);
  });

  it('returns the next link as given', () => {
    const bundle = {
      ...history(),
      link: [
        { relation: 'self', url: 's' },
        { relation: 'next', url: 'https://h/Patient/_history?page=2' },
      ],
    };
    expect(historyDeletions(bundle, 'Patient', WINDOW).next).toBe('https://h/Patient/_history?page=2');
  });

  it('given something other than a Bundle, throws a non-transient SourceError 502', () => {
    expect(() => historyDeletions({ resourceType: 'OperationOutcome' }, 'Patient', WINDOW)).toThrow(
      SourceError,
    );
    expect(() => historyDeletions({ resourceType: 'Bundle', entry: {} }, 'Patient', WINDOW)).toThrow(
      /entry is not an array/,
    );
  });
});

describe('historyTypes', () => {
  it('lists the types of the server REST entry that offer history-type', () => {
    const statement = {
      resourceType: 'CapabilityStatement',
      rest: [
        { mode: 'client', resource: [{ type: 'Device', interaction: [{ code: 'history-type' }] }] },
        {
          mode: 'server',
          resource: [
            { type: 'Patient', interaction: [{ code: 'search-type' }, { code: 'history-type' }] },
            { type: 'Observation', interaction: [{ code: 'search-type' }, { code: 'history-instance' }] },
          ],
        },
      ],
    };
    expect([...historyTypes(statement)]).toEqual(['Patient']);
  });

  it('gives no type for something other than a CapabilityStatement', () => {
    expect(historyTypes({ resourceType: 'Bundle' }).size).toBe(0);
  });
});
