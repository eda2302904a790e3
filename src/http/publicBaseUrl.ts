/**
 * The FHIR base URL that links in answers (poll location, manifest files, CapabilityStatement) are
 * built on. A configured `PUBLIC_BASE_URL` always wins; otherwise the request's own origin, which
 * comes from its `Host` header, is used only when that host is allowed: a forged `Host` would
 * otherwise put links to another site into a genuine manifest, which the client then sends its token to.
 */
import { BadRequestError } from '../export/errors';

export interface PublicBaseSettings {
  publicBaseUrl?: string;
  /** `host` (any port) or `host:port`, lower case; IPv6 in brackets. */
  allowedHosts: string[];
}

export function publicBaseUrl(requestUrl: string, settings: PublicBaseSettings): string {
  if (settings.publicBaseUrl) return settings.publicBaseUrl.replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    throw new BadRequestError('The Host header is malformed.');
  }
  const allowed = settings.allowedHosts.some((entry) => entry === url.host || entry === url.hostname);
  if (!allowed) {
    // The host is not echoed: it is the attacker's text, and the allowed list is not the caller's business.
    throw new BadRequestError('The Host header names a host this service does not answer for.');
  }
  return `${url.origin}/api`;
}

/** `ALLOWED_HOSTS` as a list: comma-separated, trimmed, lower case. */
export function allowedHostsOf(setting: string): string[] {
  return setting
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry.length > 0);
}
