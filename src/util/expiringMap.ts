/**
 * A map that holds at most `maxEntries` entries, each for at most `ttlMs`: what a process keeps for
 * a next step that may never come (a page read ahead, a block staged ahead). Entries it lets go,
 * the oldest when full or any whose time is up, are handed to `onDrop`; `take` hands one over
 * instead, and it is not dropped.
 */
export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, { value: V; timer: NodeJS.Timeout }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly onDrop: (value: V) => void,
  ) {}

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** The entry, left in place. */
  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Adds an entry, making room first; one of the same key is dropped. */
  set(key: K, value: V): void {
    this.drop(key);
    while (this.entries.size >= this.maxEntries) this.drop(this.entries.keys().next().value as K);
    const timer = setTimeout(() => this.drop(key), this.ttlMs);
    timer.unref();
    this.entries.set(key, { value, timer });
  }

  /** Removes the entry and hands it over. */
  take(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.entries.delete(key);
    return entry.value;
  }

  private drop(key: K): void {
    const value = this.take(key);
    if (value !== undefined) this.onDrop(value);
  }
}
