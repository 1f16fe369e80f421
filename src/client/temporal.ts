// The Temporal client factory shared by every CLI verb.
import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../config/schema';
import { connectTemporal, TemporalConnectionError } from '../temporal/connection';
import { CliError } from './errors';

/** Connects with the config's TLS, API key and payload codec (src/temporal/connection.ts); errors name the field. */
export async function connectClient(config: StewardConfig): Promise<Client> {
  try {
    return await connectTemporal(config, { connectTimeout: '5s' });
  } catch (err) {
    if (err instanceof TemporalConnectionError) throw new CliError(err.message);
    throw err;
  }
}

export { CliError } from './errors';
