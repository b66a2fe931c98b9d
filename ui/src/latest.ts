/**
 * Wraps a loader so that only the newest call's answer is applied. Live screens reload on every
 * desk event; answers can come back out of order, and an older one must never overwrite a newer.
 */
export function latestWins<T>(fetch: () => Promise<T>, apply: (value: T) => void): () => Promise<void> {
  let newest = 0;
  return async () => {
    const call = ++newest;
    const value = await fetch();
    if (call === newest) apply(value);
  };
}
