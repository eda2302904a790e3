/** The port every data source implements: one page of one resource type at a time. */

export interface SearchParameters {
  /** Only resources with `meta.lastUpdated >= since` (ISO instant). */
  since?: string;
  /** Only resources with `meta.lastUpdated <= until` (ISO instant); always set (transaction time). */
  until: string;
  /**
   * Only resources with `meta.lastUpdated < before` (ISO instant, exclusive): the upper end of a time
   * range when a large type is split into several units. Undefined: no bound besides `until`.
   */
  before?: string;
  /** FHIR search query strings for this type (without `Type?`), OR-ed. Empty: no filter. */
  typeFilters: string[];
  /** Patient references (`Patient/123`) whose compartment the search is limited to; undefined: all. */
  patients?: string[];
  /**
   * Without `patients`: only resources in the compartment of some patient (a Patient-level export
   * of all patients). Sources that cannot tell may return every resource of the type.
   */
  patientCompartmentOnly?: boolean;
  /** Maximum number of resources in the page. */
  count: number;
}

/**
 * One resource as one NDJSON line, without the newline: its JSON text, or that text's UTF-8 bytes.
 * A source that reads pages as bytes hands over slices of the page it read, so large exports never
 * turn resources into JS strings (the bulk of the heap churn otherwise).
 */
export type ResourceLine = string | Buffer;

/** A line as a JS string (for the few steps that need to parse it, e.g. `_elements`). */
export function lineText(line: ResourceLine): string {
  return typeof line === 'string' ? line : line.toString('utf8');
}

export interface SearchPage {
  /**
   * Each resource as one compact JSON line (see `ResourceLine`). A source may build the array when it
   * is first read: a reader that has `ndjson` need not pay for it.
   */
  readonly resources: ResourceLine[];
  /**
   * The same resources already laid out as NDJSON (each line followed by `\n`, in order) and how many
   * lines that is, when the source has them so at no cost; the writer then uses them instead of
   * building a copy.
   */
  ndjson?: { bytes: Buffer; lines: number };
  /**
   * Gives the page's memory back to the source for a later page. Call it once nothing reads
   * `resources` or `ndjson` any more, or never (a dropped page is garbage collected).
   */
  release?: () => void;
  /** Cursor for the next page; undefined when this was the last page. */
  nextToken?: string;
  /** Total number of matches when the source knows it cheaply. */
  total?: number;
}

/** What a source can say cheaply about the matches of a search, for planning ranges. */
export interface SourceDescription {
  /** How many resources match (an estimate is fine); undefined when the source cannot say. */
  total?: number;
  /** Smallest `meta.lastUpdated` among the matches (ISO instant). */
  earliest?: string;
  /** Largest `meta.lastUpdated` among the matches (ISO instant). */
  latest?: string;
}

export interface SearchSource {
  /** Resource types that hold data, for a system export without `_type`. */
  listResourceTypes(): Promise<string[]>;
  /**
   * One page of `resourceType` matching `params`, starting at `continuationToken` (undefined for the
   * first page). Throws `SourceError` for source failures (transient ones marked so).
   */
  search(resourceType: string, params: SearchParameters, continuationToken?: string): Promise<SearchPage>;
  /**
   * Throws `BadRequestError` when this source cannot apply a `_typeFilter` query to `resourceType`, so
   * that the kick-off refuses it instead of a job failing later.
   */
  checkTypeFilter(resourceType: string, query: string): void;
  /**
   * Optional: the resource types this source can search, which a kick-off's `_type` and `_typeFilter`
   * must name (a FHIR server's CapabilityStatement). Throws `SourceError` when the source cannot say,
   * transient ones marked so. A source without it can search every R4 type (the Cosmos DB source's
   * container holds any type).
   */
  supportedTypes?(): Promise<string[]>;
  /**
   * Optional: the size and time span of what `search(resourceType, params)` would return, without
   * reading it. `earliest`/`latest` are only looked up when `total` exceeds `spanAbove` (they cost
   * more). A source without this method, or one that answers without a span, is never split.
   */
  describe?(resourceType: string, params: SearchParameters, spanAbove?: number): Promise<SourceDescription>;
  /**
   * Optional: the page `search` with these arguments would return, when the source holds it already
   * (read ahead) and can give it without waiting; else undefined. The page stays the source's: it is
   * still handed out by that `search`, or dropped (released) by the source.
   */
  peek?(resourceType: string, params: SearchParameters, continuationToken: string): SearchPage | undefined;
  /**
   * Optional: starts reading the first page of a search that is about to be asked for (the first
   * page of the unit a lane goes on with), so that `search(resourceType, params)` finds it read.
   */
  prefetch?(resourceType: string, params: SearchParameters): void;
  /** Reads one resource (e.g. the Group of a Group export); undefined when it does not exist. */
  read(resourceType: string, id: string): Promise<Record<string, unknown> | undefined>;
}
