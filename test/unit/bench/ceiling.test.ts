import { exportCeiling } from '../../../bench/ceiling';

describe('exportCeiling', () => {
  it('is the slower limit when both limits together fit in the cores', () => {
    const ceiling = exportCeiling({ seconds: 1, cpuSeconds: 1 }, { seconds: 2, cpuSeconds: 1.5 }, 2);
    expect(ceiling).toEqual({ seconds: 2, boundBy: 'write limit', cpuBoundSeconds: 1.25 });
  });

  it('names the read limit when reading is the slower side', () => {
    const ceiling = exportCeiling({ seconds: 3, cpuSeconds: 2 }, { seconds: 1, cpuSeconds: 1 }, 4);
    expect(ceiling.boundBy).toBe('read limit');
    expect(ceiling.seconds).toBe(3);
  });

  it('is the CPU of both limits over the cores when that takes longer than either limit', () => {
    // 100k on two cores: the read limit used 1.2 core-seconds, the write limit 1.6.
    const ceiling = exportCeiling({ seconds: 0.93, cpuSeconds: 1.2 }, { seconds: 1.12, cpuSeconds: 1.6 }, 2);
    expect(ceiling.boundBy).toBe('cpu of both limits');
    expect(ceiling.seconds).toBeCloseTo(1.4, 10);
  });

  it('refuses a machine without cores', () => {
    expect(() => exportCeiling({ seconds: 1, cpuSeconds: 1 }, { seconds: 1, cpuSeconds: 1 }, 0)).toThrow(
      RangeError,
    );
  });
});
