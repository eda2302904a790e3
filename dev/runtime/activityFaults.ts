/**
 * `LOCAL_FAIL_ACTIVITY=name:count[,name:count…]` makes the first `count` invocations of activity `name` in this
 * process throw (`name:*`: every one), as when the job store stays unreachable: the durable
 * runtime, its retries and the orchestrations then handle a real activity failure.
 */
export type ActivityFault = (functionName: string) => void;

export class InjectedActivityFault extends Error {
  constructor(functionName: string) {
    super(`Injected failure of activity ${functionName} (LOCAL_FAIL_ACTIVITY)`);
    this.name = 'InjectedActivityFault';
  }
}

export function activityFaultFromEnv(setting: string | undefined): ActivityFault | undefined {
  if (!setting) return undefined;
  const remaining = new Map<string, number>();
  for (const item of setting.split(',')) {
    const match = /^([A-Za-z0-9_]+):(\d+|\*)$/.exec(item.trim());
    if (!match) {
      throw new Error(`Invalid setting LOCAL_FAIL_ACTIVITY: "${item}" is not name:count or name:*`);
    }
    remaining.set(match[1], match[2] === '*' ? Infinity : Number(match[2]));
  }
  return (functionName) => {
    const left = remaining.get(functionName) ?? 0;
    if (left <= 0) return;
    remaining.set(functionName, left - 1);
    throw new InjectedActivityFault(functionName);
  };
}
