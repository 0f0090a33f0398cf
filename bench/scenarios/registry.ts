/**
 * Every scenario of `deno task bench`, in the order they run (whatever the order on the command
 * line): each is a module of this folder with its run and its report section.
 */
import type { Scenario } from "../scenario.ts";
import { relay } from "./relay.ts";
import { orders } from "./orders.ts";
import { contention } from "./contention.ts";
import { hot } from "./hot.ts";
import { api } from "./api.ts";
import { hops } from "./hops.ts";

export const SCENARIOS: readonly Scenario<unknown>[] = [relay, orders, hops, contention, hot, api];
