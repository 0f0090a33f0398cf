/** The Hono environment of every route group: caller, request id, trace context. */
import type { RequestClock } from "./request_timeout.ts";

export interface User {
  /** The token's `sub`. */
  id: string;
  admin: boolean;
}

export type AppEnv = {
  Variables: {
    user: User;
    requestId: string;
    /** W3C traceparent of this request (accepted from the client or started here). */
    traceparent: string;
    /** The request timeout's clock (set by `requestTimeout`), to exempt a deliberate wait. */
    requestClock: RequestClock;
  };
};
