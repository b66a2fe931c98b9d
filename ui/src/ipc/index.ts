// The only place that talks to the desk. Every call is typed with the generated bindings and
// fails with a DeskError carrying the desk's `{code, message}`.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AccessStatus,
  Alert,
  AlertSettings,
  AlertTarget,
  AppStatus,
  ApprovedRefund,
  AuditEntry,
  BatchOutcome,
  Check,
  Command,
  Code,
  DayBoard,
  DeskEvent,
  ExchangeEntry,
  IpcError,
  Language,
  ManualRefundInput,
  MerchantInput,
  Mode,
  Order,
  OrderDetail,
  QueueCount,
  QueueItem,
  QueueState,
  RelayInvite,
  RequestDetail,
  SaveOutcome,
  SettingsView,
} from "./bindings";

export * from "./bindings";

export class DeskError extends Error {
  readonly code: Code | "unexpected";
  constructor(code: Code | "unexpected", message: string) {
    super(message);
    this.code = code;
  }
}

function isIpcError(value: unknown): value is IpcError {
  return typeof value === "object" && value !== null && "code" in value && "message" in value;
}

/**
 * An opt-in record of every answer the window receives: when `window.__DESK_IPC_TRACE__` is an
 * array (set from the WebView inspector or by the end-to-end tests), each command's answer or
 * error is appended to it as `command JSON`. Off unless set.
 */
function trace(command: Command, outcome: string, value: unknown): void {
  const log = (window as { __DESK_IPC_TRACE__?: unknown }).__DESK_IPC_TRACE__;
  if (Array.isArray(log)) log.push(`${command}${outcome} ${JSON.stringify(value)}`);
}

async function call<T>(command: Command, args?: Record<string, unknown>): Promise<T> {
  try {
    const answer = await invoke<T>(command, args);
    trace(command, "", answer);
    return answer;
  } catch (error) {
    trace(command, " !", error);
    if (isIpcError(error)) throw new DeskError(error.code, error.message);
    throw new DeskError("unexpected", String(error));
  }
}

export const desk = {
  status: () => call<AppStatus>("app_status"),
  /** One page: `states` (empty: all) newest first, older than `before`; or a search by order number. */
  queue: (states: QueueState[], options: { search?: string | null; before?: number | null; limit?: number } = {}) =>
    call<QueueItem[]>("queue_list", {
      queueStates: states,
      search: options.search ?? null,
      before: options.before ?? null,
      limit: options.limit ?? 100,
    }),
  queueCounts: () => call<QueueCount[]>("queue_counts"),
  requestDetail: (request: number) => call<RequestDetail>("request_detail", { request }),
  approve: (request: number, amount: number | null, pin: string | null) =>
    call<ApprovedRefund>("approve_request", { request, amount, pin }),
  approveMany: (requests: number[], pin: string | null) =>
    call<BatchOutcome[]>("approve_requests", { requests, pin }),
  reject: (request: number, reason: string, pin: string | null) =>
    call<QueueItem>("reject_request", { request, reason, pin }),
  orders: (search: string | null, limit = 300) => call<Order[]>("orders_list", { search, limit }),
  orderDetail: (outTradeNo: string) => call<OrderDetail>("order_detail", { outTradeNo }),
  createManualRefund: (manual: ManualRefundInput, pin: string | null) =>
    call<QueueItem>("create_manual_refund", { manual, pin }),
  settings: () => call<SettingsView>("settings_get"),
  /** Checks the whole setup live and saves it only when every check passed. */
  saveMerchant: (merchant: MerchantInput, pin: string | null) =>
    call<SaveOutcome>("save_merchant_settings", { merchant, pin }),
  /** The checks of what was typed so far (ids; ids and key; all three), saving nothing. */
  checkMerchant: (merchant: MerchantInput, pin: string | null) =>
    call<Check[]>("check_merchant", { merchant, pin }),
  /** Whether the public address reaches this desk's intake. */
  checkIntake: (pin: string | null) => call<Check>("check_intake", { pin }),
  /** The sandbox's approved ¥0.01 first refund; the request's number. */
  sandboxTrialRefund: (pin: string | null) => call<number>("sandbox_trial_refund", { pin }),
  doctor: () => call<Check[]>("run_doctor"),
  setMode: (mode: Mode, pin: string | null) => call<AppStatus>("set_mode", { mode, pin }),
  saveIntake: (publicUrl: string | null, newSecret: boolean, pin: string | null) =>
    call<SettingsView>("save_intake", { publicUrl, newSecret, pin }),
  /** Pairs this desk with the shop's relay (a code from its operator or the owner's desk). */
  relayPair: (url: string, code: string, name: string, pin: string | null) =>
    call<SettingsView>("relay_pair", { url, code, name, pin }),
  /** On the owner's desk: a pairing code for a staff desk. */
  relayInvite: (pin: string | null) => call<RelayInvite>("relay_invite", { pin }),
  unlock: (pin: string) => call<AccessStatus>("unlock", { pin }),
  lock: () => call<AccessStatus>("lock"),
  changePin: (currentPin: string | null, newPin: string | null) =>
    call<AccessStatus>("change_pin", { currentPin, newPin }),
  setAlwaysAskAbove: (amount: number | null) =>
    call<AccessStatus>("set_always_ask_above", { amount }),
  setStaffLimit: (amount: number | null, pin: string | null) =>
    call<AccessStatus>("set_staff_limit", { amount, pin }),
  auditLog: (limit = 300) => call<AuditEntry[]>("audit_log", { limit }),
  exchangeLog: (limit = 300) => call<ExchangeEntry[]>("exchange_log", { limit }),
  saveAlerts: (alerts: AlertSettings, pin: string | null) =>
    call<AlertSettings>("save_alerts", { alerts, pin }),
  setLanguage: (language: Language) => call<Language>("set_language", { language }),
  sendTestAlert: () => call<Alert>("send_test_alert"),
  acknowledgeAlerts: () => call<number>("acknowledge_alerts"),
  todayBoard: () => call<DayBoard>("today_board"),
};

export const events = {
  desk: (handler: (event: DeskEvent) => void): Promise<UnlistenFn> =>
    listen<DeskEvent>("desk-event", (e) => handler(e.payload)),
  alert: (handler: (alert: Alert) => void): Promise<UnlistenFn> =>
    listen<Alert>("alert", (e) => handler(e.payload)),
  navigate: (handler: (target: AlertTarget) => void): Promise<UnlistenFn> =>
    listen<AlertTarget>("navigate", (e) => handler(e.payload)),
  notice: (handler: (notice: string) => void): Promise<UnlistenFn> =>
    listen<string>("notice", (e) => handler(e.payload)),
};
