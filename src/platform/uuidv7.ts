/**
 * UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then randomness. Time-ordered ids keep the outbox
 * and inbox primary-key indexes append-mostly. Within one millisecond the 12-bit `rand_a` field
 * counts up (RFC 9562 §6.2, method 1), so ids from one process are strictly increasing.
 */
let lastMs = 0;
let seq = 0;

/**
 * A new UUIDv7 string.
 * @example
 * uuidv7(); // "01934f4a-7b7c-7def-8a12-3456789abcde"
 */
export function uuidv7(now: number = Date.now()): string {
  let ms = now;
  if (ms <= lastMs) {
    seq++;
    if (seq > 0xfff) {
      // Counter exhausted within this millisecond: borrow the next one, as RFC 9562 allows.
      lastMs++;
      seq = 0;
    }
    ms = lastMs;
  } else {
    lastMs = ms;
    seq = 0;
  }
  const b = new Uint8Array(16);
  crypto.getRandomValues(b.subarray(8));
  const hi = Math.floor(ms / 2 ** 16);
  b[0] = (hi >>> 24) & 0xff;
  b[1] = (hi >>> 16) & 0xff;
  b[2] = (hi >>> 8) & 0xff;
  b[3] = hi & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | (seq >>> 8);
  b[7] = seq & 0xff;
  b[8] = 0x80 | (b[8] & 0x3f);
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** The Unix milliseconds encoded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.replaceAll("-", "").slice(0, 12), 16);
}
