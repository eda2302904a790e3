/**
 * A value loaded on demand and kept for `ttlMs`: what a process asks a slow dependency for often but
 * needs only roughly fresh (e.g. the types a FHIR server supports). Callers that ask while a load is
 * under way share it; a failed load is not kept, so the next caller tries again.
 */
export class CachedValue<T> {
  private value?: { loaded: Promise<T>; at: number };

  constructor(
    private readonly ttlMs: number,
    private readonly load: () => Promise<T>,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    const held = this.value;
    if (held && this.now() - held.at < this.ttlMs) return held.loaded;
    const entry = { loaded: this.load(), at: this.now() };
    this.value = entry;
    entry.loaded.catch(() => {
      if (this.value === entry) this.value = undefined;
    });
    return entry.loaded;
  }
}
