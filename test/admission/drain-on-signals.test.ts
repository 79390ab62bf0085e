import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { type DrainResult, drainOnSignals } from '../../src/index.js';

const script = new URL('../support/children/drain-on-sigterm.ts', import.meta.url).pathname;

function start(
  drainTimeoutMs: number,
  ...flags: string[]
): {
  child: ChildProcess;
  output: () => string;
  errors: () => string;
  ready: Promise<void>;
} {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, String(drainTimeoutMs), ...flags],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const ready = new Promise<void>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) resolve();
    });
  });
  return { child, output: () => output, errors: () => errors, ready };
}

describe('drainOnSignals', () => {
  it('drains on SIGTERM: closes the open sessions at the deadline, runs onDrained, exits 0', async () => {
    const { child, output, ready } = start(100);
    await ready;
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const result = JSON.parse(output().split('\n')[1]!);
    expect(result).toMatchObject({
      timedOut: true,
      activeAtStart: 3,
      closedAtDeadline: 3,
      stillActive: 0,
    });
  });

  it('a failure after the drain is a process warning, then the exit is 1', async () => {
    const { child, errors, ready } = start(100, 'failing-close');
    await ready;
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(errors()).toContain('VoiceAdmissionDrainWarning: the server did not close');
  });

  it('reports a failure after the drain as a warning naming it, not on the console', async () => {
    const failure = new Error('the server did not close');
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    const consoleError = vi.spyOn(console, 'error');
    process.on('warning', onWarning);
    const remove = drainOnSignals(
      { drain: () => Promise.resolve({} as DrainResult) },
      {
        signals: ['SIGUSR2'],
        exit: false,
        onDrained: () => {
          throw failure;
        },
      },
    );
    try {
      process.emit('SIGUSR2');
      // The warning is emitted on a later tick.
      await new Promise(setImmediate);
      expect(warnings).toEqual([
        expect.objectContaining({ name: 'VoiceAdmissionDrainWarning', cause: failure }),
      ]);
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      remove();
      process.off('warning', onWarning);
      consoleError.mockRestore();
    }
  });

  it('a second signal during the drain exits at once with 130', async () => {
    const { child, ready } = start(60_000);
    await ready;
    child.kill('SIGTERM');
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    expect(code).toBe(130);
  });

  it.each([
    [{ timeoutMs: Number.NaN }, 'options.timeoutMs: must be a number, got NaN'], // Number(undefined env)
    [{ closeTimeoutMs: -1 }, 'options.closeTimeoutMs: must be >= 0, got -1'],
    [{ signals: ['SIGFOO'] }, 'options.signals: must be a list of signal names, got "SIGFOO"'],
    [{ signals: 'SIGTERM' }, 'options.signals: must be a list of signal names, got "SIGTERM"'],
    // No process can catch these: Node.js refuses a listener for them.
    [
      { signals: ['SIGTERM', 'SIGKILL'] },
      'options.signals: must be signals a process can catch, got "SIGKILL"',
    ],
    [
      { signals: ['SIGSTOP'] },
      'options.signals: must be signals a process can catch, got "SIGSTOP"',
    ],
    [{ onDrained: 'stop' }, 'options.onDrained: must be a function, got "stop"'],
    [{ exit: 'no' }, 'options.exit: must be a boolean, got "no"'],
  ])('refuses %j when called, not at the signal, and installs nothing', (options, message) => {
    const admission = { drain: () => Promise.reject(new Error('never called')) };
    const before = process.listenerCount('SIGTERM');
    expect(() => drainOnSignals(admission, options as never)).toThrow(message);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it.each([
    [undefined, 'admission: must be an Admission (with drain()), got undefined'],
    [{}, 'admission: must be an Admission (with drain()), got an object'],
  ])('refuses the admission %j when called, not at the signal', (admission, message) => {
    const before = process.listenerCount('SIGTERM');
    expect(() => drainOnSignals(admission as never)).toThrow(message);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
