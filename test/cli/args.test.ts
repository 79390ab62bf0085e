import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { integerFlag } from '../../src/cli/args.js';
import { serve } from '../../src/cli/serve.js';
import { parseServeConfig } from '../../src/cli/serve-config.js';
import { LogLines } from './gateway-harness.js';

describe('integer flags', () => {
  it.each(['0x10', '1e3', '0b1', '0o7', '+5', '5.0', '1_000', ' ', 'Infinity', '--3', ' 5', '5\n'])(
    'refuses %j: only decimal digits are an integer',
    (text) => {
      expect(() => integerFlag('--max-sessions', text, 1)).toThrow(
        `--max-sessions: must be an integer >= 1, got ${JSON.stringify(text)}`,
      );
    },
  );

  it('takes decimal digits, and names the range of a value outside it', () => {
    expect(integerFlag('--port', '8080', 0, 65_535)).toBe(8080);
    expect(integerFlag('--port', '007', 0, 65_535)).toBe(7);
    expect(() => integerFlag('--port', '-1', 0, 65_535)).toThrow(/from 0 to 65535, got "-1"/);
    // Above the largest it takes, not ">= 1", which the value is.
    expect(() => integerFlag('--n', '9007199254740993', 1)).toThrow(
      '--n: must be an integer from 1 to 9007199254740991, got "9007199254740993"',
    );
  });

  it('applies to environment variables as to flags, naming the variable the value came from', () => {
    expect(() => parseServeConfig([], { MAX_CONCURRENT_SESSIONS: '0x10' })).toThrow(
      /^MAX_CONCURRENT_SESSIONS: must be an integer >= 1, got "0x10"/,
    );
    // The flag wins, and is named, when both are set.
    expect(() =>
      parseServeConfig(['--max-sessions', '0'], { MAX_CONCURRENT_SESSIONS: '0x10' }),
    ).toThrow(/^--max-sessions: must be an integer >= 1, got "0"/);
    expect(() => parseServeConfig([], { SETUP_PER_SECOND: '0' })).toThrow(
      /^SETUP_PER_SECOND: must be a decimal number/,
    );
    // As written: a space is no digit, in a variable as in a flag.
    expect(() => parseServeConfig([], { MAX_CONCURRENT_SESSIONS: ' 5' })).toThrow(
      'MAX_CONCURRENT_SESSIONS: must be an integer >= 1, got " 5"',
    );
    expect(() => parseServeConfig([], { SETUP_PER_SECOND: '0.5 ' })).toThrow(
      'SETUP_PER_SECOND: must be a decimal number >= 0.001, got "0.5 "',
    );
    expect(() => parseServeConfig([], { HOST: ' ' })).toThrow(/^HOST: must be an IP address/);
  });
});

describe('a flag given twice', () => {
  it.each([
    [['--tenant-caps', 'acme=1', '--tenant-caps', 'globex=2'], '--tenant-caps'],
    [['--port', '8080', '--port=9090'], '--port'],
    [['--metrics', '--metrics'], '--metrics'],
  ])('refuses %j rather than keep the last value alone', (argv, flag) => {
    expect(() => parseServeConfig(argv, {})).toThrow(
      `${flag} is given twice: give it once (only the last would count)`,
    );
  });
});

describe('serve settings from the environment', () => {
  it('takes an empty variable as unset, as a templated deployment leaves it', () => {
    const config = parseServeConfig([], {
      REDIS_URL: '',
      PORT: '',
      HOST: '',
      MAX_CONCURRENT_SESSIONS: '',
      LOG_LEVEL: '',
      AUTH_TOKENS_FILE: '',
    });
    expect(config).toMatchObject({
      redisUrl: undefined,
      port: 8080,
      host: '127.0.0.1',
      maxSessions: 100,
      logLevel: 'info',
      tokens: undefined,
    });
  });

  it('reads an empty LIVEKIT_AGENT_NAME as no agent name', () => {
    const config = parseServeConfig([], {
      LIVEKIT_URL: 'ws://127.0.0.1:7880',
      LIVEKIT_API_KEY: 'key',
      LIVEKIT_API_SECRET: 'a-secret-of-enough-length-0123456789',
      LIVEKIT_AGENT_NAME: '',
    });
    expect(config.livekit?.agentName).toBeUndefined();
  });

  it('reads METRICS in any case, and refuses a value it does not know rather than ignore it', () => {
    expect(parseServeConfig([], { METRICS: 'TRUE' }).metrics).toEqual({ port: undefined });
    expect(parseServeConfig([], { METRICS: 'yes' }).metrics).toEqual({ port: undefined });
    expect(parseServeConfig([], { METRICS: 'off' }).metrics).toBeUndefined();
    expect(() => parseServeConfig([], { METRICS: 'enabled' })).toThrow(
      'METRICS: must be 1, true, on or yes (or 0, false, off, no), got "enabled"',
    );
  });

  it('refuses metrics switched off by METRICS with a metrics port set, rather than let the port switch them on', () => {
    for (const off of ['0', 'false', 'off', 'no']) {
      expect(() => parseServeConfig([], { METRICS: off, METRICS_PORT: '9464' })).toThrow(
        `METRICS: is ${JSON.stringify(off)} (metrics off) but --metrics-port / METRICS_PORT is set: unset one of them`,
      );
      expect(() => parseServeConfig(['--metrics-port', '9464'], { METRICS: off })).toThrow(
        /^METRICS: is .* \(metrics off\) but --metrics-port/,
      );
    }
    // The flag wins over its variable, as for every setting; an empty METRICS is unset.
    expect(parseServeConfig(['--metrics'], { METRICS: '0', METRICS_PORT: '9464' }).metrics).toEqual(
      { port: 9464 },
    );
    expect(parseServeConfig([], { METRICS: '', METRICS_PORT: '9464' }).metrics).toEqual({
      port: 9464,
    });
  });

  it('refuses a metrics port that is the gateway port, which could only fail to listen', () => {
    expect(() => parseServeConfig(['--port', '9464', '--metrics-port', '9464'], {})).toThrow(
      "--metrics-port: is the gateway's port (--port 9464): leave it unset to serve /metrics there",
    );
    expect(() => parseServeConfig([], { METRICS_PORT: '8080' })).toThrow(
      "METRICS_PORT: is the gateway's port (--port 8080)",
    );
    // Port 0 is any free port, a different one each time.
    expect(parseServeConfig(['--port', '0', '--metrics-port', '0'], {}).metrics).toEqual({
      port: 0,
    });
  });

  it('names --auth-tokens-file when the file came from the flag', () => {
    expect(() => parseServeConfig(['--auth-tokens-file', '/nonexistent/tokens.json'], {})).toThrow(
      '--auth-tokens-file: cannot read "/nonexistent/tokens.json" (ENOENT)',
    );
    expect(() =>
      parseServeConfig(['--auth-tokens-file', '/nonexistent/tokens.json'], {
        AUTH_TOKENS: '{}',
      }),
    ).toThrow('AUTH_TOKENS: and --auth-tokens-file cannot both be set');
    expect(() => parseServeConfig([], { AUTH_TOKENS_FILE: '/nonexistent/tokens.json' })).toThrow(
      'AUTH_TOKENS_FILE: cannot read',
    );
  });

  it('reads a tokens file saved with a byte order mark, as editors on Windows save it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokens-'));
    const file = join(dir, 'tokens.json');
    writeFileSync(file, '\uFEFF{"acme-token-0123456789": "acme"}\r\n');
    try {
      const { tokens } = parseServeConfig(['--host', '0.0.0.0'], { AUTH_TOKENS_FILE: file });
      expect(tokens?.authenticate('Bearer acme-token-0123456789')).toEqual({ scope: 'acme' });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('reads LOG_LEVEL and --log-level in any case, as METRICS is', () => {
    expect(parseServeConfig([], { LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(parseServeConfig(['--log-level', 'Warn'], {}).logLevel).toBe('warn');
    expect(() => parseServeConfig([], { LOG_LEVEL: 'LOUD' })).toThrow(
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "LOUD"',
    );
  });

  it('refuses durations longer than a timer can wait, by flag, before the gateway starts', () => {
    for (const flag of ['--drain-timeout-ms', '--queue-timeout-ms', '--sim-session-ms']) {
      expect(() => parseServeConfig([flag, '2147483648'], {})).toThrow(
        `${flag}: must be an integer from ${flag === '--queue-timeout-ms' ? 1 : 0} to 2147483647, got "2147483648"`,
      );
    }
  });

  it('still refuses an empty flag value by name', () => {
    expect(() => parseServeConfig(['--port', ''], {})).toThrow(/--port: must be an integer/);
    for (const host of ['', ' ']) {
      expect(() => parseServeConfig(['--host', host], {})).toThrow(
        `--host: must be an IP address or a host name, got ${JSON.stringify(host)}`,
      );
    }
  });
});

describe('settings that would have no effect', () => {
  it.each([
    [['--slo-percentile', '90'], {}, '--slo-percentile: has no effect without --slo-target-ms'],
    [[], { SLO_WINDOW_MS: '5000' }, 'SLO_WINDOW_MS: has no effect without --slo-target-ms'],
    [['--slo-initial', '200'], {}, '--slo-initial: has no effect without --slo-target-ms'],
    [['--redis-name', 'prod'], {}, '--redis-name: has no effect without --redis-url'],
    [[], { METRICS_TENANTS: 'acme' }, 'METRICS_TENANTS: has no effect without --metrics'],
    [
      ['--sim-session-ms', '2000'],
      {
        LIVEKIT_URL: 'ws://127.0.0.1:7880',
        LIVEKIT_API_KEY: 'key',
        LIVEKIT_API_SECRET: 'a-secret-of-enough-length-0123456789',
      },
      '--sim-session-ms: has no effect with LiveKit',
    ],
    [[], { LIVEKIT_AGENT_NAME: 'agent' }, 'LIVEKIT_AGENT_NAME: has no effect without LIVEKIT_URL'],
  ])('refuses %j %j rather than ignore it', (args, env, message) => {
    expect(() => parseServeConfig(args, env)).toThrow(message);
  });

  it('takes them with what they apply to, and empty variables as unset', () => {
    const config = parseServeConfig(
      ['--slo-target-ms', '800', '--slo-percentile', '90', '--metrics-tenants', 'acme'],
      { METRICS: '1', REDIS_URL: 'redis://127.0.0.1:6379', REDIS_NAME: 'prod' },
    );
    expect(config).toMatchObject({
      slo: { quantile: 0.9 },
      metricsTenants: ['acme'],
      redisName: 'prod',
    });
    expect(() =>
      parseServeConfig([], { SLO_PERCENTILE: '', REDIS_NAME: '', LIVEKIT_AGENT_NAME: '' }),
    ).not.toThrow();
  });
});

describe('--redis-url', () => {
  it('refuses a URL it cannot use without quoting its query, where ioredis takes a password', () => {
    const url = 'reddis://cache:6379/0?password=pa55word-x';
    expect(() => parseServeConfig([], { REDIS_URL: url })).toThrow(
      'REDIS_URL: must be a redis:// or rediss:// URL, got "reddis://cache:6379/0?[redacted]"',
    );
  });

  it('refuses an address ioredis would read as a Unix socket path, or with a database that is no number', () => {
    for (const url of ['cache:6379/2', 'redis:/cache:6379', 'redis://cache/db1', 'rediss://c/-1']) {
      expect(() => parseServeConfig([], { REDIS_URL: url })).toThrow(
        `REDIS_URL: must be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`,
      );
    }
    expect(() => parseServeConfig([], { REDIS_URL: '/run/redis.sock?db=one' })).toThrow(
      'REDIS_URL: must be a redis:// or rediss:// URL, got "/run/redis.sock?[redacted]"',
    );
    const taken = ['cache:6379', '//cache:6379/2', '/run/redis.sock?db=1', 'redis://cache/2?db=3'];
    for (const url of taken) {
      expect(parseServeConfig([], { REDIS_URL: url }).redisUrl).toBe(url);
    }
  });
});

describe('--redis-name', () => {
  const redis = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it.each(['prod voice', 'bad{name}', 'é', 'n'.repeat(101), ''])(
    'refuses %j by flag or variable before the gateway starts, as the store would',
    (name) => {
      const rule = 'must be 1-100 characters of A-Z a-z 0-9 . _ : -';
      expect(() => parseServeConfig(['--redis-name', name], redis)).toThrow(
        `--redis-name: ${rule}, got ${JSON.stringify(name)}`,
      );
      // An empty variable is unset: the default name.
      if (name === '') return;
      expect(() => parseServeConfig([], { ...redis, REDIS_NAME: name })).toThrow(
        `REDIS_NAME: ${rule}, got ${JSON.stringify(name)}`,
      );
    },
  );

  it('takes the characters a limiter name may have', () => {
    const name = 'prod-voice_1.eu:west';
    expect(parseServeConfig([], { ...redis, REDIS_NAME: name }).redisName).toBe(name);
  });
});

describe('--tenant-caps', () => {
  it('takes any tenant id, __proto__ and constructor included, and 0 for a tenant that may hold none', () => {
    const config = parseServeConfig(['--tenant-caps', '__proto__=5,constructor=0,acme=2'], {});
    expect([...config.tenantCaps]).toEqual([
      ['__proto__', 5],
      ['constructor', 0],
      ['acme', 2],
    ]);
    expect([...parseServeConfig([], { TENANT_CAPS: 'toString=1' }).tenantCaps]).toEqual([
      ['toString', 1],
    ]);
  });

  it('hands those caps to admission as they were given', async () => {
    const running = await serve(
      parseServeConfig(['--port', '0', '--tenant-caps', '__proto__=1,blocked=0'], {}),
      { version: 'test', logStream: new LogLines() },
    );
    try {
      expect(running.admission.tenantLimit('__proto__')).toBe(1);
      expect(running.admission.tenantLimit('blocked')).toBe(0);
      expect(running.admission.tenantLimit('other')).toBe(Number.POSITIVE_INFINITY);
    } finally {
      await running.close();
    }
  });

  it.each([
    ['acme=5=6', '--tenant-caps: expects tenant=cap (one "=" per entry), got "acme=5=6"'],
    ['acme', '--tenant-caps: expects tenant=cap (one "=" per entry), got "acme"'],
    ['=5', '--tenant-caps: expects tenant=cap (one "=" per entry), got "=5"'],
    ['acme=5,globex=1,acme=6', '--tenant-caps: names tenant "acme" twice'],
    ['acme=-1', '--tenant-caps acme: must be an integer >= 0, got "-1"'],
    ['acme=', '--tenant-caps acme: must be an integer >= 0, got ""'],
    ['a\u0001b=1', '--tenant-caps: tenant ids must be 1-128 printable characters'],
    [`${'t'.repeat(129)}=1`, '--tenant-caps: tenant ids must be 1-128 printable characters'],
    ['acme=1,,globex=2', '--tenant-caps: has an empty entry (a comma too many)'],
    ['acme=1,', '--tenant-caps: has an empty entry (a comma too many)'],
    [',acme=1', '--tenant-caps: has an empty entry (a comma too many)'],
  ])('refuses %j with an error naming the entry', (text, message) => {
    expect(() => parseServeConfig(['--tenant-caps', text], {})).toThrow(message);
    expect(() => parseServeConfig([], { TENANT_CAPS: text })).toThrow(
      message.replace('--tenant-caps', 'TENANT_CAPS'),
    );
  });
});

describe('tenant ids in settings', () => {
  const longest = '\u{1F600}'.repeat(128); // 128 characters, 256 UTF-16 code units

  it('takes 128 characters wherever a tenant is named, as the API does', () => {
    const config = parseServeConfig(['--metrics', '--tenant-caps', `${longest}=1`], {
      METRICS_TENANTS: `${longest}, acme`,
      AUTH_TOKENS: JSON.stringify({ 'acme-token-0123456789': longest }),
    });
    expect([...config.tenantCaps.keys()]).toEqual([longest]);
    expect(config.metricsTenants).toEqual([longest, 'acme']);
    expect(config.tokens?.tenants).toEqual([longest]);
  });

  it.each([
    [`${'t'.repeat(129)}`, 'METRICS_TENANTS: tenant ids must be 1-128 printable characters'],
    ['acme,\u001b[31m', 'METRICS_TENANTS: tenant ids must be 1-128 printable characters'],
    ['acme,,globex', 'METRICS_TENANTS: has an empty entry (a comma too many)'],
    ['acme,', 'METRICS_TENANTS: has an empty entry (a comma too many)'],
  ])('refuses METRICS_TENANTS %j, naming it', (text, message) => {
    expect(() => parseServeConfig(['--metrics'], { METRICS_TENANTS: text })).toThrow(message);
  });

  it('refuses a token for a tenant id over 128 characters, naming its entry', () => {
    const tokens = JSON.stringify({ 'acme-token-0123456789': `${longest}x` });
    expect(() => parseServeConfig([], { AUTH_TOKENS: tokens })).toThrow(
      'AUTH_TOKENS entry 1: tenant must be "*" or a tenant id (1-128 printable characters)',
    );
  });
});

describe('--setup-per-second', () => {
  it.each([
    ['0.5', 0.5],
    ['.25', 0.25],
    ['2', 2],
    ['2.', 2],
    ['0.001', 0.001],
  ])('takes the rate %j, as setup.perSecond does', (text, rate) => {
    expect(parseServeConfig(['--setup-per-second', text], {}).setupPerSecond).toBe(rate);
    expect(parseServeConfig([], { SETUP_PER_SECOND: text }).setupPerSecond).toBe(rate);
  });

  it.each(['0', '0.0009', '-1', '1e3', '0x10', 'Infinity', 'NaN', '1.2.3', '', '1,5', ' 0.5'])(
    'refuses %j, naming the flag and the bound',
    (text) => {
      expect(() => parseServeConfig(['--setup-per-second', text], {})).toThrow(
        `--setup-per-second: must be a decimal number >= 0.001, got ${JSON.stringify(text)}`,
      );
    },
  );

  it('starts a gateway whose admission spaces setups at that rate', async () => {
    const running = await serve(
      parseServeConfig(['--port', '0', '--setup-per-second', '2.5'], {}),
      {
        version: 'test',
        logStream: new LogLines(),
      },
    );
    try {
      const started = performance.now();
      const sessions = await Promise.all(
        ['a', 'b', 'c'].map((userId) => running.admission.createSession({ userId })),
      );
      // Three starts 400 ms apart: the third no sooner than 800 ms after the first.
      expect(performance.now() - started).toBeGreaterThanOrEqual(790);
      await Promise.all(sessions.map((session) => session.close()));
    } finally {
      await running.close();
    }
  });
});
