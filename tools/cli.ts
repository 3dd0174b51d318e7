/**
 * Command lines of the scripts (`npm start`, `npm run token`, `npm run bench`, `npm run openapi`, `npm run import`): node:util's
 * parseArgs in strict mode, so an unknown option, a missing value or a value given to a flag is
 * refused with parseArgs' own message, which names the option, followed by the command's usage.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A command line that cannot run as given. `message` names the problem; `usage` is the command's help. */
export class UsageError extends Error {
  readonly usage: string;
  constructor(message: string, usage: string) {
    super(message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

/** parseArgs({ ...config, strict: true }), with any refusal as a UsageError carrying `usage`. */
export function parseCommandLine<const T extends ParseArgsConfig & { strict: true }>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError((err as Error).message, usage);
  }
}

/** What a script's entry does with an error: a UsageError prints its usage and exits 2, anything else its message and 1. */
export function exitOnError(err: unknown): never {
  if (err instanceof UsageError) {
    console.error(`${err.message}\n\n${err.usage}`);
    process.exit(2);
  }
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}

/** A script's entry: runs `main` on the command line's arguments, its number the exit code, its errors as exitOnError says. */
export function runCommand(main: (argv: string[]) => number): void {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    exitOnError(err);
  }
}
