/**
 * A set-based run decides its events against maps of the rows it read, then writes only the rows
 * it changed. `recordChanges(state, changed)` is the one way a decision changes a row: a later
 * event of the same run sees the new value (`state`), and the run's write statement gets it
 * (`changed`). Forgetting either half is the bug the differential tests look for.
 */
export function recordChanges<K, V>(
  state: Map<K, V>,
  changed: Map<K, V>,
): (key: K, value: V) => void {
  return (key, value) => {
    state.set(key, value);
    changed.set(key, value);
  };
}
