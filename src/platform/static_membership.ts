/**
 * The consumers' group session, in a module of its own: what waits on it (the projection's
 * rebuild, the fault tables) need not load the Kafka client to read it.
 */

/**
 * A static member's session (docs/decisions.md). It stays in the group while it restarts, so
 * its partitions pause for the restart only (a worker process is back in 2-3 s) and come back to
 * it without a rebalance; one that never comes back holds them until this expires, like a killed
 * dynamic member. 10 s, the dynamic members' value: several restarts' worth, and what the fault
 * tables' deadlines were set against. The broker allows 6 s to 30 min.
 */
export const STATIC_SESSION_TIMEOUT_MS = 10_000;
