/**
 * The Node.js flags service/run starts vbat with on a GX device, read from the script itself so
 * the benchmark and the ARM run use exactly what a device runs. service/run picks its GC flag by
 * Node's major version (`if [ "$major" -ge N ]; then GC_FLAGS=A; else GC_FLAGS=B; fi`); this
 * resolves `$GC_FLAGS` the same way for `major`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export function serviceNodeFlags(major: number, script = readFileSync(join(repoRoot, 'service', 'run'), 'utf8')): string[] {
  const exec = /^\s*exec\s+"\$NODE"\s+(.*?)\s*"\$DIR\/vbat\.js"/m.exec(script);
  if (!exec?.[1]) throw new Error('service/run: no `exec "$NODE" <flags> "$DIR/vbat.js"` line');
  const pick = /^\s*if \[ "\$major" -ge (\d+) \]; then GC_FLAGS=(\S*); else GC_FLAGS=(\S*); fi\s*$/m.exec(script);
  return exec[1].split(/\s+/).flatMap((word) => {
    if (word === '$GC_FLAGS') {
      if (!pick) throw new Error('service/run uses $GC_FLAGS but does not set it by Node version');
      return [major >= Number(pick[1]) ? pick[2]! : pick[3]!].filter(Boolean);
    }
    if (!word.startsWith('--')) throw new Error(`service/run: unexpected word ${word} among the node flags`);
    return [word];
  });
}
