/** Runs the vbat command line as a user would (a child process), with a time limit. */
import { basename, join } from 'node:path';
import { repoRoot } from './paths.js';
import { Proc, type ProcOptions } from './process.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const CLI_ENTRY = join(repoRoot, 'src', 'cli', 'main.ts');

/** Runs a command to its end (bounded), capturing its output; SIGKILLed and rejected when it overruns. */
export async function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  const p = Proc.spawn(basename(cmd), cmd, args, { cwd: opts.cwd ?? repoRoot, env: opts.env ?? process.env });
  const timeoutMs = opts.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(r, timeoutMs, 'late')));
  const code = await Promise.race([p.exited, late]).finally(() => clearTimeout(timer));
  if (code === 'late') {
    await p.stop('SIGKILL');
    throw new Error(`${cmd} ${args.join(' ')} did not finish in time\n${p.out}\n${p.err}`);
  }
  if (p.error) throw p.error;
  return { code, stdout: p.out, stderr: p.err };
}

/** `vbat ARGS` from the source tree, run to its end. */
export function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return runCommand(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    timeoutMs: opts.timeoutMs,
    env: { ...process.env, ...opts.env },
  });
}

/** `vbat ARGS` from the source tree as a long-running process (`vbat run`, `vbat demo`, `vbat watch`). */
export function spawnCli(args: string[], opts: Omit<ProcOptions, 'cwd'> = {}): Proc {
  return Proc.spawn(`vbat ${args[0] ?? ''}`.trim(), process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    ...opts,
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
  });
}
