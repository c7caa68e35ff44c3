/** Error types of the D-Bus service layer; callers branch on them with instanceof. */

/** RequestName answered EXISTS: someone else already owns the service name. */
export class NameTakenError extends Error {
  override readonly name = 'NameTakenError';

  constructor(
    readonly serviceName: string,
    /** Unique name (':1.7') of the current owner, or undefined if it left meanwhile. */
    readonly owner: string | undefined,
  ) {
    super(
      `D-Bus name ${serviceName} is already owned by ${owner ?? 'another connection'}; ` +
        'is another instance already publishing this battery?',
    );
  }
}

/** The item list or options cannot make a valid service; lists every problem found. */
export class ServiceConfigError extends Error {
  override readonly name = 'ServiceConfigError';

  constructor(
    readonly serviceName: string,
    readonly problems: readonly string[],
  ) {
    super(`cannot start D-Bus service ${serviceName}:\n  ${problems.join('\n  ')}`);
  }
}
