// The Temporal client factory shared by every CLI verb.
import { Client, Connection } from '@temporalio/client';
import type { StewardConfig } from '../config/schema';

export async function connectClient(config: StewardConfig): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '5s' });
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${config.temporal.address}: ${(err as Error).message}. ` +
        'Start the local stack with `steward dev up`, or fix temporal.address in the config.',
    );
  }
  return new Client({ connection, namespace: config.temporal.namespace });
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
