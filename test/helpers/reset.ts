// Test set-up: put a dev host's database back to the bootstrap state (baseline schema + demo data), so a suite
// that applies destructive or irreversible migrations starts from the same ground every run.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { bootstrapHost } from '../../src/dev/bootstrap';
import { devLayout, devPorts, type DevEnvironment } from '../../src/dev/paths';
import { ensureDatabase, HOST_DATABASES, pgUrl, superuserPasswordFile } from '../../src/dev/postgres';
import { ensureSecretFile } from '../../src/dev/secrets';

export async function resetHostDatabase(env: DevEnvironment): Promise<void> {
  const layout = devLayout();
  const ports = devPorts();
  const db = HOST_DATABASES[env];
  const c = new Client({ connectionString: pgUrl('postgres', ensureSecretFile(superuserPasswordFile(layout)), ports.postgres, 'postgres') });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
  await ensureDatabase(layout, ports, db, db);
  rmSync(path.join(layout.host(env).sharedDir, '.bootstrapped'), { force: true });
  bootstrapHost(layout, env, 'python3', () => undefined);
}
