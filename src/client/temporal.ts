// The Temporal client factory shared by every CLI verb.
import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../config/schema';
import { connectTemporal, TemporalConnectionError } from '../temporal/connection';

/** Connects with the config's TLS, API key and payload codec (src/temporal/connection.ts); errors name the field. */
export async function connectClient(config: StewardConfig): Promise<Client> {
  try {
    return await connectTemporal(config, { connectTimeout: '5s' });
  } catch (err) {
    if (err instanceof TemporalConnectionError) throw new CliError(err.message);
    throw err;
  }
}

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
