/**
 * One error type for problems a user can fix in a file: it carries where (file, line, column)
 * and a plain reason, and prints as `file:line:column: reason` like a compiler.
 */
export interface Problem {
  file: string;
  line?: number;
  column?: number;
  /** What the problem is about, e.g. the mapping path or config key. */
  where?: string;
  reason: string;
}

export function formatProblem(p: Problem): string {
  const loc = [p.file, p.line, p.line !== undefined ? p.column : undefined].filter((x) => x !== undefined).join(':');
  return `${loc}: ${p.where ? `${p.where}: ` : ''}${p.reason}`;
}

/** Thrown when a file (mapping, config) is refused; holds every problem found, not just the first. */
export class FileProblemsError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'FileProblemsError';
  }
}

/** A usage error on the command line: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
