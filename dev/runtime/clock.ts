/** Time source for durable timers, retry back-off and history timestamps; tests swap in `ManualClock`. */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Calls `callback` once the clock reaches `fireAt` (epoch ms); immediately-due timers fire asynchronously. */
  schedule(fireAt: number, callback: () => void): TimerHandle;
}

// setTimeout cannot wait longer than ~24.8 days in one go.
const maxTimeoutMs = 2_147_483_647;

export const realClock: Clock = {
  now: () => Date.now(),
  schedule(fireAt, callback) {
    let handle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      const wait = Math.max(0, fireAt - Date.now());
      handle = setTimeout(wait > maxTimeoutMs ? arm : callback, Math.min(wait, maxTimeoutMs));
    };
    arm();
    return { cancel: () => clearTimeout(handle) };
  },
};

interface ManualTimer {
  fireAt: number;
  seq: number;
  callback: () => void;
}

/** A clock that only moves when a test calls `advance`; timers fire in `fireAt` order. */
export class ManualClock implements Clock {
  private current: number;
  private timers: ManualTimer[] = [];
  private seq = 0;

  constructor(start: number | Date = Date.UTC(2024, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  schedule(fireAt: number, callback: () => void): TimerHandle {
    const timer: ManualTimer = { fireAt, seq: this.seq++, callback };
    if (fireAt <= this.current) {
      setImmediate(callback);
      return { cancel: () => undefined };
    }
    this.timers.push(timer);
    return { cancel: () => (this.timers = this.timers.filter((t) => t !== timer)) };
  }

  /** Moves time forward, firing each due timer and letting the runtime react before the next one. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.fireAt <= target)
        .sort((a, b) => a.fireAt - b.fireAt || a.seq - b.seq)[0];
      if (!due) {
        break;
      }
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.fireAt);
      due.callback();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.current = target;
  }

  /** Resolves once at least `count` timers are armed (the runtime arms them asynchronously). */
  async waitForTimers(count = 1, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.timers.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`ManualClock: expected ${count} armed timer(s), have ${this.timers.length}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
