// What the hostile-input, secrets and tamper tests tried and what got through, for the reliability summary table.
// A test counts while it runs, records the counts here, then asserts on them: the table shows what was measured,
// and a non-zero "got through" also fails the test. Recording is off unless STEWARD_REL_RECORD names a file.
import { appendFileSync } from 'node:fs';

export type OutcomeKind = 'input' | 'secrets' | 'tamper';

export interface Outcome {
  kind: OutcomeKind;
  /** What was tried, in a few words: "hostile values through the CLI". */
  check: string;
  /** Cases tried: inputs sent, histories and logs scanned, tamperings made. */
  tried: number;
  /** What got through: inputs accepted, secrets found, tamperings not detected. */
  through: number;
  /** Which cases got through, for the report (at most a few). */
  examples?: string[];
}

export function recordOutcome(outcome: Outcome): void {
  const file = process.env.STEWARD_REL_RECORD;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ ...outcome, examples: outcome.examples?.slice(0, 5) })}\n`);
}

/** Counts cases and what got through, then records them under one check. */
export class Tally {
  tried = 0;
  readonly through: string[] = [];
  constructor(
    readonly kind: OutcomeKind,
    readonly check: string,
  ) {}

  /** One case: `gotThrough` true when the input was accepted, the secret found, the tampering missed. */
  count(gotThrough: boolean, label: string): boolean {
    this.tried++;
    if (gotThrough) this.through.push(label);
    return gotThrough;
  }

  record(): void {
    recordOutcome({ kind: this.kind, check: this.check, tried: this.tried, through: this.through.length, examples: this.through });
  }
}
