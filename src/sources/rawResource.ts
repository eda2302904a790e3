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
