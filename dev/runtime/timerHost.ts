/**
 * Runs the app's timer triggers as the Functions host does: each on its NCRONTAB schedule, and on
 * demand through the host's admin API, `POST /admin/functions/{name}`, which answers 202 and runs
 * the function in the background (tests use it to run a timer function at a state they choose).
 */
import type { FunctionRegistration } from './functionsCore';
import type { PrefixedApi } from './httpHost';
import { FunctionInvoker, LogLine, triggerOf } from './invoker';
import { nextOccurrence, parseSchedule, type Schedule } from './ncrontab';

export const ADMIN_FUNCTIONS_PREFIX = '/admin/functions';

export class TimerHost {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  private started = false;

  constructor(
    private readonly invoker: FunctionInvoker,
    private readonly log: LogLine,
  ) {}

  /** Schedules every timer trigger the app registered; timer functions run from then on. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const registration of this.invoker.byTrigger('timerTrigger')) {
      const schedule = parseSchedule(String(triggerOf(registration)?.binding.schedule ?? ''));
      this.scheduleNext(registration, schedule);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** The admin API that runs a non-HTTP function now. */
  adminApi(): PrefixedApi {
    return {
      prefix: ADMIN_FUNCTIONS_PREFIX,
      handle: (request) => {
        const [name, ...rest] = request.segments;
        if (request.method !== 'POST') return { status: 405 };
        if (!this.started) return { status: 503, headers: { 'Retry-After': '1' } };
        const registration = name && rest.length === 0 ? this.invoker.find(name) : undefined;
        if (!registration || triggerOf(registration)?.binding.type !== 'timerTrigger') return { status: 404 };
        void this.run(registration, false);
        return { status: 202 };
      },
    };
  }

  private scheduleNext(registration: FunctionRegistration, schedule: Schedule): void {
    if (this.stopped) return;
    const due = nextOccurrence(schedule, new Date());
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.run(registration, false).finally(() => this.scheduleNext(registration, schedule));
    }, due.getTime() - Date.now());
    // Timers never keep a stopping process alive.
    timer.unref();
    this.timers.add(timer);
  }

  private async run(registration: FunctionRegistration, isPastDue: boolean): Promise<void> {
    const name = registration.metadata.name;
    try {
      // The timer binding's payload as the host sends it.
      const payload = { Schedule: { AdjustForDST: true }, ScheduleStatus: null, IsPastDue: isPastDue };
      await this.invoker.invoke(registration, { json: JSON.stringify(payload) });
    } catch (error) {
      this.log(
        `[${name}] timer invocation failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}
