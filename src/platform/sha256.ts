/** SHA-256 as lower-case hex, synchronous (node:crypto): checksums, request hashes, short ids. */
import { createHash } from "node:crypto";

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
