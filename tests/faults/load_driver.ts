/**
 * A steady mix of real requests against the API process, recording every accepted one in a
 * ledger: orders (some doomed to each failure reason), wallet charges (Idempotency-Key, retried
 * with the same key after a connection failure) and FCFS requests against a few coupons. Requests
 * that fail to connect (the API is down) are simply not accepted.
 */
import { issueToken } from "../../src/platform/http/auth.ts";
import { JWT_SECRET } from "../helpers/api.ts";

export interface Ledger {
  orders: string[];
  requests: string[];
  charges: number;
  refused: number;
  unreachable: number;
  /** Monotonic times of each acceptance, for the table. */
  acceptedAt: number[];
  /** Every request of the mix, accepted or not, for the stall measure (tests/faults/stall.ts). */
  attempts: Attempt[];
}

/**
 * One request of the mix; with neither `id` nor `doneAt` it was refused (4xx/5xx), unreachable
 * or timed out at the client. Times are epoch milliseconds (the database's clock is the host's).
 */
export interface Attempt {
  kind: "order" | "request" | "charge";
  /**
   * When the mix meant to send it (its slot in the open loop's schedule, not when it went out):
   * a request held back by the in-flight cap waited too.
   */
  at: number;
  /** The order or FCFS request id, once accepted: decided later, by the system. */
  id?: string;
  /** When a synchronous request (a charge) was answered 2xx: done then. */
  doneAt?: number;
}

export interface Fixture {
  userIds: string[];
  productIds: string[];
  couponIds: string[];
}

interface User {
  id: string;
  token: string;
}

export class LoadDriver {
  readonly ledger: Ledger = {
    orders: [],
    requests: [],
    charges: 0,
    refused: 0,
    unreachable: 0,
    acceptedAt: [],
    attempts: [],
  };
  readonly fixture: Fixture = { userIds: [], productIds: [], couponIds: [] };
  #running = false;
  #loop?: Promise<void>;
  #rich: User[] = [];
  #poor: User[] = [];
  #fcfs: User[] = [];
  #products = { plenty: "", scarce: "" };
  #coupons: string[] = [];
  #userCoupons: { user: User; id: string }[] = [];
  #n = 0;

  constructor(private readonly base: () => string, readonly tag: string) {}

  async #post(token: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(this.base() + path, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  }

  #user(kind: string): User {
    const id = `${this.tag}-${kind}-${this.fixture.userIds.length}`;
    this.fixture.userIds.push(id);
    return { id, token: issueToken(JWT_SECRET, id) };
  }

  /** Products, coupons, users and balances for the mix. */
  async setup(): Promise<void> {
    const admin = issueToken(JWT_SECRET, "faults-admin", { admin: true });
    const product = async (stock: number) => {
      const r = await this.#post(admin, "/products", { name: `${this.tag}-p`, price: 100, stock });
      this.fixture.productIds.push(r.body.id);
      return r.body.id as string;
    };
    this.#products = { plenty: await product(1_000_000), scarce: await product(3) };
    for (let i = 0; i < 3; i++) {
      const r = await this.#post(admin, "/coupons", {
        name: `${this.tag}-c${i}`,
        discount: { type: "fixed", amount: 50 },
        totalQuantity: 40,
      });
      this.fixture.couponIds.push(r.body.id);
      this.#coupons.push(r.body.id);
    }
    this.#rich = Array.from({ length: 20 }, () => this.#user("rich"));
    this.#poor = Array.from({ length: 5 }, () => this.#user("poor"));
    for (const u of this.#rich) {
      await this.#post(u.token, "/wallet/charges", { amount: 100_000_000 });
    }
  }

  async #step(at: number): Promise<void> {
    const i = this.#n++;
    const rich = this.#rich[i % this.#rich.length];
    const kind = i % 10;
    const attempt: Attempt = {
      kind: kind < 5 ? "order" : kind < 7 ? "charge" : "request",
      at,
    };
    this.ledger.attempts.push(attempt);
    try {
      if (kind < 4) {
        // A plain order; every 8th takes the scarce product (OUT_OF_STOCK once it is gone).
        const productId = i % 8 === 0 ? this.#products.scarce : this.#products.plenty;
        const uc = i % 6 === 0
          ? this.#userCoupons[i % Math.max(1, this.#userCoupons.length)]
          : undefined;
        const user = uc?.user ?? rich;
        const r = await this.#post(user.token, "/orders", {
          items: [{ productId, quantity: 1 }],
          ...(uc ? { userCouponId: uc.id } : {}), // reused coupons: COUPON_UNAVAILABLE
        });
        this.#record(r.status, () => this.ledger.orders.push(attempt.id = r.body.orderId));
      } else if (kind === 4) {
        const poor = this.#poor[i % this.#poor.length];
        const r = await this.#post(poor.token, "/orders", {
          items: [{ productId: this.#products.plenty, quantity: 1 }],
        });
        // INSUFFICIENT_BALANCE
        this.#record(r.status, () => this.ledger.orders.push(attempt.id = r.body.orderId));
      } else if (kind < 7) {
        const key = `${this.tag}-${i}`;
        // Retried with the same key on a connection failure: at most one charge.
        for (let tries = 0; tries < 3; tries++) {
          try {
            const r = await this.#post(rich.token, "/wallet/charges", { amount: 1000 }, {
              "idempotency-key": key,
            });
            this.#record(r.status, () => {
              this.ledger.charges++;
              attempt.doneAt = Date.now();
            });
            break;
          } catch (err) {
            if (tries === 2) throw err;
          }
        }
      } else {
        const user = this.#user("fcfs");
        this.#fcfs.push(user);
        const couponId = this.#coupons[i % this.#coupons.length];
        const r = await this.#post(user.token, `/coupons/${couponId}/issue-requests`);
        this.#record(r.status, () => {
          this.ledger.requests.push(attempt.id = r.body.requestId);
          if (this.#userCoupons.length < 10) this.#watch(user, r.body.requestId);
        });
      }
    } catch {
      this.ledger.unreachable++;
    }
  }

  #record(status: number, accept: () => void) {
    if (status >= 200 && status < 300) {
      accept();
      this.ledger.acceptedAt.push(performance.now());
    } else this.ledger.refused++;
  }

  /** Learns user coupons as they are issued, to spend them (twice) in later orders. */
  #watch(user: User, requestId: string) {
    (async () => {
      for (let t = 0; t < 100 && this.#running; t++) {
        const r = await fetch(`${this.base()}/coupon-requests/${requestId}`, {
          headers: { authorization: `Bearer ${user.token}` },
        }).then((x) => x.json()).catch(() => undefined);
        if (r?.status === "ISSUED") {
          return void this.#userCoupons.push({ user, id: r.userCouponId });
        }
        if (r?.status === "REJECTED") return;
        await new Promise((res) => setTimeout(res, 200)); // polling a remote status, not a sync point
      }
    })();
  }

  /** Starts the mix at `perSecond` requests per second (open loop, up to 32 in flight). */
  start(perSecond: number): void {
    this.#running = true;
    this.#loop = (async () => {
      const inFlight = new Set<Promise<void>>();
      const t0 = performance.now();
      for (let k = 0; this.#running; k++) {
        const wait = t0 + (k * 1000) / perSecond - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing, not synchronization
        if (inFlight.size >= 32) await Promise.race(inFlight);
        const p: Promise<void> = this.#step(performance.timeOrigin + t0 + (k * 1000) / perSecond)
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await Promise.all(inFlight);
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}
