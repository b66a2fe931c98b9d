// Rows in view only, for a list of rows whose heights differ (a pending request is one line, a
// failed refund's advice several). Heights are measured once rendered and estimated until then.
import { computed, ref, type Ref } from "vue";

/** How far beyond the visible part rows are kept rendered, so a scroll does not show blanks. */
const OVERSCAN_PX = 240;

export interface Window {
  /** Index of the first row to render. */
  start: number;
  /** One past the last row to render. */
  end: number;
  /** Space standing in for the rows above and below the rendered ones. */
  before: number;
  after: number;
}

/** Index of the first row whose bottom is below `y` (offsets[i] is row i's top; n+1 entries). */
function firstEndingBelow(offsets: number[], y: number): number {
  let low = 0;
  let high = offsets.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (offsets[mid + 1] > y) high = mid;
    else low = mid + 1;
  }
  return low;
}

export function windowOf(offsets: number[], top: number, height: number): Window {
  const count = offsets.length - 1;
  const total = offsets[count];
  const start = Math.min(count, firstEndingBelow(offsets, Math.max(0, top - OVERSCAN_PX)));
  let end = start;
  while (end < count && offsets[end] < top + height + OVERSCAN_PX) end++;
  return { start, end, before: offsets[start], after: total - offsets[end] };
}

/**
 * The rows of `keys` to render for a viewport `height` px tall scrolled to `top`. Call `measured`
 * with each rendered row's key and height after a render.
 */
export function useWindowed(keys: Ref<number[]>, top: Ref<number>, height: Ref<number>) {
  const heights = new Map<number, number>();
  // Bumped when a measured height differs from what was assumed (the Map is not reactive).
  const version = ref(0);
  let measuredSum = 0;

  const estimate = () => (heights.size ? measuredSum / heights.size : 48);
  const offsets = computed(() => {
    void version.value;
    const guess = estimate();
    const list = keys.value;
    const result = new Array<number>(list.length + 1);
    result[0] = 0;
    for (let i = 0; i < list.length; i++) result[i + 1] = result[i] + (heights.get(list[i]) ?? guess);
    return result;
  });
  const range = computed(() => windowOf(offsets.value, top.value, height.value));

  function measured(rows: Array<[key: number, height: number]>) {
    let changed = false;
    for (const [key, px] of rows) {
      const known = heights.get(key);
      if (known === px || px === 0) continue;
      measuredSum += px - (known ?? 0);
      heights.set(key, px);
      changed = true;
    }
    if (changed) version.value++;
  }

  return { range, measured };
}
