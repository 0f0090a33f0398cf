/**
 * A figure next to its limit: the limit measured first and the system right after, so that the
 * pair shares the machine's state of the moment (this shared 2-core machine drifts by several
 * times within an hour). Repeating the pair gives limit, system, limit, system, ... and each
 * ratio comes from one pair, never from measurements minutes apart.
 */

export interface Pair<L, S> {
  /** Missing if it failed (see `errors`); the other half is still measured. */
  limit?: L;
  system?: S;
  /** When each began (the limit first): the alternation, visible in the report. */
  limitAt: string;
  systemAt: string;
  errors: string[];
}

/**
 * Measures `limit`, then `system`; `settle` runs before each (e.g. drain the relay, so that one
 * half's backlog does not tax the other). A half that throws is recorded in `errors`, not thrown.
 */
export async function limitThenSystem<L, S>(steps: {
  settle?: () => Promise<void>;
  limit: () => Promise<L>;
  system: () => Promise<S>;
}): Promise<Pair<L, S>> {
  const errors: string[] = [];
  const failed = (err: unknown) =>
    void errors.push(err instanceof Error ? err.message : String(err));
  await steps.settle?.();
  const limitAt = new Date().toISOString();
  const limit = await steps.limit().catch(failed);
  await steps.settle?.();
  const systemAt = new Date().toISOString();
  const system = await steps.system().catch(failed);
  return {
    ...(limit === undefined ? {} : { limit }),
    ...(system === undefined ? {} : { system }),
    limitAt,
    systemAt,
    errors,
  };
}

/** system / limit to 2 decimals; NaN when either is missing. */
export function ratio(system: number | undefined, limit: number | undefined): number {
  return system !== undefined && limit !== undefined
    ? Math.round((system / limit) * 100) / 100
    : NaN;
}
