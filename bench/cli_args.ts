/** `deno task bench [scenario ...] [--runs N] [--quick]`: which scenarios, how often, how long. */

export interface BenchArgs {
  /** The scenarios named, in the order named, each once; all of `known` when none is. */
  wanted: Set<string>;
  runs: number;
  quick: boolean;
}

/** Parses the command line against the scenarios' names; throws on anything else. */
export function parseBenchArgs(args: string[], known: readonly string[]): BenchArgs {
  let runs = 3;
  let quick = false;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--quick") quick = true;
    else if (a === "--runs") runs = Number(args[++i]);
    else if (a.startsWith("--runs=")) runs = Number(a.slice("--runs=".length));
    else if (known.includes(a)) names.push(a);
    else {
      throw new Error(
        `unknown argument '${a}': expected scenarios (${known.join(", ")}), --runs N, --quick`,
      );
    }
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer`);
  return { wanted: new Set(names.length ? names : known), runs, quick };
}
