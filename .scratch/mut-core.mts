import { execFileSync } from 'node:child_process';
import { mutate } from '/work/wt-chaos/chaos/mutant.ts';
const read = (f: string) => { try { return execFileSync('git', ['show', `money-core:${f}`], { encoding: 'utf8' }); } catch { return null; } };
console.log(mutate(read, () => {}));
