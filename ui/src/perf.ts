// Performance marks the UI benchmark reads from the real window (`performance` entries): when the
// queue first shows rows, and how long each change of tab or search took until its rows were on
// screen. A handful of entries; nothing is sent anywhere.
import { nextTick } from "vue";

export const QUEUE_FIRST_RENDER = "queue-first-render";
export const QUEUE_UPDATE = "queue-update";
/** Of an update: from the change to the desk's answer (the rest is rendering). */
export const QUEUE_FETCH = "queue-fetch";
/** Of an update: from the change to the DOM showing the answer (the rest is layout and paint). */
export const QUEUE_DOM = "queue-dom";

let drawn: () => void = () => undefined;
/**
 * Resolves once the queue's first rows are on screen: what can wait (the today board) waits for
 * it, so the first paint is the queue's alone.
 */
export const queueDrawn: Promise<void> = new Promise((resolve) => (drawn = resolve));

/** After the DOM shows what was just applied, measures from `started` (a performance.now()). */
export async function measureRender(started: number, first: boolean): Promise<void> {
  if (!first) performance.measure(QUEUE_FETCH, { start: started, end: performance.now() });
  await nextTick();
  if (!first) performance.measure(QUEUE_DOM, { start: started, end: performance.now() });
  // A frame's callbacks run before it is drawn: the rows are on screen when the frame after
  // the one that draws them begins.
  await nextFrame();
  await nextFrame();
  if (first && performance.getEntriesByName(QUEUE_FIRST_RENDER).length === 0) {
    performance.mark(QUEUE_FIRST_RENDER);
    drawn();
  } else performance.measure(QUEUE_UPDATE, { start: started, end: performance.now() });
}

function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}
