/**
 * Parses a FHIR searchset Bundle from its bytes without building its resources.
 *
 * The REST source used to `JSON.parse` the whole page and `JSON.stringify` every resource again to
 * get its NDJSON line; on large exports that round trip (plus decoding the body to a string) was the
 * biggest CPU cost of the export. This parser validates the whole body as JSON (same grammar as
 * `JSON.parse`) and builds the Bundle as `JSON.parse` would, except for the entries: of each
 * `entry[i]` only `resource` and `search` are built (the rest, e.g. `fullUrl`, is validated and
 * skipped), and the `resource` object becomes a `RawResource`: its type, its id and where its
 * original JSON bytes are.
 *
 * A page's objects live while the page is fetched ahead, written and committed, long enough for V8
 * to move them to the old generation, where garbage is collected late and lets the heap grow. So a
 * resource costs one small object here: its id is read from the bytes when asked for, consecutive
 * resources of one type share one type string, and its line is a view made only when asked for.
 *
 * The original bytes are used as the NDJSON line only when they are compact (no whitespace between
 * tokens, so it is one line and looks like what `JSON.stringify` writes); they never become a JS
 * string. Anything else goes through `JSON.parse` + `JSON.stringify` as before. Bodies that are not
 * valid UTF-8 are left to the caller's plain `JSON.parse` path, which replaces bad bytes the usual way.
 *
 * The scanner owns the body it is given: as each compact resource is validated, its bytes are moved
 * to the front of the body, each followed by `\n`, behind the ones before it. Every resource starts
 * after at least `{"resource":`, so the write position always trails what has been read. The lines
 * of a page then lie back to back as one NDJSON block (`laidOutNdjson`) that is written as it is:
 * copying them into a fresh buffer cost more than scanning them (a new 1–2 MB allocation per page).
 */
import { isUtf8 } from 'node:buffer';
import type { ResourceLine } from './searchSource';

const EMPTY = Buffer.alloc(0);

/** On a scanned Bundle: the body it was scanned from, i.e. the bounds its lines were moved within. */
const SCANNED_BODY = Symbol('scannedBody');

/**
 * A resource of a scanned Bundle: its type, its id and its NDJSON line (see `resourceLine`). Numbers
 * rather than views or strings, so a page of them is little to collect; the id and line are read
 * from the page body when asked for, which is valid until the page's memory is given back.
 */
export class RawResource {
  private constructor(
    readonly resourceType: string | undefined,
    private readonly body: Buffer,
    private readonly lineStart: number,
    private readonly lineEnd: number,
    private readonly idStart: number,
    private readonly idEnd: number,
    private readonly text: string | undefined,
    private readonly knownId: string | undefined,
  ) {}

  /**
   * A compact resource: its line is `[lineStart, lineEnd)` of `body`, followed there by `\n`. Its id
   * is the string content `[idStart, idEnd)` of `body` (without escapes), or `knownId` when `idStart`
   * is -1 (decoded already, or none).
   */
  static inBody(
    resourceType: string | undefined,
    body: Buffer,
    lineStart: number,
    lineEnd: number,
    idStart: number,
    idEnd: number,
    knownId: string | undefined,
  ): RawResource {
    return new RawResource(resourceType, body, lineStart, lineEnd, idStart, idEnd, undefined, knownId);
  }

  /** A resource whose source bytes were not compact: `text` is its line, re-serialised. */
  static asText(resourceType: string | undefined, text: string, id: string | undefined): RawResource {
    return new RawResource(resourceType, EMPTY, -1, -1, -1, -1, text, id);
  }

  get id(): string | undefined {
    return this.idStart < 0 ? this.knownId : this.body.toString('utf8', this.idStart, this.idEnd);
  }

  /** The resource as one line: a view of its bytes in the body, or its JSON text. */
  lineOf(): ResourceLine {
    return this.text ?? this.body.subarray(this.lineStart, this.lineEnd);
  }

  /** Where the line ends, when it is the source's own bytes in `body` starting at `start`. */
  lineEndIfAt(body: Buffer, start: number): number | undefined {
    return this.text === undefined && body === this.body && this.lineStart === start
      ? this.lineEnd
      : undefined;
  }
}

/** True for the resources `parseSearchsetBytes` leaves unbuilt. */
export function isRawResource(value: unknown): value is RawResource {
  return value instanceof RawResource;
}

/**
 * The resource as one line of JSON: the source's own bytes when scanned (a view into the body, which
 * it keeps alive while held, followed there by `\n`), else `JSON.stringify`.
 */
export function resourceLine(resource: object): ResourceLine {
  return isRawResource(resource) ? resource.lineOf() : JSON.stringify(resource);
}

/**
 * Parses `body` like `JSON.parse(body.toString('utf8'))`, keeping `entry[i].resource` objects as
 * `RawResource`s. Returns undefined when the body is not valid UTF-8 (use `JSON.parse` then; the body
 * is untouched); throws `SyntaxError` for invalid JSON (the body is then partly rewritten: drop it).
 */
export function parseSearchsetBytes(body: Buffer): unknown {
  if (!isUtf8(body)) return undefined;
  const scanner = new Scanner(body);
  scanner.skipWhitespace();
  const value = scanner.value(Context.Top);
  scanner.skipWhitespace();
  if (scanner.pos !== body.length) scanner.fail();
  if (typeof value === 'object' && value !== null) {
    Object.defineProperty(value, SCANNED_BODY, { value: body, enumerable: false });
  }
  return value;
}

/**
 * The NDJSON block of `resources` inside the body `bundle` was scanned from, when they are the
 * scanner's compact resources lying back to back from its start (a page keeps all its matches, in
 * order); else undefined and the caller encodes their lines itself.
 */
export function laidOutNdjson(bundle: object, resources: readonly object[]): Buffer | undefined {
  const body = (bundle as { [SCANNED_BODY]?: Buffer })[SCANNED_BODY];
  if (!body || resources.length === 0) return undefined;
  let next = 0;
  for (const resource of resources) {
    const end = isRawResource(resource) ? resource.lineEndIfAt(body, next) : undefined;
    if (end === undefined || end >= body.length || body[end] !== 0x0a) return undefined;
    next = end + 1;
  }
  return body.subarray(0, next);
}

const enum Context {
  /** The body itself. */
  Top,
  /** The top-level `entry` array. */
  Entries,
  /** One element of `entry`. */
  Entry,
  /** Anywhere else. */
  Other,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** 1 for bytes that may appear unescaped inside a JSON string: not a quote, backslash or control character. */
const PLAIN_STRING_BYTE = new Uint8Array(256).map((_, byte) =>
  byte >= 0x20 && byte !== QUOTE && byte !== BACKSLASH ? 1 : 0,
);

/**
 * True when none of the four bytes of `word` is a control character, a quote or a backslash. Bit
 * tricks on the whole word: `(x - 0x20202020) & ~x & 0x80808080` is non-zero exactly when some byte
 * of x is below 0x20, and a byte equal to q is a zero byte of `x ^ q…q` (any borrow these
 * subtractions carry into a higher byte starts at a byte that matched, so the tests are exact).
 */
function isPlainWord(word: number): boolean {
  const quote = word ^ 0x22222222;
  const backslash = word ^ 0x5c5c5c5c;
  const control = (word - 0x20202020) & ~word;
  const quoteZero = (quote - 0x01010101) & ~quote;
  const backslashZero = (backslash - 0x01010101) & ~backslash;
  return ((control | quoteZero | backslashZero) & 0x80808080) === 0;
}

const RESOURCE_TYPE = Buffer.from('resourceType');
const ID = Buffer.from('id');

/** True when `b[start..end)` holds exactly `expected`. */
function bytesAre(b: Buffer, start: number, end: number, expected: Buffer): boolean {
  if (end - start !== expected.length) return false;
  for (let k = 0; k < expected.length; k++) if (b[start + k] !== expected[k]) return false;
  return true;
}

class Scanner {
  pos = 0;
  /** Set when whitespace was skipped since it was last cleared. */
  sawWhitespace = false;
  /** Whether the last string skipped had an escape sequence. */
  escaped = false;
  /** Where the next compact resource's line goes (see the module comment); always behind `pos`. */
  lineEnd = 0;
  /** The last `resourceType` decoded, and its bytes (see `typeAt`). */
  private lastType: { name: string; bytes: Buffer } | undefined;

  /** The body as aligned 32-bit words (from byte `wordBase`), to skip plain string bytes four at a time. */
  private readonly words: Int32Array;
  private readonly wordBase: number;

  constructor(private readonly b: Buffer) {
    this.wordBase = (4 - (b.byteOffset & 3)) & 3;
    this.words =
      b.length < this.wordBase + 4
        ? new Int32Array(0)
        : new Int32Array(b.buffer, b.byteOffset + this.wordBase, (b.length - this.wordBase) >>> 2);
  }

  fail(): never {
    throw new SyntaxError(`Invalid JSON at byte ${this.pos}`);
  }

  skipWhitespace(): void {
    const b = this.b;
    let i = this.pos;
    const start = i;
    for (;;) {
      const c = b[i];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    if (i !== start) this.sawWhitespace = true;
    this.pos = i;
  }

  /** Builds the value at `pos` (objects of `entry[i].resource` stay raw). */
  value(context: Context): unknown {
    const c = this.b[this.pos];
    if (c === 0x7b) return this.object(context);
    if (c === 0x5b) return this.array(context === Context.Top ? Context.Other : context);
    const start = this.pos;
    this.skipScalar();
    return c === QUOTE ? this.stringAt(start) : JSON.parse(this.b.toString('utf8', start, this.pos));
  }

  /** The string that was just skipped, from its opening quote at `start`: no JSON.parse without escapes. */
  private stringAt(start: number): string {
    return this.escaped
      ? (JSON.parse(this.b.toString('utf8', start, this.pos)) as string)
      : this.b.toString('utf8', start + 1, this.pos - 1);
  }

  private object(context: Context): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    this.pos++;
    this.skipWhitespace();
    if (this.b[this.pos] === 0x7d) {
      this.pos++;
      return result;
    }
    for (;;) {
      if (this.b[this.pos] !== QUOTE) this.fail();
      const keyStart = this.pos;
      this.skipString();
      const key = this.stringAt(keyStart);
      this.skipWhitespace();
      if (this.b[this.pos] !== 0x3a) this.fail();
      this.pos++;
      this.skipWhitespace();
      if (context === Context.Entry && key !== 'resource' && key !== 'search') {
        // Nothing reads an entry's `fullUrl`, `request` or `response`: validate them, build nothing.
        this.skipValue(0);
      } else if (key === '__proto__') {
        Object.defineProperty(result, key, {
          value: this.member(context, key),
          writable: true,
          enumerable: true,
          configurable: true,
        });
      } else {
        result[key] = this.member(context, key);
      }
      this.skipWhitespace();
      const c = this.b[this.pos++];
      if (c === 0x7d) return result;
      if (c !== 0x2c) {
        this.pos--;
        this.fail();
      }
      this.skipWhitespace();
    }
  }

  /** The value at `pos` of the member `key` of an object in `context`. */
  private member(context: Context, key: string): unknown {
    const c = this.b[this.pos];
    if (context === Context.Top && key === 'entry' && c === 0x5b) return this.array(Context.Entries);
    if (context === Context.Entry && key === 'resource' && c === 0x7b) return this.rawResource();
    return this.value(Context.Other);
  }

  private array(context: Context): unknown[] {
    const result: unknown[] = [];
    const elementContext = context === Context.Entries ? Context.Entry : Context.Other;
    this.pos++;
    this.skipWhitespace();
    if (this.b[this.pos] === 0x5d) {
      this.pos++;
      return result;
    }
    for (;;) {
      result.push(this.value(elementContext));
      this.skipWhitespace();
      const c = this.b[this.pos++];
      if (c === 0x5d) return result;
      if (c !== 0x2c) {
        this.pos--;
        this.fail();
      }
      this.skipWhitespace();
    }
  }

  /** Validates the resource object at `pos` and returns it unbuilt, with its type and id. */
  private rawResource(): RawResource {
    const b = this.b;
    const start = this.pos;
    const outerWhitespace = this.sawWhitespace;
    this.sawWhitespace = false;
    let resourceType: string | undefined;
    let idStart = -1;
    let idEnd = -1;
    let knownId: string | undefined;
    this.pos++;
    this.skipWhitespace();
    if (b[this.pos] === 0x7d) {
      this.pos++;
    } else {
      for (;;) {
        if (b[this.pos] !== QUOTE) this.fail();
        const keyStart = this.pos;
        this.skipString();
        // Names compared as bytes (no string per member); only a name with escapes is decoded.
        const key = this.escaped
          ? this.stringAt(keyStart)
          : bytesAre(b, keyStart + 1, this.pos - 1, RESOURCE_TYPE)
            ? 'resourceType'
            : bytesAre(b, keyStart + 1, this.pos - 1, ID)
              ? 'id'
              : undefined;
        this.skipWhitespace();
        if (b[this.pos] !== 0x3a) this.fail();
        this.pos++;
        this.skipWhitespace();
        const valueStart = this.pos;
        this.skipValue(0);
        const isString = b[valueStart] === QUOTE;
        if (key === 'resourceType') {
          resourceType = isString ? this.typeAt(valueStart) : undefined;
        } else if (key === 'id') {
          // The last one counts, as with JSON.parse.
          idStart = isString && !this.escaped ? valueStart + 1 : -1;
          idEnd = this.pos - 1;
          knownId = isString && this.escaped ? this.stringAt(valueStart) : undefined;
        }
        this.skipWhitespace();
        const c = b[this.pos++];
        if (c === 0x7d) break;
        if (c !== 0x2c) {
          this.pos--;
          this.fail();
        }
        this.skipWhitespace();
      }
    }
    const compact = !this.sawWhitespace;
    this.sawWhitespace = outerWhitespace;
    if (!compact) {
      const text = JSON.stringify(JSON.parse(b.toString('utf8', start, this.pos)));
      const id = idStart < 0 ? knownId : b.toString('utf8', idStart, idEnd);
      return RawResource.asText(resourceType, text, id);
    }
    const lineStart = this.moveLine(start, this.pos);
    // The id's bytes moved with the line.
    const shift = lineStart - start;
    return RawResource.inBody(
      resourceType,
      b,
      lineStart,
      lineStart + this.pos - start,
      idStart < 0 ? -1 : idStart + shift,
      idEnd + shift,
      knownId,
    );
  }

  /**
   * The `resourceType` string whose quoted value starts at `start` (just skipped). A page is mostly
   * one type: the last type's string is reused while the bytes are the same.
   */
  private typeAt(start: number): string {
    const last = this.lastType;
    if (!this.escaped && last !== undefined && bytesAre(this.b, start + 1, this.pos - 1, last.bytes)) {
      return last.name;
    }
    const name = this.stringAt(start);
    // A copy: the body's bytes here are overwritten as lines move to the front.
    if (!this.escaped) this.lastType = { name, bytes: Buffer.from(this.b.subarray(start + 1, this.pos - 1)) };
    return name;
  }

  /** Moves the validated bytes `start`..`end` to `lineEnd`, adds `\n`, and returns where they went. */
  private moveLine(start: number, end: number): number {
    const at = this.lineEnd;
    this.b.copyWithin(at, start, end);
    const lineLength = end - start;
    this.b[at + lineLength] = 0x0a;
    this.lineEnd = at + lineLength + 1;
    return at;
  }

  /** Validates any value at `pos` without building it. */
  private skipValue(depth: number): void {
    if (depth > 5000) this.fail();
    const c = this.b[this.pos];
    if (c === 0x7b || c === 0x5b) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      this.pos++;
      this.skipWhitespace();
      if (this.b[this.pos] === close) {
        this.pos++;
        return;
      }
      for (;;) {
        if (close === 0x7d) {
          if (this.b[this.pos] !== QUOTE) this.fail();
          this.skipString();
          this.skipWhitespace();
          if (this.b[this.pos] !== 0x3a) this.fail();
          this.pos++;
          this.skipWhitespace();
        }
        this.skipValue(depth + 1);
        this.skipWhitespace();
        const next = this.b[this.pos++];
        if (next === close) return;
        if (next !== 0x2c) {
          this.pos--;
          this.fail();
        }
        this.skipWhitespace();
      }
    }
    this.skipScalar();
  }

  /** A string, number, `true`, `false` or `null` at `pos`. */
  private skipScalar(): void {
    const b = this.b;
    const c = b[this.pos];
    if (c === QUOTE) return this.skipString();
    if (c === 0x74) return this.literal('true');
    if (c === 0x66) return this.literal('false');
    if (c === 0x6e) return this.literal('null');
    this.skipNumber();
  }

  private literal(word: string): void {
    for (let k = 0; k < word.length; k++) {
      if (this.b[this.pos + k] !== word.charCodeAt(k)) this.fail();
    }
    this.pos += word.length;
  }

  private skipNumber(): void {
    const b = this.b;
    let i = this.pos;
    if (b[i] === 0x2d) i++;
    if (b[i] === 0x30) i++;
    else if (b[i] >= 0x31 && b[i] <= 0x39) while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    else {
      this.pos = i;
      this.fail();
    }
    if (b[i] === 0x2e) {
      i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) {
        this.pos = i;
        this.fail();
      }
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) {
        this.pos = i;
        this.fail();
      }
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    }
    this.pos = i;
  }

  /** The first word boundary from `at` (one) whose word holds a byte that is not plain. */
  private skipPlainWords(at: number): number {
    const words = this.words;
    let w = (at - this.wordBase) >> 2;
    while (w < words.length && isPlainWord(words[w])) w++;
    return this.wordBase + (w << 2);
  }

  /** A string at `pos` (on its opening quote): escapes checked, no raw control characters. */
  private skipString(): void {
    const b = this.b;
    const end = b.length;
    let i = this.pos + 1;
    this.escaped = false;
    for (;;) {
      // Plain characters are most of a page (narratives, codes): skip them with one table look-up
      // each, and whole words of them at once from each word boundary on. Past the end `b[i]` is
      // undefined, which is not a plain character either.
      while (PLAIN_STRING_BYTE[b[i]] === 1) {
        i++;
        if (((i - this.wordBase) & 3) === 0) i = this.skipPlainWords(i);
      }
      if (i >= end) {
        this.pos = i;
        this.fail();
      }
      const c = b[i];
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        this.escaped = true;
        const e = b[i + 1];
        if (e === 0x75) {
          for (let k = 2; k < 6; k++) {
            const h = b[i + k];
            const hex = (h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66);
            if (!hex) {
              this.pos = i;
              this.fail();
            }
          }
          i += 6;
        } else if (
          e === 0x22 ||
          e === 0x5c ||
          e === 0x2f ||
          e === 0x62 ||
          e === 0x66 ||
          e === 0x6e ||
          e === 0x72 ||
          e === 0x74
        ) {
          i += 2;
        } else {
          this.pos = i;
          this.fail();
        }
      } else if (c < 0x20) {
        this.pos = i;
        this.fail();
      } else {
        i++;
      }
    }
    this.pos = i + 1;
  }
}
