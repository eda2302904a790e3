/**
 * The searchset scanner against `JSON.parse`, on random Bundles from a seeded PRNG: random nesting,
 * key order (`link` before or after `entry`), whitespace, numbers with exponents, empty arrays and
 * objects, strings with every kind of escape, surrogate pairs (escaped or as four UTF-8 bytes), lone
 * surrogates (escaped) and raw multi-byte characters. Then the same bodies cut, or with one byte
 * deleted, replaced or inserted: the scanner must decline exactly the bodies that are not UTF-8,
 * reject exactly what `JSON.parse` rejects, and agree with it on the rest.
 *
 * The scanner reads one assembled body, so chunk boundaries do not reach it; what does is where the
 * body lies in its memory (it skips string bytes a 32-bit word at a time from the memory's word
 * boundaries) and what lies after it (pooled memory is longer than the body). So each body is
 * copied in random chunks, as the transport copies socket chunks, to a random offset of memory
 * whose rest is filled with bytes that would complete or extend the JSON.
 *
 *   FUZZ_SEED   the PRNG seed (default fixed, so that a failure replays)
 *   FUZZ_CASES  how many Bundles (default 300; each is also mutated once)
 */
import { isUtf8 } from 'node:buffer';
import { mulberry32 } from '../../../dev/demo/syntheticRandom';
import { ndjsonBuffer } from '../../../src/export/ndjson';
import { lineText } from '../../../src/sources/searchSource';
import {
  isRawResource,
  laidOutNdjson,
  parseSearchsetBytes,
  resourceLine,
  type RawResource,
} from '../../../src/sources/searchsetScanner';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5ca4_4e12);
const CASES = Number(process.env.FUZZ_CASES ?? 300);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !isRawResource(v);

/** Characters a string is drawn from: plain ASCII mostly, and every class of byte the scanner treats apart. */
const SPECIAL_CHARS = [
  '"',
  '\\',
  '/',
  '\b',
  '\f',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u001f',
  '\u007f',
  'é',
  'ß',
  '€',
  '日',
  '\u2028',
  '\ufeff',
  '\uffff',
  '😀',
  '𝄞',
  '\ud800',
  '\udfff',
  ' ',
];
const SHORT_ESCAPES: Record<string, string> = { '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't' };
const KEYS = [
  'a',
  'b',
  'code',
  'status',
  'value',
  'text',
  'name',
  'é',
  '日本',
  '😀',
  '',
  'id',
  'resourceType',
  '__proto__',
  '1',
];
const TYPES = ['Patient', 'Patient', 'Observation', 'Encounter', 'Bündel', 'Ob"s'];
/** Bytes for mutations and for the memory after the body: structure, escapes, starts of UTF-8 sequences. */
const NOISE_BYTES = [
  0x22, 0x5c, 0x2c, 0x7d, 0x5d, 0x7b, 0x5b, 0x3a, 0x00, 0x0a, 0x1f, 0x20, 0x78, 0x30, 0x2e, 0x65, 0x2d, 0x75,
  0xc3, 0x80, 0xff, 0xed, 0xa0, 0xf0,
];

/** A resource's text as generated, and whether whitespace lies between its tokens. */
interface GeneratedResource {
  text: string;
  compact: boolean;
}

class BundleWriter {
  readonly resources: GeneratedResource[] = [];
  /** Whitespace: nowhere, only outside entry resources, or anywhere. */
  private readonly spacing: 'none' | 'outer' | 'all';
  /** How often a character that need not be escaped is. */
  private readonly escapeRate: number;
  private inResource = false;
  private spacesInResource = 0;

  constructor(private readonly next: () => number) {
    this.spacing = this.pick(['none', 'none', 'outer', 'all'] as const);
    this.escapeRate = this.pick([0, 0.05, 0.3]);
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  bundle(): string {
    const members: Array<[string, string]> = [
      ['resourceType', this.string('Bundle')],
      ['type', this.string('searchset')],
      ['entry', this.chance(0.03) ? this.value(2) : this.array(this.int(0, 8), () => this.entry())],
    ];
    if (this.chance(0.7)) members.push(['total', this.number()]);
    if (this.chance(0.8)) members.push(['link', this.array(this.int(0, 3), () => this.link())]);
    if (this.chance(0.3)) members.push(['meta', this.value(2)]);
    if (this.chance(0.3)) members.push([this.pick(KEYS), this.value(3)]);
    return this.object(members, true);
  }

  private entry(): string {
    if (this.chance(0.03)) return this.value(2);
    const members: Array<[string, string]> = [];
    if (this.chance(0.9))
      members.push(['resource', this.chance(0.95) ? this.resource() : this.notAnObject()]);
    if (this.chance(0.7)) {
      const search: Array<[string, string]> = [
        ['mode', this.string(this.pick(['match', 'include', 'outcome']))],
      ];
      if (this.chance(0.2)) search.push(['score', this.number()]);
      members.push(['search', this.object(search)]);
    }
    if (this.chance(0.6)) members.push(['fullUrl', this.string(this.text())]);
    if (this.chance(0.2)) members.push([this.pick(['request', 'response', 'x']), this.value(3)]);
    return this.object(members, true);
  }

  /** A `resource` member the scanner builds like any value (a string or an array). */
  private notAnObject(): string {
    return this.chance(0.5) ? this.string(this.text()) : this.array(this.int(0, 2), () => this.number());
  }

  private link(): string {
    const relation = this.string(this.pick(['next', 'self', 'previous']));
    return this.object(
      [
        ['relation', relation],
        ['url', this.string(`http://x/P?${this.text()}`)],
      ],
      true,
    );
  }

  /** An entry's resource, recorded with its text and whether it is compact. */
  private resource(): string {
    const members: Array<[string, string]> = [];
    this.inResource = true;
    this.spacesInResource = 0;
    if (this.chance(0.9))
      members.push(['resourceType', this.chance(0.95) ? this.string(this.pick(TYPES)) : this.number()]);
    if (this.chance(0.85)) members.push(['id', this.chance(0.9) ? this.string(this.text()) : this.value(1)]);
    // A second id: the last one counts.
    if (this.chance(0.05)) members.push(['id', this.string(this.text())]);
    for (let n = this.int(0, 5); n > 0; n--) members.push([this.pick(KEYS), this.value(this.int(0, 3))]);
    const text = this.object(members);
    this.inResource = false;
    this.resources.push({ text, compact: this.spacesInResource === 0 });
    return text;
  }

  private value(depth: number): string {
    const kind = this.int(0, depth > 0 ? 6 : 3);
    if (kind === 0) return this.string(this.text());
    if (kind === 1) return this.number();
    if (kind === 2) return this.pick(['true', 'false', 'null']);
    if (kind === 3) return this.string(this.text());
    if (kind === 4) return this.array(this.int(0, 4), () => this.value(depth - 1));
    const members: Array<[string, string]> = [];
    for (let n = this.int(0, 4); n > 0; n--) members.push([this.pick(KEYS), this.value(depth - 1)]);
    return this.object(members);
  }

  /** Members in random order (`shuffle`) or as given; keys may repeat (the last value counts). */
  private object(members: Array<[string, string]>, shuffle = false): string {
    if (shuffle) {
      for (let i = members.length - 1; i > 0; i--) {
        const j = this.int(0, i);
        [members[i], members[j]] = [members[j], members[i]];
      }
    }
    return this.enclosed(
      '{',
      '}',
      members.map(([key, value]) => `${this.string(key)}${this.space()}:${this.space()}${value}`),
    );
  }

  private array(length: number, element: () => string): string {
    return this.enclosed('[', ']', Array.from({ length }, element));
  }

  /** `parts` comma-separated between `open` and `close`, with whitespace only where it is written. */
  private enclosed(open: string, close: string, parts: string[]): string {
    let text = open + this.space();
    parts.forEach((part, i) => {
      text += i === 0 ? part : `${this.space()},${this.space()}${part}`;
    });
    return text + this.space() + close;
  }

  private space(): string {
    const allowed = this.spacing === 'all' || (this.spacing === 'outer' && !this.inResource);
    if (!allowed || !this.chance(0.3)) return '';
    if (this.inResource) this.spacesInResource++;
    return Array.from({ length: this.int(1, 3) }, () => this.pick([' ', '\n', '\r', '\t'])).join('');
  }

  /** `-?int(.frac)?([eE][+-]?exp)?`, finite whatever it reads as. */
  private number(): string {
    let text = this.chance(0.3) ? '-' : '';
    text += this.chance(0.2) ? '0' : String(this.int(1, 9)) + this.digits(0, 8);
    if (this.chance(0.4)) text += `.${this.digits(1, 6)}`;
    if (this.chance(0.3)) text += `${this.pick(['e', 'E'])}${this.pick(['', '+', '-'])}${this.digits(1, 2)}`;
    return text;
  }

  private digits(min: number, max: number): string {
    return Array.from({ length: this.int(min, max) }, () => String(this.int(0, 9))).join('');
  }

  /** String content: short, or long plain runs (skipped by words) with a few special characters. */
  text(): string {
    const long = this.chance(0.15);
    const length = long ? this.int(20, 200) : this.int(0, 12);
    const special = long ? 0.03 : 0.35;
    let text = '';
    for (let i = 0; i < length; i++) {
      text += this.chance(special) ? this.pick(SPECIAL_CHARS) : String.fromCharCode(this.int(0x61, 0x7a));
    }
    return text;
  }

  /** A JSON string literal of `value`, each character written raw or escaped at random where both are valid. */
  string(value: string): string {
    let out = '"';
    for (const ch of value) {
      const code = ch.codePointAt(0) as number;
      if (ch === '"' || ch === '\\') out += this.chance(0.7) ? `\\${ch}` : this.unicodeEscape(code);
      else if (code < 0x20)
        out += SHORT_ESCAPES[ch] && this.chance(0.7) ? `\\${SHORT_ESCAPES[ch]}` : this.unicodeEscape(code);
      else if (code >= 0xd800 && code <= 0xdfff)
        out += this.unicodeEscape(code); // lone: no UTF-8 form
      else if (code > 0xffff) {
        out += this.chance(this.escapeRate + 0.2)
          ? ch
              .split('')
              .map((u) => this.unicodeEscape(u.charCodeAt(0)))
              .join('')
          : ch;
      } else if (ch === '/' && this.chance(0.5)) out += '\\/';
      else out += this.chance(this.escapeRate) ? this.unicodeEscape(code) : ch;
    }
    return `${out}"`;
  }

  /** `\uXXXX`, each hex digit in either case. */
  private unicodeEscape(unit: number): string {
    const hex = unit.toString(16).padStart(4, '0');
    return `\\u${[...hex].map((d) => (this.chance(0.5) ? d.toUpperCase() : d)).join('')}`;
  }
}

/** The body in memory as the transport leaves it: copied in chunks, at an offset, noise after it. */
function inMemory(bytes: Buffer, writer: BundleWriter): Buffer {
  const offset = writer.int(0, 7);
  const memory = Buffer.from(new ArrayBuffer(offset + bytes.length + writer.int(0, 16)));
  for (let i = 0; i < memory.length; i++) memory[i] = writer.pick(NOISE_BYTES);
  const body = memory.subarray(offset, offset + bytes.length);
  for (let at = 0; at < bytes.length; ) {
    const end = Math.min(bytes.length, at + writer.int(1, 200));
    bytes.copy(body, at, at, end);
    at = end;
  }
  return body;
}

/**
 * The Bundle with each top-level entry's resource object replaced by `{ raw: i }`, collecting them;
 * for `JSON.parse`'s Bundle also each entry object cut down to `resource` and `search` (the scanner
 * builds nothing else of an entry).
 */
function withResourcesTakenOut<T>(bundle: unknown, isResource: (v: unknown) => v is T, trimEntries: boolean) {
  const taken: T[] = [];
  if (!isRecord(bundle) || !Array.isArray(bundle.entry)) return { view: bundle, taken };
  const entry = bundle.entry.map((e: unknown) => {
    if (!isRecord(e)) return e;
    const kept: Record<string, unknown> = {};
    for (const key of Object.keys(e)) {
      if (trimEntries && key !== 'resource' && key !== 'search') continue;
      const value = e[key];
      const replaced = key === 'resource' && isResource(value) ? { raw: taken.push(value) - 1 } : value;
      Object.defineProperty(kept, key, {
        value: replaced,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return kept;
  });
  return { view: { ...bundle, entry }, taken };
}

/** Compares the scanner's Bundle with `JSON.parse`'s; returns the raw resources and what they must read as. */
function expectSameBundle(scanned: unknown, parsed: unknown): Array<[RawResource, Record<string, unknown>]> {
  const got = withResourcesTakenOut(scanned, isRawResource, false);
  const want = withResourcesTakenOut(parsed, isRecord, true);
  expect(got.view).toEqual(want.view);
  // Same keys in the same order everywhere (toEqual ignores order).
  expect(JSON.stringify(got.view)).toBe(JSON.stringify(want.view));
  expect(got.taken).toHaveLength(want.taken.length);
  const pairs = got.taken.map((raw, i): [RawResource, Record<string, unknown>] => [raw, want.taken[i]]);
  for (const [raw, resource] of pairs) {
    expect(raw.resourceType).toBe(
      typeof resource.resourceType === 'string' ? resource.resourceType : undefined,
    );
    expect(raw.id).toBe(typeof resource.id === 'string' ? resource.id : undefined);
    const meta = resource.meta as { lastUpdated?: unknown } | undefined;
    const lastUpdated = typeof meta === 'object' && meta !== null ? meta.lastUpdated : undefined;
    expect(raw.lastUpdated).toBe(typeof lastUpdated === 'string' ? lastUpdated : undefined);
    const line = lineText(resourceLine(raw));
    expect(line).not.toMatch(/[\n\r]/);
    // The line is the resource: its source bytes or JSON.stringify's text (which writes -0 as 0).
    const canonical = (v: unknown) => JSON.stringify(v);
    expect(canonical(JSON.parse(line))).toBe(canonical(resource));
  }
  return pairs;
}

/** Runs `check` and names the case, the seed and the body when it fails. */
function describedFailure(label: string, text: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    const shown = text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
    throw new Error(`${label} (FUZZ_SEED=${SEED}) failed on ${JSON.stringify(shown)}:\n${String(error)}`);
  }
}

describe(`searchsetScanner against JSON.parse on random Bundles (FUZZ_SEED=${SEED})`, () => {
  beforeAll(() => {
    console.log(`searchsetScanner fuzz: FUZZ_SEED=${SEED} FUZZ_CASES=${CASES}`);
  });

  it('Given random valid Bundles anywhere in memory, When scanned, Then they read as JSON.parse reads them, compact resources keep their bytes and lie back to back at the front', () => {
    const random = mulberry32(SEED);
    const seen = { resources: 0, compact: 0, blocks: 0, escapedTypes: 0 };
    for (let n = 0; n < CASES; n++) {
      const writer = new BundleWriter(random);
      const text = writer.bundle();
      describedFailure(`valid case ${n}`, text, () => {
        const bytes = Buffer.from(text, 'utf8');
        expect(bytes.toString('utf8')).toBe(text); // no lone surrogate was written raw
        const body = inMemory(bytes, writer);
        const scanned = parseSearchsetBytes(body);
        const pairs = expectSameBundle(scanned, JSON.parse(text));
        expect(pairs).toHaveLength(writer.resources.length);
        const lines = pairs.map(([raw], i) => {
          const { text: source, compact } = writer.resources[i];
          const line = lineText(resourceLine(raw));
          expect(line).toBe(compact ? source : JSON.stringify(JSON.parse(source)));
          seen.compact += compact ? 1 : 0;
          seen.escapedTypes += /"resourceType"\s*:\s*"[^"]*\\/.test(source) ? 1 : 0;
          return line;
        });
        seen.resources += pairs.length;
        const raws = pairs.map(([raw]) => raw);
        const expectedBlock = lines.map((line) => `${line}\n`).join('');
        const block = laidOutNdjson(scanned as object, raws);
        expect(ndjsonBuffer(raws.map(resourceLine)).toString('utf8')).toBe(expectedBlock);
        if (raws.length > 0 && writer.resources.every((r) => r.compact)) {
          seen.blocks++;
          expect(block?.toString('utf8')).toBe(expectedBlock);
          expect(block?.byteOffset).toBe(body.byteOffset);
        } else {
          expect(block).toBeUndefined();
        }
      });
    }
    // The generator reaches what it is meant to.
    expect(seen.resources).toBeGreaterThan(CASES);
    expect(seen.compact).toBeGreaterThan(seen.resources / 4);
    expect(seen.compact).toBeLessThan(seen.resources);
    expect(seen.blocks).toBeGreaterThan(CASES / 5);
    expect(seen.escapedTypes).toBeGreaterThan(0);
  });

  it('Given the same Bundles cut short or with one byte deleted, replaced or inserted, When scanned, Then the scanner declines non-UTF-8, rejects what JSON.parse rejects and agrees with it on the rest', () => {
    const random = mulberry32(SEED ^ 0x9e3779b9);
    const outcomes = { declined: 0, rejected: 0, accepted: 0 };
    for (let n = 0; n < CASES; n++) {
      const writer = new BundleWriter(random);
      const bytes = Buffer.from(writer.bundle(), 'utf8');
      const at = writer.int(0, bytes.length - 1);
      const noise = Buffer.from([writer.pick(NOISE_BYTES)]);
      const kind = writer.pick(['cut', 'delete', 'replace', 'insert'] as const);
      const mutated =
        kind === 'cut'
          ? bytes.subarray(0, at)
          : Buffer.concat([
              bytes.subarray(0, at),
              kind === 'delete' ? Buffer.alloc(0) : noise,
              bytes.subarray(kind === 'insert' ? at : at + 1),
            ]);
      const text = mutated.toString('utf8');
      describedFailure(`mutated case ${n} (${kind} at byte ${at})`, text, () => {
        const body = inMemory(mutated, writer);
        if (!isUtf8(mutated)) {
          outcomes.declined++;
          expect(parseSearchsetBytes(body)).toBeUndefined();
          expect(body.equals(mutated)).toBe(true); // left as it was for the caller's JSON.parse
          return;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          outcomes.rejected++;
          expect(() => parseSearchsetBytes(body)).toThrow(SyntaxError);
          return;
        }
        outcomes.accepted++;
        expectSameBundle(parseSearchsetBytes(body), parsed);
      });
    }
    expect(outcomes.declined).toBeGreaterThan(0);
    expect(outcomes.rejected).toBeGreaterThan(CASES / 4);
    expect(outcomes.accepted).toBeGreaterThan(0);
  });
});
