/**
 * `checkTypesWithSource`: the kick-off's `_type` and `_typeFilter` types against the types a source
 * supports. Pure logic over a scripted source that answers from a list of results in turn.
 */
import type { ExportDeps } from '../../../src/export/exportDeps';
import {
  BadRequestError,
  ServiceUnavailableError,
  SourceCapabilitiesError,
  SourceError,
} from '../../../src/export/errors';
import { parseKickoff, type ParsedKickoff } from '../../../src/export/kickoffRequest';
import { checkTypesWithSource } from '../../../src/export/sourceTypes';

const SUPPORTED = ['Observation', 'Patient'];

/** A source whose `supportedTypes` answers each result in turn (the last one from then on). */
function depsAnswering(...answers: Array<string[] | Error>) {
  const calls = { supportedTypes: 0 };
  const deps = {
    source: {
      supportedTypes: async () => {
        const answer = answers[Math.min(calls.supportedTypes, answers.length - 1)];
        calls.supportedTypes += 1;
        if (answer instanceof Error) throw answer;
        return answer;
      },
    },
    now: () => new Date(),
  } as unknown as ExportDeps;
  return { deps, calls };
}

function kickoff(query: string, lenient = false): ParsedKickoff {
  const headers = new Headers({ prefer: `respond-async${lenient ? ', handling=lenient' : ''}` });
  return parseKickoff(
    { method: 'GET', level: 'system', url: `http://127.0.0.1/api/$export?${query}`, headers },
    { compartmentTypes: new Set(SUPPORTED), containers: { defaultContainer: 'fhir-export', allowed: [] } },
  );
}

async function rejection(deps: ExportDeps, parsed: ParsedKickoff): Promise<Error> {
  const error = await checkTypesWithSource(deps, parsed).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected the check to throw');
  return error;
}

const filter = (value: string) => `_typeFilter=${encodeURIComponent(value)}`;

describe('checkTypesWithSource', () => {
  it('given types the source supports, when checked, then the request is left as it is', async () => {
    const { deps } = depsAnswering(SUPPORTED);
    const parsed = kickoff(`_type=Patient,Observation&${filter('Observation?code=1')}`);
    const before = structuredClone(parsed);
    await checkTypesWithSource(deps, parsed);
    expect(parsed).toEqual(before);
  });

  it('given no _type and no _typeFilter, when checked, then the source is not asked', async () => {
    const { deps, calls } = depsAnswering(SUPPORTED);
    await checkTypesWithSource(deps, kickoff(''));
    expect(calls.supportedTypes).toBe(0);
  });

  it('given a source that cannot list its types (no supportedTypes), when checked, then every type passes', async () => {
    const deps = { source: {}, now: () => new Date() } as unknown as ExportDeps;
    const parsed = kickoff('_type=Device');
    await checkTypesWithSource(deps, parsed);
    expect(parsed.request.types).toEqual(['Device']);
  });

  it('given _type naming types the source lacks, when checked strictly, then a 400 names them and the parameter', async () => {
    const { deps } = depsAnswering(SUPPORTED);
    const error = await rejection(deps, kickoff('_type=Patient,Device,Condition'));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.message).toBe('The data source does not support Condition, Device (named in _type).');
  });

  it('given a _typeFilter for a type the source lacks, when checked strictly, then a 400 names the type and _typeFilter', async () => {
    const { deps } = depsAnswering(SUPPORTED);
    const error = await rejection(deps, kickoff(filter('Device?status=active')));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.message).toBe('The data source does not support Device (named in _typeFilter).');
  });

  it('given _type and _typeFilter naming a type the source lacks, when checked leniently, then it is dropped from both with one warning', async () => {
    const { deps } = depsAnswering(SUPPORTED);
    const parsed = kickoff(
      `_type=Patient,Device&${filter('Device?status=active')}&${filter('Patient?gender=male')}`,
      true,
    );
    await checkTypesWithSource(deps, parsed);
    expect(parsed.request.types).toEqual(['Patient']);
    expect(parsed.request.typeFilters).toEqual({ Patient: ['gender=male'] });
    expect(parsed.warnings).toEqual(['Ignored Device: the data source does not support it.']);
  });

  it('given _type naming only types the source lacks, when checked leniently, then nothing is left to export: 400', async () => {
    const { deps } = depsAnswering(SUPPORTED);
    const error = await rejection(deps, kickoff('_type=Device', true));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.message).toMatch(/_type names no resource type that the data source supports/);
  });

  it('given a source down for one request, when checked, then it is asked again and the check passes', async () => {
    const { deps, calls } = depsAnswering(new SourceError('source failed (503): down', 503, true), SUPPORTED);
    await checkTypesWithSource(deps, kickoff('_type=Patient'));
    expect(calls.supportedTypes).toBe(2);
  });

  it('given a source that stays down, when checked, then after three tries a 503 with Retry-After names the source', async () => {
    const { deps, calls } = depsAnswering(new SourceError('source failed (503): down', 503, true));
    const error = await rejection(deps, kickoff('_type=Patient'));
    expect(calls.supportedTypes).toBe(3);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect((error as ServiceUnavailableError).statusCode).toBe(503);
    expect((error as ServiceUnavailableError).retryAfterSeconds).toBeGreaterThan(0);
    expect(error.message).toMatch(/data source is unavailable.*source failed \(503\): down/);
  });

  it('given a source that asks for a long wait (Retry-After: 30), when checked, then the client gets that wait at once', async () => {
    const { deps, calls } = depsAnswering(
      new SourceError('source is throttling requests (429): slow', 503, true, 30),
    );
    const error = await rejection(deps, kickoff('_type=Patient'));
    expect(calls.supportedTypes).toBe(1);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect((error as ServiceUnavailableError).retryAfterSeconds).toBe(30);
  });

  it('given a CapabilityStatement that cannot be read, when checked, then a 502 names the source and its reason', async () => {
    const { deps, calls } = depsAnswering(
      new SourceCapabilitiesError('its CapabilityStatement (GET [base]/metadata) could not be read: 404'),
    );
    const error = await rejection(deps, kickoff('_type=Patient'));
    expect(calls.supportedTypes).toBe(1);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).statusCode).toBe(502);
    expect(error.message).toMatch(
      /data source cannot tell which resource types it supports.*metadata\) could not be read: 404/,
    );
  });
});
