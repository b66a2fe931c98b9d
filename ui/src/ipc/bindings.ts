// Generated from the Rust types by `src-tauri/src/bindings.rs`; do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p merchant-desk bindings
// Amounts are integer fen; times are Unix seconds.

export type Fen = number;

export type QueueState = "pending" | "rejected" | "withdrawn" | "approved" | "submitting" | "held" | "processing" | "succeeded" | "closed" | "needs_manual" | "failed";

export type RefundState = "approved" | "submitting" | "held" | "processing" | "succeeded" | "closed" | "needs_manual" | "failed";

export type RequestState = "pending" | "approved" | "rejected" | "withdrawn";

export type Problem = "unreachable" | "no_answer" | "unreadable_answer" | "wechat_error" | "wechat_busy" | "rate_limited" | "order_not_ready" | "not_enough_funds" | "certificate_missing" | "certificate_rejected" | "server_not_trusted" | "clock_wrong" | "server_name_mismatch" | "secure_connection_failed" | "http_refused" | "api_key_wrong" | "merchant_wrong" | "request_invalid" | "order_too_old" | "account_abnormal" | "order_not_on_wechat" | "order_state_refused" | "amount_mismatch" | "parameters_refused" | "business_error" | "request_refused" | "no_record_yet" | "not_found_after_accepted";

export type RefundView = { id: number, out_refund_no: string, refund_fee: Fen, refund_id: string | null, attempts: number, 
/**
 * Why it waits, is held or failed (the window translates the code).
 */
problem: Problem | null, 
/**
 * WeChat's own words about the problem.
 */
wechat_detail: string | null, 
/**
 * WeChat's evidence overrode the desk's record (a refund held as failed was paid).
 */
contradicted: boolean, updated_at: number, };

export type QueueItem = { request: number, request_id: string | null, out_trade_no: string, requested_fee: Fen, reason: string, customer: string | null, created_at: number, state: QueueState, decided_by: string | null, decided_at: number | null, reject_reason: string | null, refund: RefundView | null, };

export type QueueCount = { state: QueueState, count: number, };

export type Order = { out_trade_no: string, transaction_id: string, total_fee: Fen, paid_at: number, 
/**
 * Refunds that moved or may still move money (everything but closed and failed).
 */
committed: Fen, refundable: Fen, refund_count: number, };

export type ApprovedRefund = { refund: number, out_refund_no: string, refund_fee: Fen, };

export type DeskEvent = { "type": "order_paid", out_trade_no: string, total_fee: Fen, paid_at: number, } | { "type": "refund_requested", request: number, out_trade_no: string, refund_fee: Fen, } | { "type": "request_closed", request: number, out_trade_no: string, 
/**
 * Rejected or withdrawn.
 */
state: RequestState, } | { "type": "refund_changed", refund: number, request: number, out_trade_no: string, out_refund_no: string, refund_fee: Fen, state: RefundState, 
/**
 * Why it waits, is held or failed.
 */
problem: Problem | null, 
/**
 * WeChat's own words about the problem.
 */
wechat_detail: string | null, 
/**
 * WeChat's evidence overrode the desk's record (a refund held as failed was paid).
 */
contradicted: boolean, };

export type AuditEntry = { id: number, at: number, actor: string, 
/**
 * `approve`, `reject`, `withdraw`, ...
 */
action: string, out_trade_no: string | null, request: number | null, amount: Fen | null, detail: string | null, };

export type ExchangeEntry = { id: number, at: number, endpoint: string, refund: number | null, 
/**
 * The XML sent, with the sign and secrets already removed.
 */
request: string, response: string | null, outcome: string, };

export type DayBoard = { 
/**
 * Unix seconds of the day's midnight.
 */
day_start: number, 
/**
 * What customers paid this day.
 */
takings: Fen, orders: number, 
/**
 * Takings over orders, rounded to the nearest fen (0 without orders).
 */
average: Fen, 
/**
 * Refunds that succeeded this day, and what they gave back.
 */
refunds: number, refunded: Fen, 
/**
 * Takings by hour of the day, 24 entries: this day and the day before.
 */
hours: Array<Fen>, hours_before: Array<Fen>, 
/**
 * The newest paid orders, newest first.
 */
latest: Array<Order>, };

export type Alarm = { id: number, cause: AlarmCause, raised_at: number, last_at: number, 
/**
 * The refusals it explains.
 */
count: number, 
/**
 * Whether staff were alerted (the alert loop delivers each alarm once).
 */
notified: boolean, };

export type AlarmCause = "api_key_mismatch" | "backend_old_secret" | "signed_conflict";

export type Door = "payment_notify" | "refund_notify" | "backend";

export type Refusal = "malformed" | "other_merchant" | "unverified" | "forged" | "unsigned" | "stale" | "old_secret" | "invalid";

export type RefusalCount = { door: Door, cause: Refusal, count: number, };

export type Mode = "sandbox" | "production";

export type LinkProblem = "unreachable" | "unpaired" | "refused" | "unreadable" | "entry_waiting" | "log_went_back" | "log_skipped" | "storage" | "ended";

export type StartWarning = { "code": "made_private", path: string, mode: number, } | { "code": "not_ours", path: string, } | { "code": "sandbox_ignores_relay" } | { "code": "intake_reachable", listen: string, } | { "code": "key_in_file", path: string, };

export type SecretBackend = "keyring" | "file";

export type Language = "zh-CN" | "en";

export type AccessStatus = { pin_set: boolean, 
/**
 * The owner may act (no PIN set, or unlocked).
 */
owner: boolean, 
/**
 * Unix seconds when the unlock ends.
 */
unlocked_until: number | null, always_ask_above_fen: number | null, 
/**
 * Staff may approve refunds up to this many fen without the PIN.
 */
staff_limit_fen: number | null, 
/**
 * The PIN that last opened the desk has fewer digits than new PINs need: change it.
 */
pin_too_short: boolean, 
/**
 * Seconds before another PIN is checked (after too many wrong ones).
 */
pin_wait_secs: number | null, };

export type AlertSettings = { sound: boolean, 
/**
 * Say each paid order's amount aloud. On for new desks; a desk configured before the voice
 * existed keeps quiet until the owner turns it on.
 */
voice: boolean, 
/**
 * The voice's volume, 0 to 100.
 */
volume: number, 
/**
 * Remind of new orders until someone acknowledges them (across restarts).
 */
repeat_until_ack: boolean, 
/**
 * No sound, voice or reminders in this window, China time ("22:00" to "08:00" spans
 * midnight). Notifications still show.
 */
quiet_hours?: QuietHours | null, };

export type QuietHours = { 
/**
 * "HH:MM"
 */
from: string, to: string, };

export type AlertKind = "new_order" | "order_burst" | "while_closed" | "reminder" | "refund_request" | "refund_succeeded" | "refund_failed" | "refund_needs_manual" | "refund_held" | "refund_contradicted" | "setup_alarm" | "test";

export type AlertTarget = { "screen": "queue" } | { "screen": "orders" } | { "screen": "order", out_trade_no: string, } | { "screen": "request", request: number, } | { "screen": "settings" };

export type Alert = { 
/**
 * The notification it is: an alert with the key of one already shown replaces it in place
 * (a flash sale's running summary). "order:…", "flash:…", "closed:…", "refund:…".
 */
key: string, kind: AlertKind, title: string, body: string, 
/**
 * Play the new-order sound.
 */
sound: boolean, 
/**
 * The newest outbox row it covers: acknowledging it acknowledges everything up to here.
 */
up_to: number, target: AlertTarget, };

export type Check = { name: CheckName, status: Status, finding: Finding, };

export type CheckName = "config" | "merchant" | "api_key" | "secrets" | "certificate" | "certificate_expiry" | "certificate_merchant" | "wechat_signature" | "wechat_refund" | "intake" | "notifications";

export type Finding = { "code": "sandbox_mode" } | { "code": "merchant_configured", mch_id: string, appid: string, sign_type: string, } | { "code": "no_config", path: string, } | { "code": "config_unreadable", detail: string, } | { "code": "no_merchant" } | { "code": "ids_well_formed" } | { "code": "mch_id_malformed" } | { "code": "app_id_malformed" } | { "code": "api_key_malformed", length: number, } | { "code": "key_well_formed" } | { "code": "key_in_keyring" } | { "code": "key_in_file", path: string, } | { "code": "no_api_key" } | { "code": "secrets_unavailable", detail: string, } | { "code": "certificate_readable", subject: string, } | { "code": "certificate_unusable", problem: CertificateProblem, detail: string, } | { "code": "valid_until", date: string, } | { "code": "expires_soon", date: string, } | { "code": "certificate_expired", date: string, } | { "code": "certificate_not_yet_valid", date: string, } | { "code": "issued_to_merchant", mch_id: string, } | { "code": "issued_to_other", common_name: string, mch_id: string, } | { "code": "names_no_merchant", subject: string, } | { "code": "client_unavailable", detail: string, } | { "code": "signature_accepted" } | { "code": "refund_path_accepted" } | { "code": "refund_path_answered", wechat: string, } | { "code": "wechat_refused", problem: Problem, wechat: string, } | { "code": "probe_refund_accepted", out_trade_no: string, out_refund_no: string, } | { "code": "reached", url: string, } | { "code": "no_public_url" } | { "code": "unreachable", problem: ReachProblem, detail: string, } | { "code": "another_server", status: number, } | { "code": "alarm_up", cause: AlarmCause, raised_at: number, count: number, } | { "code": "refused_last_day", refused: Array<RefusalCount>, } | { "code": "skipped" };

export type CertificateProblem = "file_missing" | "unreadable" | "not_pkcs12" | "wrong_password" | "no_private_key" | "no_certificate" | "cert_key_mismatch" | "unsupported_key" | "invalid_pem" | "bad_certificate" | "expired" | "not_yet_valid";

export type ReachProblem = "not_https" | "no_connection" | "certificate" | "timeout";

export type Status = "ok" | "warning" | "failed" | "skipped";

export type Code = "needs_owner" | "wrong_pin" | "pin_wait" | "invalid_input" | "invalid_amount" | "not_refundable" | "conflict" | "request_id_conflict" | "refunds_in_flight" | "not_found" | "order_unknown" | "order_not_paid" | "payment_conflict" | "wechat_unavailable" | "setup" | "desk_unavailable" | "storage";

export type IpcError = { code: Code, message: string, };

export type AppStatus = { 
/**
 * This build's version, shown with what is new in it.
 */
version: string, mode: Mode | null, intake_url: string | null, data_dir: string, 
/**
 * What the owner should know about how the desk started (worded in the window).
 */
warnings: Array<StartWarning>, language: Language, access: AccessStatus, 
/**
 * Set when the desk could not start.
 */
error: IpcError | null, 
/**
 * What stopped verifying and what to fix, shown until resolved.
 */
alarms: Array<Alarm>, };

export type RequestDetail = { item: QueueItem, order: Order | null, };

export type BatchOutcome = { request: number, approved: ApprovedRefund | null, error: IpcError | null, };

export type OrderDetail = { order: Order, requests: Array<QueueItem>, };

export type ManualRefundInput = { out_trade_no: string | null, transaction_id: string | null, amount: number, reason: string, customer: string | null, };

export type SettingsView = { mode: Mode, merchant: MerchantView | null, intake: IntakeView, alerts: AlertSettings, language: Language, recharge_fallback: boolean, 
/**
 * The shop's relay, when this desk reads there instead of listening.
 */
relay: RelayView | null, };

export type MerchantView = { appid: string, mch_id: string, sign_type: string, 
/**
 * `p12` or `pem`.
 */
certificate_kind: string, certificate_path: string, secrets: SecretBackend, };

export type IntakeView = { 
/**
 * Where the intake listens now.
 */
url: string | null, listen: string, public_url: string | null, 
/**
 * For the shop's backend developer (it signs refund requests with it).
 */
shared_secret: string, 
/**
 * A complete, correctly signed example request to copy.
 */
example_request: string, };

export type RelayView = { url: string, shop: string, desk_id: number, 
/**
 * `owner` or `staff`.
 */
role: string, 
/**
 * For the backend developer: WeChat's notify_url and the refund requests' address.
 */
notify_url: string, refund_requests_url: string, connected: boolean, 
/**
 * The last entry of the shop's log this desk took.
 */
position: number, 
/**
 * Why it is not connected.
 */
problem: LinkProblem | null, 
/**
 * Entries the relay no longer had when this desk came back (`[from, to]`).
 */
missed: Array<number> | null, 
/**
 * Messages put aside until WeChat Pay answers (tried again; the others go on).
 */
parked: number, 
/**
 * On a staff desk: the owner's updates signed with a key it does not have: pair it again.
 */
foreign_updates: number, };

export type RelayInvite = { 
/**
 * Typed on the staff desk's PC, within 15 minutes, once.
 */
code: string, expires_at: number, };

export type CertificateInput = { "kind": "p12", p12_base64: string, password: string | null, } | { "kind": "pem", cert_pem: string, key_pem: string, };

export type MerchantInput = { appid: string, mch_id: string, 
/**
 * `MD5` or `HMAC-SHA256`.
 */
sign_type: string, api_key: string | null, certificate: CertificateInput | null, };

export type SaveOutcome = { 
/**
 * False when a check failed: nothing was changed, the working setup goes on.
 */
saved: boolean, checks: Array<Check>, };

/** Every command the window may invoke. */
export type Command =
  | "app_status"
  | "queue_list"
  | "queue_counts"
  | "request_detail"
  | "approve_request"
  | "approve_requests"
  | "reject_request"
  | "orders_list"
  | "order_detail"
  | "create_manual_refund"
  | "settings_get"
  | "save_merchant_settings"
  | "check_merchant"
  | "check_intake"
  | "sandbox_trial_refund"
  | "run_doctor"
  | "set_mode"
  | "save_intake"
  | "unlock"
  | "lock"
  | "change_pin"
  | "set_always_ask_above"
  | "set_staff_limit"
  | "audit_log"
  | "exchange_log"
  | "save_alerts"
  | "set_language"
  | "send_test_alert"
  | "acknowledge_alerts"
  | "today_board"
  | "relay_pair"
  | "relay_invite";
