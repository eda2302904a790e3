/** The deletion source that goes with each search source (see deletionSource.ts). */
import { CosmosDeletionSource } from './cosmosDeletions';
import { CosmosSearchSource } from './cosmosSource';
import { FhirDeletionSource } from './fhirDeletions';
import { FhirRestSource } from './fhirRestSource';
import type { DeletionSource } from './deletionSource';

/** Deletions from the same container or server as `source`'s resources. */
export function deletionSourceOf(source: FhirRestSource | CosmosSearchSource): DeletionSource {
  return source instanceof FhirRestSource
    ? new FhirDeletionSource(source)
    : new CosmosDeletionSource(source.container);
}
