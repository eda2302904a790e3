/** The kick-off parameters of a de-identified export, parsed with the rest of the kick-off. */
import { BadRequestError } from '../../../src/export/errors';
import { parseKickoff, type KickoffInput } from '../../../src/export/kickoffRequest';

const BASE = 'http://127.0.0.1:7071/api';
const options = {
  compartmentTypes: new Set(['Patient', 'Observation']),
  containers: { defaultContainer: 'fhir-export', allowed: [] },
};

function input(level: KickoffInput['level'], query: string, extra: Partial<KickoffInput> = {}): KickoffInput {
  const path = level === 'system' ? '$export' : level === 'patient' ? 'Patient/$export' : 'Group/g1/$export';
  return {
    method: 'GET',
    level,
    groupId: level === 'group' ? 'g1' : undefined,
    url: `${BASE}/${path}${query}`,
    headers: new Headers({ accept: 'application/fhir+json', prefer: 'respond-async' }),
    ...extra,
  };
}

function rejection(query: string, prefer = 'respond-async'): string {
  try {
    parseKickoff({ ...input('system', query), headers: new Headers({ prefer }) }, options);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    return (error as Error).message;
  }
  throw new Error('expected a BadRequestError');
}

describe('_anonymizationConfig at kick-off', () => {
  it.each(['system', 'patient', 'group'] as const)(
    'given a %s kick-off naming a configuration and an unquoted etag, when parsed, then the request carries both, the etag quoted',
    (level) => {
      const { request } = parseKickoff(
        input(level, '?_anonymizationConfig=configs/safe.json&_anonymizationConfigEtag=0x8DC1'),
        options,
      );
      expect(request.anonymization).toEqual({ config: 'configs/safe.json', etag: '"0x8DC1"' });
    },
  );

  it('given a quoted etag, when parsed, then it is kept as it is', () => {
    const { request } = parseKickoff(
      input('system', '?_anonymizationConfig=a.json&_anonymizationConfigEtag=%220x8DC1%22'),
      options,
    );
    expect(request.anonymization?.etag).toBe('"0x8DC1"');
  });

  it('given a POST Parameters body, when parsed, then the configuration comes from it', () => {
    const body = JSON.stringify({
      resourceType: 'Parameters',
      parameter: [
        { name: '_anonymizationConfig', valueString: 'safe-harbor.json' },
        { name: '_anonymizationConfigEtag', valueString: '"abc"' },
      ],
    });
    const { request } = parseKickoff(
      {
        ...input('patient', ''),
        method: 'POST',
        body,
        headers: new Headers({ prefer: 'respond-async', 'content-type': 'application/fhir+json' }),
      },
      options,
    );
    expect(request.anonymization).toEqual({ config: 'safe-harbor.json', etag: '"abc"' });
  });

  it('given no configuration, when parsed, then the request has none', () => {
    expect(parseKickoff(input('system', ''), options).request.anonymization).toBeUndefined();
  });

  it.each([
    ['?_anonymizationConfigCollectionReference=myacr.azurecr.io/deid:v1', /not supported/],
    ['?_anonymizationConfigEtag=abc', /needs _anonymizationConfig/],
    ['?_anonymizationConfig=a.json&_anonymizationConfig=b.json', /only once/],
    ['?_anonymizationConfig=', /empty value/],
    ['?_anonymizationConfig=../secrets.json', /not a valid blob name/],
    ['?_anonymizationConfig=a%0Ab.json', /not a valid blob name/],
    ['?_anonymizationConfig=a.json&_anonymizationConfigEtag=%22a%22b%22', /not an entity tag/],
  ])('given %s, when parsed strictly, then it is a 400 naming what is wrong', (query, message) => {
    expect(rejection(query)).toMatch(message);
  });

  it('given a collection reference under lenient handling, when parsed, then it is dropped with a warning and the blob configuration stays', () => {
    const { request, warnings } = parseKickoff(
      {
        ...input('system', '?_anonymizationConfig=a.json&_anonymizationConfigCollectionReference=acr/x:1'),
        headers: new Headers({ prefer: 'respond-async, handling=lenient' }),
      },
      options,
    );
    expect(request.anonymization).toEqual({ config: 'a.json' });
    expect(warnings).toEqual([expect.stringMatching(/_anonymizationConfigCollectionReference/)]);
  });
});
