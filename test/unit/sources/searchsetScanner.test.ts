import {
  isRawResource,
  laidOutNdjson,
  parseSearchsetBytes,
  resourceLine,
} from '../../../src/sources/searchsetScanner';
import { lineText } from '../../../src/sources/searchSource';
import { ndjsonBuffer } from '../../../src/export/ndjson';

const parse = (text: string) => parseSearchsetBytes(Buffer.from(text, 'utf8')) as Record<string, unknown>;
const entries = (bundle: Record<string, unknown>) =>
  (bundle.entry as Array<{ resource: Record<string, unknown>; search?: unknown }>).map((e) => e.resource);

describe('searchsetScanner', () => {
  describe('Given a compact searchset Bundle', () => {
    const resource = {
      resourceType: 'Observation',
      id: 'o-1',
      valueQuantity: { value: 1.5, unit: 'mg' },
      note: [{ text: 'é "q" \\ \n' }],
    };
    const body = JSON.stringify({
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      link: [{ relation: 'next', url: 'http://x/Observation?_count=1&page=2' }],
      entry: [{ fullUrl: 'http://x/Observation/o-1', resource, search: { mode: 'match' } }],
    });

    it('When scanned, Then the Bundle is built as JSON.parse builds it, except the entries', () => {
      const bundle = parse(body);
      const reference = JSON.parse(body) as Record<string, unknown>;
      expect(bundle.link).toEqual(reference.link);
      expect(bundle.total).toBe(1);
      expect((bundle.entry as Array<{ search: unknown }>)[0].search).toEqual({ mode: 'match' });
      // Nothing reads an entry's other members: they are validated, not built.
      expect(Object.keys((bundle.entry as object[])[0])).toEqual(['resource', 'search']);
      const [raw] = entries(bundle);
      expect(isRawResource(raw)).toBe(true);
      expect(raw.resourceType).toBe('Observation');
      expect(raw.id).toBe('o-1');
    });

    it('When the line is taken, Then it is the source bytes, a view into the body equal to JSON.stringify of the resource', () => {
      const bytes = Buffer.from(body, 'utf8');
      const bundle = parseSearchsetBytes(bytes) as Record<string, unknown>;
      const line = resourceLine(entries(bundle)[0]);
      expect(Buffer.isBuffer(line)).toBe(true);
      expect((line as Buffer).buffer).toBe(bytes.buffer);
      expect(lineText(line)).toBe(JSON.stringify(resource));
    });
  });

  it('Given a pretty-printed Bundle, When scanned, Then each line is compact JSON on one line', () => {
    const resource = { resourceType: 'Patient', id: 'p', name: [{ family: 'Doe' }] };
    const body = JSON.stringify({ resourceType: 'Bundle', entry: [{ resource }] }, null, 2);
    const [raw] = entries(parse(body));
    expect(lineText(resourceLine(raw))).toBe(JSON.stringify(resource));
  });

  it('Given escaped member names, When scanned, Then resourceType and id are still found', () => {
    const body =
      '{"resourceType":"Bundle","entry":[{"resource":{"resourceTyp\\u0065":"Patient","\\u0069d":"p-2"}}]}';
    const [raw] = entries(parse(body));
    expect(raw.resourceType).toBe('Patient');
    expect(raw.id).toBe('p-2');
    expect(JSON.parse(lineText(resourceLine(raw)))).toEqual({ resourceType: 'Patient', id: 'p-2' });
  });

  it('Given a "__proto__" member, When scanned, Then it is an own property, as with JSON.parse', () => {
    const bundle = parse('{"resourceType":"Bundle","__proto__":{"polluted":true},"entry":[]}');
    expect(Object.getPrototypeOf(bundle)).toBe(Object.prototype);
    expect(Object.keys(bundle)).toEqual(['resourceType', '__proto__', 'entry']);
  });

  it.each([
    '{"a":1,}',
    '{"a":01}',
    '{"a":"x\ny"}',
    '{"a":1} x',
    '{"entry":[{"resource":{"a":tru}}]}',
    '{"entry":[{"resource":{"a":"\\x"}}]}',
    '{"entry":[{"resource":{"a":1.}}]}',
    '{"entry":[{"resource":{"a":"\\u12g4"}}]}',
    '{"entry":[{"resource":{"a":1}]}',
    '{"entry":[{"fullUrl":"a\\x","resource":{}}]}',
    '{"entry":[{"fullUrl":tru}]}',
    '',
  ])('Given invalid JSON %j, When scanned, Then it throws SyntaxError like JSON.parse', (text) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    expect(() => parse(text)).toThrow(SyntaxError);
  });

  it('Given strings with quotes, escapes and control characters at every place within a word, at every alignment of the body, When scanned, Then it accepts and rejects exactly what JSON.parse does, and each line is the same resource on one line', () => {
    // The scanner skips plain string bytes four at a time from word boundaries of the body's memory;
    // a special byte must be seen wherever it falls in a word, whatever the body's offset.
    const pieces = [
      'a',
      'é',
      '\\"',
      '\\\\',
      '\\n',
      '\\u00e9',
      '"',
      '\\',
      '\u0001',
      '\n',
      '\u001f',
      '\t',
      ' ',
    ];
    let random = 7;
    const next = (n: number) => ((random = (random * 1103515245 + 12345) % 2147483648), random % n);
    let valid = 0;
    for (let round = 0; round < 400; round++) {
      const plain = 'x'.repeat(next(9));
      const special = Array.from({ length: 1 + next(3) }, () => pieces[next(pieces.length)]).join('');
      const text = `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p","text":"${plain}${special}${'y'.repeat(next(9))}"}}]}`;
      let expected: unknown;
      try {
        expected = (JSON.parse(text) as { entry: Array<{ resource: unknown }> }).entry[0].resource;
      } catch {
        expected = undefined;
      }
      const offset = round % 4;
      const bytes = Buffer.from(text, 'utf8');
      const body = Buffer.from(new ArrayBuffer(bytes.length + 8), offset, bytes.length);
      bytes.copy(body);
      if (expected === undefined) {
        expect(() => parseSearchsetBytes(body)).toThrow(SyntaxError);
      } else {
        valid++;
        const [raw] = entries(parseSearchsetBytes(body) as Record<string, unknown>);
        const line = lineText(resourceLine(raw));
        expect(line).not.toContain('\n');
        expect(JSON.parse(line)).toEqual(expected);
      }
    }
    expect(valid).toBeGreaterThan(50);
    expect(valid).toBeLessThan(350);
  });

  it.each([0, 1, 2, 3])(
    'Given bodies shorter than a word at offset %i of their memory, When scanned, Then they parse as JSON.parse parses them',
    (offset) => {
      for (const text of ['{}', '""', '"a"', '[1]', '1']) {
        const body = Buffer.from(new ArrayBuffer(16), offset, Buffer.byteLength(text));
        body.write(text);
        expect(parseSearchsetBytes(body)).toEqual(JSON.parse(text));
      }
    },
  );

  it('Given bytes that are not UTF-8, When scanned, Then it declines (the caller parses as before)', () => {
    const body = Buffer.concat([
      Buffer.from('{"resourceType":"Bundle","x":"'),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    expect(parseSearchsetBytes(body)).toBeUndefined();
  });
});

describe('NDJSON lines moved to the front of the body', () => {
  const patient = (id: string) => ({ resourceType: 'Patient', id, name: [{ family: `Doe-${id}` }] });
  const ndjsonOf = (resources: object[]) => resources.map((r) => `${JSON.stringify(r)}\n`).join('');
  const scan = (body: Buffer, keep: (entry: Record<string, unknown>) => boolean = () => true) => {
    const bundle = parseSearchsetBytes(body) as { entry: Array<Record<string, unknown>> };
    const kept = bundle.entry.filter(keep).map((e) => e.resource as object);
    return { lines: kept.map(resourceLine), block: laidOutNdjson(bundle, kept) };
  };

  it('Given a compact page, When scanned, Then its lines are one NDJSON block at the front of the body, equal to the resources', () => {
    const resources = [patient('a'), patient('b'), patient('c')];
    const body = Buffer.from(
      JSON.stringify({
        resourceType: 'Bundle',
        entry: resources.map((resource) => ({ fullUrl: 'x', resource })),
      }),
    );
    const { lines, block } = scan(body);
    expect(block?.buffer).toBe(body.buffer);
    expect(block?.byteOffset).toBe(body.byteOffset);
    expect(block?.toString('utf8')).toBe(ndjsonOf(resources));
    expect(lines.map(lineText)).toEqual(resources.map((r) => JSON.stringify(r)));
  });

  it('Given an included resource between two matches, When only the matches are kept, Then there is no block and encoding them gives just those two', () => {
    const body = Buffer.from(
      JSON.stringify({
        resourceType: 'Bundle',
        entry: [
          { resource: patient('a'), search: { mode: 'match' } },
          { resource: patient('inc'), search: { mode: 'include' } },
          { resource: patient('b'), search: { mode: 'match' } },
        ],
      }),
    );
    const { lines, block } = scan(body, (e) => (e.search as { mode: string }).mode === 'match');
    expect(block).toBeUndefined();
    expect(ndjsonBuffer(lines).toString('utf8')).toBe(ndjsonOf([patient('a'), patient('b')]));
  });

  it('Given the last match dropped, When the rest is kept, Then the block holds exactly the rest', () => {
    const body = Buffer.from(
      JSON.stringify({
        resourceType: 'Bundle',
        entry: [patient('a'), patient('b')].map((resource) => ({ resource })),
      }),
    );
    const { block } = scan(body, (e) => (e.resource as { id?: string }).id === 'a');
    expect(block?.toString('utf8')).toBe(ndjsonOf([patient('a')]));
  });

  it('Given a page where one resource is pretty-printed, When scanned, Then there is no block and every encoded line is compact, in order', () => {
    const pretty = JSON.stringify(patient('p'), null, 2);
    const text = `{"resourceType":"Bundle","entry":[{"resource":${JSON.stringify(patient('a'))}},{"resource":${pretty}},{"resource":${JSON.stringify(patient('b'))}}]}`;
    const { lines, block } = scan(Buffer.from(text));
    expect(block).toBeUndefined();
    expect(ndjsonBuffer(lines).toString('utf8')).toBe(ndjsonOf([patient('a'), patient('p'), patient('b')]));
  });

  it('Given resources from elsewhere, When asked for a block, Then there is none', () => {
    const body = Buffer.from(JSON.stringify({ resourceType: 'Bundle', entry: [{ resource: patient('a') }] }));
    const other = parseSearchsetBytes(Buffer.from(body)) as { entry: Array<{ resource: object }> };
    const bundle = parseSearchsetBytes(body) as object;
    expect(laidOutNdjson(bundle, [patient('a')])).toBeUndefined();
    expect(laidOutNdjson(bundle, [other.entry[0].resource])).toBeUndefined();
    expect(laidOutNdjson({}, [])).toBeUndefined();
  });

  it('Given many resources whose lines moved, When their ids and types are read, Then each is its own, as JSON.parse reads them', () => {
    const resources = [
      patient('a'),
      { resourceType: 'Observation', id: 'o-1', status: 'final' },
      patient('b'),
      { resourceType: 'Patient', id: 7 },
      { resourceType: 'Patient' },
      { resourceType: 'Patient', id: 'é-ü' },
    ];
    const text = JSON.stringify({
      resourceType: 'Bundle',
      entry: resources.map((resource) => ({ resource })),
    });
    const raws = entries(parse(text));
    const parsed = (JSON.parse(text) as { entry: Array<{ resource: Record<string, unknown> }> }).entry;
    expect(raws.map((r) => [r.resourceType, r.id])).toEqual(
      parsed.map(({ resource }) => [
        resource.resourceType,
        typeof resource.id === 'string' ? resource.id : undefined,
      ]),
    );
  });

  it('Given a first resource whose moved line puts another type name where its type was, When the next resource has that type, Then its type is read right', () => {
    // The first line moves 22 bytes to the front, so the bytes where "Patient" was read now hold
    // the "Account" of its own string: a type compared against the body instead of a copy goes wrong.
    const text =
      '{"entry":[{"resource":{"resourceType":"Patient","a":"xxxxxxxxAccount"}},' +
      '{"resource":{"resourceType":"Account","id":"a1"}}]}';
    expect(entries(parse(text)).map((r) => r.resourceType)).toEqual(['Patient', 'Account']);
  });

  it('Given duplicate id members and a pretty-printed resource, When scanned, Then the last id counts, as with JSON.parse', () => {
    const text =
      '{"entry":[{"resource":{"id":"first","resourceType":"Patient","id":"second"}},' +
      '{"resource":{ "id" : "p1", "resourceType" : "Patient", "id" : "p2" }}]}';
    expect(entries(parse(text)).map((r) => r.id)).toEqual(['second', 'p2']);
  });

  it('Given resources with and without meta, When their lastUpdated is read, Then it is meta.lastUpdated as JSON.parse reads it', () => {
    const text =
      '{"entry":[{"resource":{"resourceType":"Patient","meta":{"versionId":"1","lastUpdated":"2024-01-01T00:00:00.123Z"},"id":"a"}},' +
      '{"resource":{"resourceType":"Patient","id":"b"}},' +
      '{"resource":{"resourceType":"Patient","meta":{"lastUpdated":5}}},' +
      '{"resource":{"resourceType":"Patient","meta":{"lastUpdated":"x"},"meta":"y"}},' +
      '{"resource":{"meta":"y","resourceType":"Patient","meta":{"lastUpdated":"2024-02-02T00:00:00Z"}}},' +
      '{"resource":{ "resourceType" : "Patient", "meta" : { "lastUpdated" : "2024-03-03T00:00:00Z" } }}]}';
    expect(entries(parse(text)).map((r) => r.lastUpdated)).toEqual([
      '2024-01-01T00:00:00.123Z',
      undefined,
      undefined,
      undefined,
      '2024-02-02T00:00:00Z',
      '2024-03-03T00:00:00Z',
    ]);
  });
});

describe('ndjsonBuffer', () => {
  it('Given byte lines that touch but have no newline between them, When encoded, Then newlines are added (a copy)', () => {
    const memory = Buffer.from('{"a":1}{"b":2}X');
    const lines = [memory.subarray(0, 7), memory.subarray(7, 14)];
    expect(ndjsonBuffer(lines).toString('utf8')).toBe('{"a":1}\n{"b":2}\n');
    expect(memory.toString('utf8')).toBe('{"a":1}{"b":2}X');
  });

  it('Given lines with multi-byte characters, When encoded, Then each line ends with a newline', () => {
    const lines = ['{"a":"é"}', '{"b":"日本"}'];
    expect(ndjsonBuffer(lines).toString('utf8')).toBe(`${lines.join('\n')}\n`);
    expect(ndjsonBuffer([Buffer.from(lines[0]), lines[1]]).toString('utf8')).toBe(`${lines.join('\n')}\n`);
    expect(ndjsonBuffer([]).length).toBe(0);
  });
});
