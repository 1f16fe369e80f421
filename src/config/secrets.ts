// Secret *references*. A config file never holds a key or a password: it says where one is
// ({ file: PATH } or { env: NAME }). Only activities resolve a reference, so the secret itself never
// enters a workflow input, result or history.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { registerSecretValue } from './redact';

export const secretRefSchema = z.union([
  z.strictObject({ file: z.string().min(1, 'give the path of the file that holds the secret') }),
  z.strictObject({
    env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name in capitals, e.g. STEWARD_AUDIT_DATABASE_URL'),
  }),
]);
export type SecretRef = z.infer<typeof secretRefSchema>;

/** A resolved secret. It prints as [redacted] everywhere: logs, JSON, util.inspect, template strings. */
export class Secret {
  readonly #value: string;
  constructor(value: string, readonly source: string) {
    this.#value = value;
    // Once known, the value is masked wherever redact() runs (command output, failures, audit details, logs).
    registerSecretValue(value);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${this.source})`;
  }
}

export class SecretResolutionError extends Error {
  override name = 'SecretResolutionError';
}

export function describeSecretRef(ref: SecretRef): string {
  return 'file' in ref ? `file ${ref.file}` : `environment variable ${ref.env}`;
}

export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): Secret {
  if ('file' in ref) {
    let text: string;
    try {
      text = readFileSync(ref.file, 'utf8');
    } catch (err) {
      throw new SecretResolutionError(
        `cannot read the secret file ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; ` +
          'check the path in steward.config.yaml and that the worker may read it',
      );
    }
    // A trailing newline is an editor's, not the secret's; private keys keep their inner newlines.
    return new Secret(text.replace(/\r?\n$/, ''), `file ${ref.file}`);
  }
  const value = env[ref.env];
  if (value === undefined || value === '') {
    throw new SecretResolutionError(`the environment variable ${ref.env} is not set; set it for the worker`);
  }
  return new Secret(value, `env ${ref.env}`);
}
