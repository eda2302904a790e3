/**
 * Parses a FHIR searchset Bundle from its bytes without building its resources.
 *
 * The REST source used to `JSON.parse` the whole page and `JSON.stringify` every resource again to
 * get its NDJSON line; on large exports that round trip (plus decoding the body to a string) was the
 * biggest CPU cost of the export. This parser validates the whole body as JSON (same grammar as
 * `JSON.parse`) and builds the Bundle as `JSON.parse` would, except that the value of each
 * `entry[i].resource` object becomes a `RawResource`: an object with only `resourceType` and `id`
 * (when they are strings), carrying the resource's original JSON bytes.
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

const RAW_LINE = Symbol('rawResourceLine');
/** On a scanned Bundle: the body it was scanned from, i.e. the bounds its lines were moved within. */
const SCANNED_BODY = Symbol('scannedBody');

/** A resource of a scanned Bundle: its type and id, and its NDJSON line (see `resourceLine`). */
export interface RawResource {
  resourceType?: string;
  id?: string;
  [RAW_LINE]: ResourceLine;
}

/** True for the resources `parseSearchsetBytes` leaves unbuilt. */
export function isRawResource(value: unknown): value is RawResource {
  return typeof value === 'object' && value !== null && RAW_LINE in value;
}

/**
 * The resource as one line of JSON: the source's own bytes when scanned (a view into the body, which
 * it keeps alive while held, followed there by `\n`), else `JSON.stringify`.
 */
export function resourceLine(resource: object): ResourceLine {
  return isRawResource(resource) ? resource[RAW_LINE] : JSON.stringify(resource);
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
 * The NDJSON block of `lines` inside the body `bundle` was scanned from, when `lines` are the
 * scanner's byte lines lying back to back there (a page keeps all its matches, in order); else
 * undefined and the caller encodes the lines itself.
 */
export function laidOutNdjson(bundle: object, lines: readonly ResourceLine[]): Buffer | undefined {
  const body = (bundle as { [SCANNED_BODY]?: Buffer })[SCANNED_BODY];
  if (!body || lines.length === 0) return undefined;
  let next = 0;
  for (const line of lines) {
    if (typeof line === 'string' || line.buffer !== body.buffer) return undefined;
    const start: number = line.byteOffset - body.byteOffset;
    const end: number = start + line.length;
    if (start !== next || end >= body.length || body[end] !== 0x0a) return undefined;
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

class Scanner {
  pos = 0;
  /** Set when whitespace was skipped since it was last cleared. */
  sawWhitespace = false;
  /** Whether the last string skipped had an escape sequence. */
  escaped = false;
  /** Where the next compact resource's line goes (see the module comment); always behind `pos`. */
  lineEnd = 0;

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
      let member: unknown;
      if (context === Context.Top && key === 'entry' && this.b[this.pos] === 0x5b) {
        member = this.array(Context.Entries);
      } else if (context === Context.Entry && key === 'resource' && this.b[this.pos] === 0x7b) {
        member = this.rawResource();
      } else {
        member = this.value(Context.Other);
      }
      if (key === '__proto__') {
        Object.defineProperty(result, key, {
          value: member,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      } else {
        result[key] = member;
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
    const start = this.pos;
    const outerWhitespace = this.sawWhitespace;
    this.sawWhitespace = false;
    let resourceType: unknown;
    let id: unknown;
    this.pos++;
    this.skipWhitespace();
    if (this.b[this.pos] === 0x7d) {
      this.pos++;
    } else {
      for (;;) {
        if (this.b[this.pos] !== QUOTE) this.fail();
        const keyStart = this.pos;
        this.skipString();
        const keyLength = this.pos - keyStart - 2;
        let key: string | undefined;
        if (keyLength === 2 || keyLength === 12 || this.escaped) key = this.stringAt(keyStart);
        this.skipWhitespace();
        if (this.b[this.pos] !== 0x3a) this.fail();
        this.pos++;
        this.skipWhitespace();
        const valueStart = this.pos;
        this.skipValue(0);
        if (key === 'resourceType' || key === 'id') {
          const member = this.b[valueStart] === QUOTE ? this.stringAt(valueStart) : undefined;
          if (key === 'resourceType') resourceType = member;
          else id = member;
        }
        this.skipWhitespace();
        const c = this.b[this.pos++];
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
    const line = compact
      ? this.moveLine(start, this.pos)
      : JSON.stringify(JSON.parse(this.b.toString('utf8', start, this.pos)));
    const raw: RawResource = { [RAW_LINE]: line };
    if (typeof resourceType === 'string') raw.resourceType = resourceType;
    if (typeof id === 'string') raw.id = id;
    return raw;
  }

  /** Moves the validated bytes `start`..`end` to `lineEnd`, adds `\n`, and returns a view of them. */
  private moveLine(start: number, end: number): Buffer {
    const at = this.lineEnd;
    this.b.copyWithin(at, start, end);
    const lineLength = end - start;
    this.b[at + lineLength] = 0x0a;
    this.lineEnd = at + lineLength + 1;
    return this.b.subarray(at, at + lineLength);
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
