/**
 * The port a data source implements to tell which resources were deleted in a `_since` window, for
 * the manifest's `deleted` array (Bulk Data Access IG v3.0.0, "Response - Complete Status").
 */

/** One deleted resource of the type asked for. */
export interface DeletedResource {
  id: string;
  /** When it was deleted (ISO instant); absent when the source does not say. */
  deletedAt?: string;
}

export interface DeletionPage {
  deleted: DeletedResource[];
  /** Cursor for the next page; undefined when this was the last. */
  nextToken?: string;
}

/** The window of a deletion search: after `since`, up to and including `until`. */
export interface DeletionWindow {
  since: string;
  until: string;
  /** Most deletions read per page. */
  count: number;
}

/** Whether a source can list the deletions of a type; when it cannot, why (goes to the manifest). */
export type DeletionSupport = { supported: true } | { supported: false; reason: string };

export interface DeletionSource {
  /** Throws `SourceError` when the source cannot be asked now (transient ones marked so). */
  deletionSupport(resourceType: string): Promise<DeletionSupport>;
  /**
   * One page of the resources of `resourceType` whose latest change in the window is a deletion,
   * from `continuationToken` on (undefined for the first page). The same token gives the same page
   * while the data in the window does not change, so a retried page step writes the same lines.
   */
  deletions(resourceType: string, window: DeletionWindow, continuationToken?: string): Promise<DeletionPage>;
}
