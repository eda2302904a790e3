/**
 * Parses a FHIR searchset Bundle from its bytes without building its resources.
 *
 * `JSON.parse` of the whole page and `JSON.stringify` of every resource to get its NDJSON line
 * (plus decoding the body to a string) would be the biggest CPU cost of a large export. This parser
 * validates the whole body as JSON (same grammar as `JSON.parse`) and builds the Bundle as
 * `JSON.parse` would, except for the entries: of each `entry[i]` only `resource` and `search` are
 * built (the rest, e.g. `fullUrl`, is validated and skipped), and the `resource` object becomes a
 * `RawResource`: its type, its id, and where its original JSON bytes and its `meta` are.
 *
 * A page's objects live while the page is fetched ahead, written and committed, long enough for V8
 * to move them to the old generation, where garbage is collected late and lets the heap grow. So a
 * resource costs one small object here: its id is read from the bytes when asked for, consecutive
 * resources of one type share one type string, and its line is a view made only when asked for.
 *
 * The original bytes are used as the NDJSON line only when they are compact (no whitespace between
 * tokens, so it is one line and looks like what `JSON.stringify` writes); they never become a JS
 * string. Anything else goes through `JSON.parse` + `JSON.stringify`. Bodies that are not valid
 * UTF-8 are left to the caller's plain `JSON.parse` path, which replaces bad bytes the usual way.
 *
 * The scanner owns the body it is given: as each compact resource is validated, its bytes are moved
 * to the front of the body, each followed by `\n`, behind the ones before it. Every resource starts
 * after at least `{"resource":`, so the write position always trails what has been read. The lines
 * of a page then lie back to back as one NDJSON block (`laidOutNdjson`) that is written as it is:
 * copying them into a fresh buffer costs more than scanning them (a new 1–2 MB allocation per page).
 *
 * This file walks the Bundle; the JSON grammar over bytes is jsonByteReader.ts, and a resource kept
 * as its bytes is rawResource.ts.
 */
import { isUtf8 } from 'node:buffer';
import { JsonByteReader, QUOTE } from './jsonByteReader';
import { RawResource, isRawResource } from './rawResource';

export { RawResource, isRawResource, resourceLine } from './rawResource';

/** On a scanned Bundle: the body it was scanned from, i.e. the bounds its lines were moved within. */
const SCANNED_BODY = Symbol('scannedBody');

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

const RESOURCE_TYPE = Buffer.from('resourceType');
const ID = Buffer.from('id');
const META = Buffer.from('meta');

/** True when `b[start..end)` holds exactly `expected`. */
function bytesAre(b: Buffer, start: number, end: number, expected: Buffer): boolean {
  if (end - start !== expected.length) return false;
  for (let k = 0; k < expected.length; k++) if (b[start + k] !== expected[k]) return false;
  return true;
}

/** Walks a searchset Bundle: builds it as `JSON.parse` would, except each entry's resource. */
class Scanner extends JsonByteReader {
  /** Where the next compact resource's line goes (see the module comment); always behind `pos`. */
  lineEnd = 0;
  /** The last `resourceType` decoded, and its bytes (see `typeAt`). */
  private lastType: { name: string; bytes: Buffer } | undefined;

  /** Builds the value at `pos` (objects of `entry[i].resource` stay raw). */
  value(context: Context): unknown {
    const c = this.b[this.pos];
    if (c === 0x7b) return this.object(context);
    if (c === 0x5b) return this.array(context === Context.Top ? Context.Other : context);
    const start = this.pos;
    this.skipScalar();
    return c === QUOTE ? this.stringAt(start) : JSON.parse(this.b.toString('utf8', start, this.pos));
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
    let metaStart = -1;
    let metaEnd = -1;
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
              : bytesAre(b, keyStart + 1, this.pos - 1, META)
                ? 'meta'
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
        } else if (key === 'meta') {
          const isObject = b[valueStart] === 0x7b;
          metaStart = isObject ? valueStart : -1;
          metaEnd = isObject ? this.pos : -1;
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
      metaStart < 0 ? -1 : metaStart + shift,
      metaEnd + shift,
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
}
