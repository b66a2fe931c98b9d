// Short notes after an action (saved, sent, failed) at the top of the window, a few seconds
// each. Every screen uses these; they are plain so the first screen needs no naive-ui.
import { reactive } from "vue";

export type ToastKind = "success" | "info" | "error";

export interface Toast {
  id: number;
  kind: ToastKind;
  text: string;
}

/** What is shown now, oldest first. */
export const toasts = reactive<Toast[]>([]);

// An error stays longer: it says what to do.
const SHOWN_MS: Record<ToastKind, number> = { success: 3000, info: 3000, error: 6000 };
let lastId = 0;

function show(kind: ToastKind, text: string): void {
  const id = ++lastId;
  toasts.push({ id, kind, text });
  window.setTimeout(() => dismiss(id), SHOWN_MS[kind]);
}

export function dismiss(id: number): void {
  const at = toasts.findIndex((t) => t.id === id);
  if (at >= 0) toasts.splice(at, 1);
}

export const toast = {
  success: (text: string) => show("success", text),
  info: (text: string) => show("info", text),
  error: (text: string) => show("error", text),
};
