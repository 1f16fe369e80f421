// The worker's redaction boundary (src/config/redact.ts does the masking): every activity's result and failure, and
// every line the worker logs, pass through redact() before they reach a history or a log.
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import { redact, redactDeep, redactError } from '../config/redact';

const inbound: ActivityInboundCallsInterceptor = {
  async execute(input, next) {
    try {
      return redactDeep(await next(input));
    } catch (err) {
      throw redactError(err);
    }
  },
};

export const redactingActivityInterceptor: ActivityInterceptorsFactory = () => ({ inbound });

export function redactingLogger(level: LogLevel): DefaultLogger {
  const base = new DefaultLogger(level);
  return new DefaultLogger(level, (entry: LogEntry) => {
    const meta = entry.meta ? redactDeep(JSON.parse(JSON.stringify(entry.meta, (_k, v) => (typeof v === 'bigint' ? String(v) : v))) as typeof entry.meta) : undefined;
    base.log(entry.level, redact(entry.message), meta);
  });
}
