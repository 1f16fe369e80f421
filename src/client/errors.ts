// The CLI's error for the person at the terminal; its own module so that a verb can name it without loading the
// Temporal client (src/client/rpc.ts).

/** An error meant for the person at the terminal: it says what went wrong and what to do. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
