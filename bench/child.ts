/**
 * Runs one contender of one case in a fresh process (`node --expose-gc --import tsx`), so
 * heap, JIT and garbage of one contender never carry over to another, and prints its figures
 * as one JSON line for the parent (bench/isolated.ts). With `--on-go` it says `ready` once
 * loaded and measures when the parent closes its stdin.
 */
import { once } from 'node:events';
import type { Contenders } from './isolated.js';

const [moduleUrl, name, onGo] = process.argv.slice(2);
if (moduleUrl === undefined || name === undefined) {
  throw new Error('usage: child.ts <case module url> <contender name> [--on-go]');
}
const { contenders } = (await import(moduleUrl)) as { contenders: Contenders };
const contender = contenders[name];
if (contender === undefined)
  throw new Error(`no contender ${JSON.stringify(name)} in ${moduleUrl}`);
if (onGo === '--on-go') {
  // Loaded: the parent starts every contender of the round at once (see `interleaved`).
  process.stdout.write('ready\n');
  await once(process.stdin.resume(), 'end');
}
const figures = await contender();
process.stdout.write(`${JSON.stringify(figures)}\n`);
process.exit(0);
