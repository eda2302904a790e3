const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;
/** An allow-list entry that names a prefix: `export-*`. */
const CONTAINER_PREFIX = /^[a-z0-9][a-z0-9-]{0,61}\*$/;
/** Containers of the Functions host itself (keys, leases, logs): never an export's. */
const HOST_CONTAINER = /^azure-webjobs-/;

/** Blob container naming rules: 3–63 chars, lowercase letters, digits and single hyphens. */
export function isValidContainerName(name: string): boolean {
  return CONTAINER_NAME.test(name);
}

/**
 * Which containers a kick-off may name (`_container`): the default one, and those the allow-list
 * matches. The storage account may hold other containers (the host's, the deployment package), so
 * any other name is refused rather than written to.
 */
export interface ContainerPolicy {
  defaultContainer: string;
  /** Exact container names, or prefixes ending in `*` (`export-*`). */
  allowed: readonly string[];
}

export function isContainerAllowed(name: string, policy: ContainerPolicy): boolean {
  if (name === policy.defaultContainer) return true;
  if (!isValidContainerName(name) || HOST_CONTAINER.test(name)) return false;
  return policy.allowed.some((entry) =>
    entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry,
  );
}

/** Whether an allow-list entry is a container name or a non-empty prefix followed by `*`. */
export function isContainerPattern(entry: string): boolean {
  return isValidContainerName(entry) || CONTAINER_PREFIX.test(entry);
}
