import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InstanceStore, type InstanceRecord } from '../../../dev/runtime/instanceStore';

function record(instanceId: string, step: number): InstanceRecord {
  return {
    instanceId,
    name: 'Orchestrator',
    executionId: 'e1',
    input: { step },
    runtimeStatus: 'Running',
    customStatus: null,
    output: null,
    createdTime: '2026-01-01T00:00:00.000Z',
    lastUpdatedTime: '2026-01-01T00:00:00.000Z',
    history: [],
    pending: [],
    nextSequence: step,
    actions: [],
    work: [],
  };
}

describe('InstanceStore (append-only log per instance)', () => {
  let dataDir: string;
  const logOf = (id: string) => path.join(dataDir, 'durable', 'instances', `${id}.jsonl`);
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'instance-store-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('Given several saves, When loaded by a new store, Then the last save is the record and the log is rewritten as that one line', () => {
    const store = new InstanceStore(dataDir);
    for (let step = 1; step <= 3; step++) store.save(record('a', step));
    expect(fs.readFileSync(logOf('a'), 'utf8').trim().split('\n')).toHaveLength(3);
    const loaded = new InstanceStore(dataDir).loadAll();
    expect(loaded.map((r) => [r.instanceId, r.nextSequence])).toEqual([['a', 3]]);
    expect(fs.readFileSync(logOf('a'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('Given a save cut short by a crash, When loaded, Then the save before it counts, and later saves are read back whole', () => {
    new InstanceStore(dataDir).save(record('a', 1));
    fs.appendFileSync(logOf('a'), JSON.stringify(record('a', 2)).slice(0, 40));
    const restarted = new InstanceStore(dataDir);
    expect(restarted.loadAll().map((r) => r.nextSequence)).toEqual([1]);
    restarted.save(record('a', 3));
    expect(new InstanceStore(dataDir).loadAll().map((r) => r.nextSequence)).toEqual([3]);
  });

  it('Given only a partial first save, When loaded, Then there is no such instance and its log is gone', () => {
    fs.mkdirSync(path.dirname(logOf('b')), { recursive: true });
    fs.writeFileSync(logOf('b'), '{"instanceId":"b","na');
    expect(new InstanceStore(dataDir).loadAll()).toEqual([]);
    expect(fs.existsSync(logOf('b'))).toBe(false);
  });

  it('Given a log past the compaction size, When saved again, Then the log is replaced by the last record and nothing is lost', () => {
    const line = Buffer.byteLength(`${JSON.stringify(record('c', 10))}\n`);
    const store = new InstanceStore(dataDir, line * 3);
    for (let step = 10; step < 30; step++) store.save(record('c', step));
    expect(fs.statSync(logOf('c')).size).toBeLessThanOrEqual(line * 3);
    expect(new InstanceStore(dataDir).loadAll().map((r) => r.nextSequence)).toEqual([29]);
  });

  it('Given a deleted instance, When loaded, Then it is not there', () => {
    const store = new InstanceStore(dataDir);
    store.save(record('d', 1));
    store.save(record('e', 1));
    store.delete('d');
    expect(new InstanceStore(dataDir).loadAll().map((r) => r.instanceId)).toEqual(['e']);
  });
});
