/**
 * Runs one contender of one case in a fresh process (`node --expose-gc --import tsx`), so
 * heap, JIT and garbage of one contender never carry over to another, and prints its figures
 * as one JSON line for the parent (bench/isolated.ts).
 */
import type { Contenders } from './isolated.js';

const [moduleUrl, name] = process.argv.slice(2);
if (moduleUrl === undefined || name === undefined) {
  throw new Error('usage: child.ts <case module url> <contender name>');
}
const { contenders } = (await import(moduleUrl)) as { contenders: Contenders };
const contender = contenders[name];
if (contender === undefined)
  throw new Error(`no contender ${JSON.stringify(name)} in ${moduleUrl}`);
const figures = await contender();
process.stdout.write(`${JSON.stringify(figures)}\n`);
process.exit(0);
