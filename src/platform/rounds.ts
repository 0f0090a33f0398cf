/**
 * A background job in rounds: `round` now, then again `intervalMs` after each round ends (never
 * two at once, however long one takes). `round` handles its own failures.
 */
export interface Rounds {
  /** The first round: a caller that needs values before serving awaits it. */
  readonly firstRound: Promise<void>;
  /** Stops scheduling rounds; one in flight finishes on its own. */
  stop(): void;
}

export function everyRound(round: () => Promise<void>, intervalMs: number): Rounds {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const loop = async () => {
    await round();
    if (!stopped) timer = setTimeout(loop, intervalMs);
  };
  return {
    firstRound: loop(),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
