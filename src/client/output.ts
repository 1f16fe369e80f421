// How verbs talk to the terminal: human text by default, one JSON document with --json; errors to stderr.
export interface OutputOptions {
  json?: boolean;
}

export function emit(opts: OutputOptions, data: unknown, human: () => string): void {
  if (opts.json) process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else process.stdout.write(human().replace(/\n?$/, '\n'));
}

/** Progress lines go to stderr so that --json output stays one clean document on stdout. */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}
