/**
 * A resource of a scanned searchset page (searchsetScanner.ts) kept as its JSON bytes in the page
 * body rather than built: what it costs to hold, and how its NDJSON line is read back.
 */
import type { ResourceLine } from './searchSource';

const EMPTY = Buffer.alloc(0);

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
    private readonly metaStart: number,
    private readonly metaEnd: number,
  ) {}

  /**
   * A compact resource: its line is `[lineStart, lineEnd)` of `body`, followed there by `\n`. Its id
   * is the string content `[idStart, idEnd)` of `body` (without escapes), or `knownId` when `idStart`
   * is -1 (decoded already, or none). Its `meta` object is `[metaStart, metaEnd)` of `body` (-1: none).
   */
  static inBody(
    resourceType: string | undefined,
    body: Buffer,
    lineStart: number,
    lineEnd: number,
    idStart: number,
    idEnd: number,
    knownId: string | undefined,
    metaStart: number,
    metaEnd: number,
  ): RawResource {
    return new RawResource(
      resourceType,
      body,
      lineStart,
      lineEnd,
      idStart,
      idEnd,
      undefined,
      knownId,
      metaStart,
      metaEnd,
    );
  }

  /** A resource whose source bytes were not compact: `text` is its line, re-serialised. */
  static asText(resourceType: string | undefined, text: string, id: string | undefined): RawResource {
    return new RawResource(resourceType, EMPTY, -1, -1, -1, -1, text, id, -1, -1);
  }

  get id(): string | undefined {
    return this.idStart < 0 ? this.knownId : this.body.toString('utf8', this.idStart, this.idEnd);
  }

  /**
   * `meta.lastUpdated` when it is a string, else undefined. Read from the bytes when asked for: only
   * the small `meta` object is parsed.
   */
  get lastUpdated(): string | undefined {
    let meta: unknown;
    if (this.text !== undefined) meta = (JSON.parse(this.text) as { meta?: unknown }).meta;
    else if (this.metaStart >= 0) meta = JSON.parse(this.body.toString('utf8', this.metaStart, this.metaEnd));
    return stringLastUpdated(meta);
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

/** `meta.lastUpdated` of a resource of a searchset page (raw or built), when it is a string. */
export function lastUpdatedOf(resource: object): string | undefined {
  if (isRawResource(resource)) return resource.lastUpdated;
  return stringLastUpdated((resource as { meta?: unknown }).meta);
}

function stringLastUpdated(meta: unknown): string | undefined {
  const value =
    typeof meta === 'object' && meta !== null ? (meta as { lastUpdated?: unknown }).lastUpdated : undefined;
  return typeof value === 'string' ? value : undefined;
}
