// What every screen shares: the desk's status (mode, access), the current screen, and the
// owner-PIN prompt that any action can ask for.
import { reactive } from "vue";
import { DeskError, desk, type AlertTarget, type AppStatus } from "./ipc";

export type Screen = "queue" | "orders" | "audit" | "settings" | "setup";

export const session = reactive({
  status: null as AppStatus | null,
  screen: "queue" as Screen,
  /** Set by a notification click: what to show once the screen opens. */
  focus: null as AlertTarget | null,
  pinPrompt: null as null | { reason: string; resolve: (pin: string | null) => void },
});

export async function refreshStatus(): Promise<void> {
  session.status = await desk.status();
}

export function isOwner(): boolean {
  return session.status?.access.owner ?? false;
}

/** The owner, or staff the owner let approve refunds up to an amount (the desk checks it). */
export function canApprove(): boolean {
  return isOwner() || session.status?.access.staff_limit_fen != null;
}

/** Asks for the owner PIN; null when cancelled. */
export function askPin(reason: string): Promise<string | null> {
  return new Promise((resolve) => {
    session.pinPrompt = { reason, resolve };
  });
}

/**
 * Runs an owner action; when the desk answers "needs the owner", asks for the PIN and tries
 * once more with it. Other errors pass through.
 */
export async function asOwner<T>(
  action: (pin: string | null) => Promise<T>,
  reason: string,
): Promise<T | null> {
  try {
    return await action(null);
  } catch (error) {
    if (!(error instanceof DeskError) || error.code !== "needs_owner") throw error;
    const pin = await askPin(reason);
    if (pin === null) return null;
    const result = await action(pin);
    await refreshStatus();
    return result;
  }
}

export function navigate(target: AlertTarget): void {
  session.focus = target;
  session.screen =
    target.screen === "order" || target.screen === "orders" ? "orders" : target.screen === "settings" ? "settings" : "queue";
}
