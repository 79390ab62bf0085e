import { parseArgs } from 'node:util';
import { ConfigError } from '../iface/errors.js';
import { isTenantId, TENANT_ID_RULE } from '../internal/tenant-id.js';
import { messageOf } from '../internal/thrown.js';
import { describeValue } from '../internal/validate.js';

/** A command line the CLI refuses: one line of message, then the command's usage; exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Parses `--flag value` options (all strings, plus the boolean `switches`). A value that
 * starts with a dash (`--max-sessions -1`) is taken as the value, so it reaches validation
 * and gets a message about the value rather than about the syntax. A flag given twice is
 * refused: only its last value would count (`--tenant-caps a=1 --tenant-caps b=2` would drop
 * `a`'s cap).
 */
export function parseFlags(
  argv: readonly string[],
  valued: readonly string[],
  switches: readonly string[] = [],
): Record<string, string | boolean | undefined> {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (valued.includes(arg.replace(/^--/, '')) && arg.startsWith('--') && next?.startsWith('-')) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries([
        ...valued.map((flag) => [flag, { type: 'string' as const }]),
        ...switches.map((flag) => [flag, { type: 'boolean' as const }]),
      ]),
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError(firstLine(error));
  }
  const flags = (parsed.tokens ?? []).flatMap((token) =>
    token.kind === 'option' ? [token.name] : [],
  );
  refuseRepeated(flags);
  return parsed.values as Record<string, string | boolean | undefined>;
}

function refuseRepeated(flags: readonly string[]): void {
  const repeated = flags.find((flag, index) => flags.indexOf(flag) !== index);
  if (repeated !== undefined) {
    throw new UsageError(`--${repeated} is given twice: give it once (only the last would count)`);
  }
}

/**
 * Decimal digits only, as written: Number() would also take "0x10", "1e3", "0b1" or
 * "Infinity", and " 5" (a space is no digit: a value with one is a slip, refused by name).
 */
const INTEGER = /^-?\d+$/;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** An integer flag value within [min, max], or undefined when absent. */
export function integerFlag(
  flag: string,
  text: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  return numberFlag(flag, text, min, max, INTEGER, 'an integer');
}

/** A decimal flag value (`0.5`, `2`) within [min, max], or undefined when absent. */
export function decimalFlag(
  flag: string,
  text: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  return numberFlag(flag, text, min, max, DECIMAL, 'a decimal number');
}

function numberFlag(
  flag: string,
  text: string | undefined,
  min: number,
  max: number,
  pattern: RegExp,
  kind: string,
): number | undefined {
  if (text === undefined) return undefined;
  const value = pattern.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) {
    // The upper bound is named when there is one, or when the value is over it.
    const range =
      max === Number.MAX_SAFE_INTEGER && !(value > max) ? `>= ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(flag, `must be ${kind} ${range}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * Comma-separated entries, spaces around the commas allowed. An empty entry (`a,,b`, `a,`) is
 * refused: it is a slip, an entry left out of a template, not nothing.
 */
export function listFlag(name: string, text: string | undefined): string[] {
  if (text === undefined) return [];
  const items = text.split(',').map((item) => item.trim());
  if (items.includes('')) {
    throw new ConfigError(
      name,
      `has an empty entry (a comma too many), got ${describeValue(text)}`,
    );
  }
  return items;
}

/** Comma-separated tenant ids, as the API takes them. */
export function tenantsFlag(name: string, text: string | undefined): string[] {
  const tenants = listFlag(name, text);
  for (const tenant of tenants) checkTenantId(name, tenant);
  return tenants;
}

export function checkTenantId(name: string, tenant: string): void {
  if (isTenantId(tenant)) return;
  throw new ConfigError(name, `tenant ids must be ${TENANT_ID_RULE}, got ${describeValue(tenant)}`);
}

function firstLine(error: unknown): string {
  const message = messageOf(error);
  return message.split('\n')[0]!;
}
