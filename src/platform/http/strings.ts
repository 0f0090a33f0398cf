/**
 * Strings the database cannot store faithfully: Postgres refuses U+0000 in `text` and `jsonb`
 * (a 500 if it got that far), and a lone UTF-16 surrogate has no UTF-8 encoding, so the driver
 * silently stores U+FFFD instead (or jsonb refuses its `\ud800` escape). Both are refused at the
 * edge with the field's path, whatever the route.
 */
import type { FieldError } from "./problem.ts";

/** Why `s` cannot be stored, or undefined when it can. */
export function stringDefect(s: string): string | undefined {
  if (s.includes("\0")) return "must not contain the NUL character (U+0000)";
  if (!s.isWellFormed()) return "must not contain an unpaired UTF-16 surrogate";
  return undefined;
}

/**
 * Every string (value or object key) in `value` that cannot be stored, as field errors whose
 * paths start with `prefix` and are joined with "." like the validation errors. Iterative, not
 * recursive: a 64 KiB body can nest arrays tens of thousands deep, and a stack overflow would be
 * a 500. Stops after `limit` errors so a body full of NULs cannot make a huge response.
 */
export function unstorableStrings(value: unknown, prefix: string, limit = 20): FieldError[] {
  const errors: FieldError[] = [];
  // Each entry is a value and the key it sits under (undefined for the root).
  const stack: { value: unknown; path: string; key?: string }[] = [{ value, path: prefix }];
  const seen = new Set<object>();
  while (stack.length > 0 && errors.length < limit) {
    const { value: v, path, key } = stack.pop()!;
    const keyDefect = key === undefined ? undefined : stringDefect(key);
    if (keyDefect) errors.push({ path, message: `field name ${keyDefect}` });
    if (typeof v === "string") {
      const defect = stringDefect(v);
      if (defect) errors.push({ path, message: defect });
    } else if (v !== null && typeof v === "object" && !seen.has(v)) {
      // Parsed JSON has no cycles, but a validated value might share objects: visit each once.
      seen.add(v);
      const entries = Array.isArray(v)
        ? v.map((x, i) => [String(i), x] as const)
        : Object.entries(v);
      // Pushed in reverse so errors come out in document order.
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i];
        stack.push({ value: child, path: path === "" ? k : `${path}.${k}`, key: k });
      }
    }
  }
  return errors.slice(0, limit);
}
