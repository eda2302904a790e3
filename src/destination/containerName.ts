const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

/** Blob container naming rules: 3–63 chars, lowercase letters, digits and single hyphens. */
export function isValidContainerName(name: string): boolean {
  return CONTAINER_NAME.test(name);
}
