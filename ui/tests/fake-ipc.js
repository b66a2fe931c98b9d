// FAKE IPC, for UI tests in a plain browser only: it stands in for the Tauri shell below the
// window (window.__TAURI_INTERNALS__), with a small in-memory desk that answers the same
// commands with the same shapes and error codes. The real shell is exercised by the end-to-end
// tests that drive the real app window.
(() => {
  const now = () => Math.floor(Date.now() / 1000);
  const seed = window.__FAKE_DESK_SEED__ ?? {};
  const desk = {
    mode: seed.mode ?? "sandbox",
    language: seed.language ?? "zh-CN",
    pin: seed.pin ?? null,
    unlocked: false,
    alwaysAskAbove: seed.alwaysAskAbove ?? null,
    // Like the desk: staff (no PIN) approve up to this many fen when the owner set it.
    staffLimit: seed.staffLimit ?? null,
    pinTooShort: seed.pinTooShort ?? false,
    alarms: seed.alarms ?? [],
    warnings: seed.warnings ?? [],
    orders: [],
    requests: [],
    audit: [],
    exchanges: [],
    calls: [],
    nextRequest: 1,
    nextRefund: 1,
    alerts: { sound: true, voice: true, volume: 80, repeat_until_ack: false, quiet_hours: null },
  };
  window.__fakeDesk = desk;

  const listeners = new Map();
  let nextCallback = 1;
  const callbacks = new Map();

  const FAKE_KEY = "192006250b4c09247ec02edce69f6a2d";
  function check(name, status, finding) {
    return { name, status, finding };
  }
  function setupChecks(merchant) {
    if (!/^[0-9]{8,12}$/.test(merchant.mch_id)) return [check("merchant", "failed", { code: "mch_id_malformed" })];
    if (!/^wx[0-9a-f]{16}$/.test(merchant.appid)) return [check("merchant", "failed", { code: "app_id_malformed" })];
    const checks = [check("merchant", "ok", { code: "ids_well_formed" })];
    if (merchant.api_key === null) return checks;
    if (!/^[A-Za-z0-9]{32}$/.test(merchant.api_key)) return [...checks, check("api_key", "failed", { code: "api_key_malformed", length: merchant.api_key.length })];
    checks.push(check("api_key", "ok", { code: "key_well_formed" }));
    if (merchant.api_key !== FAKE_KEY) return [...checks, check("wechat_signature", "failed", { code: "wechat_refused", problem: "api_key_wrong", wechat: "签名错误" })];
    checks.push(check("wechat_signature", "ok", { code: "signature_accepted" }));
    if (merchant.certificate === null) return checks;
    if (merchant.certificate.password === "wrong") {
      return [...checks, check("certificate", "failed", { code: "certificate_unusable", problem: "wrong_password", detail: "wrong password" }), check("wechat_refund", "skipped", { code: "skipped" })];
    }
    return [
      ...checks,
      check("certificate", "ok", { code: "certificate_readable", subject: `CN=${merchant.mch_id}` }),
      check("certificate_expiry", "ok", { code: "valid_until", date: "2031-11-23" }),
      check("certificate_merchant", "ok", { code: "issued_to_merchant", mch_id: merchant.mch_id }),
      check("wechat_refund", "ok", { code: "refund_path_accepted" }),
    ];
  }
  function error(code, message) {
    return { code, message };
  }
  function owner(pin) {
    if (desk.pin === null || desk.unlocked) return true;
    if (pin !== null && pin !== undefined && pin === desk.pin) {
      desk.unlocked = true;
      return true;
    }
    return false;
  }
  function order(no) {
    return desk.orders.find((o) => o.out_trade_no === no);
  }
  function orderView(o) {
    const committed = desk.requests
      .filter((r) => r.out_trade_no === o.out_trade_no && r.refund && !["closed", "failed"].includes(r.state))
      .reduce((sum, r) => sum + r.refund.refund_fee, 0);
    return { ...o, committed, refundable: Math.max(0, o.total_fee - committed), refund_count: desk.requests.filter((r) => r.out_trade_no === o.out_trade_no && r.refund).length };
  }
  function emit(event, payload) {
    for (const id of listeners.get(event) ?? []) callbacks.get(id)?.({ event, id, payload });
  }
  desk.emit = emit;
  desk.pay = (out_trade_no, total_fee, paid_at = now()) => {
    desk.orders.unshift({ out_trade_no, transaction_id: `4200${out_trade_no}`, total_fee, paid_at });
    emit("desk-event", { type: "order_paid", out_trade_no, total_fee, paid_at });
  };
  desk.request = (out_trade_no, fee, reason, customer, created_at = now()) => {
    const request = desk.nextRequest++;
    desk.requests.push({ request, request_id: `r${request}`, out_trade_no, requested_fee: fee, reason, customer, created_at, state: "pending", decided_by: null, decided_at: null, reject_reason: null, refund: null });
    emit("desk-event", { type: "refund_requested", request, out_trade_no, refund_fee: fee });
    return request;
  };
  desk.move = (request, state, problem = null, wechat_detail = null) => {
    const item = desk.requests.find((r) => r.request === request);
    item.state = state;
    item.refund.problem = problem;
    item.refund.wechat_detail = wechat_detail;
    emit("desk-event", { type: "refund_changed", refund: item.refund.id, request, out_trade_no: item.out_trade_no, out_refund_no: item.refund.out_refund_no, refund_fee: item.refund.refund_fee, state, problem, wechat_detail, contradicted: false });
  };
  function approve(request, amount, by = "owner") {
    const item = desk.requests.find((r) => r.request === request);
    if (!item) throw error("not_found", `no refund request ${request}`);
    if (item.state !== "pending") throw error("conflict", `refund request ${request} is ${item.state}, not pending`);
    const fee = amount ?? item.requested_fee;
    const remaining = orderView(order(item.out_trade_no)).refundable;
    if (fee > item.requested_fee) throw error("invalid_amount", `${fee} fen is more than the ${item.requested_fee} fen the customer asked for`);
    if (fee > remaining) throw error("invalid_amount", `${fee} fen is more than the ${remaining} fen that can still be refunded on this order`);
    const id = desk.nextRefund++;
    item.state = "approved";
    item.decided_by = by;
    item.decided_at = now();
    item.refund = { id, out_refund_no: `R${String(id).padStart(6, "0")}`, refund_fee: fee, refund_id: null, attempts: 0, problem: null, wechat_detail: null, contradicted: false, updated_at: now() };
    desk.audit.unshift({ id: desk.audit.length + 1, at: now(), actor: by, action: "approve", out_trade_no: item.out_trade_no, request, amount: fee, detail: null });
    setTimeout(() => emit("desk-event", { type: "refund_changed", refund: id, request, out_trade_no: item.out_trade_no, out_refund_no: item.refund.out_refund_no, refund_fee: fee, state: "approved", problem: null, wechat_detail: null, contradicted: false }), 0);
    return { refund: id, out_refund_no: item.refund.out_refund_no, refund_fee: fee };
  }
  const states = ["pending", "rejected", "withdrawn", "approved", "submitting", "processing", "succeeded", "closed", "needs_manual", "failed"];

  const commands = {
    app_status: () => ({
      version: "0.2.0",
      mode: desk.mode,
      intake_url: "http://127.0.0.1:8720",
      data_dir: "/home/shop/.local/share/merchant-desk",
      warnings: desk.warnings,
      language: desk.language,
      access: {
        pin_set: desk.pin !== null,
        owner: desk.pin === null || desk.unlocked,
        unlocked_until: desk.unlocked ? now() + 600 : null,
        always_ask_above_fen: desk.alwaysAskAbove,
        staff_limit_fen: desk.staffLimit,
        pin_too_short: desk.pin !== null && desk.pinTooShort,
        pin_wait_secs: null,
      },
      error: seed.startError ?? null,
      alarms: desk.alarms,
    }),
    queue_list: ({ queueStates, search, before, limit }) => {
      const matching = desk.requests.filter((r) => !queueStates?.length || queueStates.includes(r.state));
      if (search) return matching.filter((r) => r.out_trade_no.startsWith(search)).sort((a, b) => a.out_trade_no.localeCompare(b.out_trade_no) || a.request - b.request).slice(0, limit);
      return matching.filter((r) => before == null || r.request < before).sort((a, b) => b.request - a.request).slice(0, limit);
    },
    queue_counts: () => states.map((state) => ({ state, count: desk.requests.filter((r) => r.state === state).length })).filter((c) => c.count > 0),
    request_detail: ({ request }) => {
      const item = desk.requests.find((r) => r.request === request);
      return { item, order: orderView(order(item.out_trade_no)) };
    },
    approve_request: ({ request, amount, pin }) => {
      const item = desk.requests.find((r) => r.request === request);
      const fee = amount ?? item.requested_fee;
      if (desk.pin !== null && desk.alwaysAskAbove !== null && fee > desk.alwaysAskAbove && pin !== desk.pin) throw error("needs_owner", "enter the PIN");
      if (owner(pin)) return approve(request, amount);
      if (desk.staffLimit === null) throw error("needs_owner", "the owner PIN is needed");
      if (fee > desk.staffLimit) throw error("needs_owner", `${fee} is above what staff may approve (${desk.staffLimit}): the owner approves it with the PIN`);
      return approve(request, amount, "staff");
    },
    approve_requests: ({ requests, pin }) => {
      const asOwner = owner(pin);
      if (!asOwner && desk.staffLimit === null) throw error("needs_owner", "the owner PIN is needed");
      return requests.map((request) => {
        try {
          const fee = desk.requests.find((r) => r.request === request)?.requested_fee ?? 0;
          if (!asOwner && fee > desk.staffLimit) throw error("needs_owner", "above what staff may approve");
          return { request, approved: approve(request, null, asOwner ? "owner" : "staff"), error: null };
        } catch (e) {
          return { request, approved: null, error: e };
        }
      });
    },
    reject_request: ({ request, reason, pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      const item = desk.requests.find((r) => r.request === request);
      item.state = "rejected";
      item.reject_reason = reason;
      item.decided_by = "owner";
      desk.audit.unshift({ id: desk.audit.length + 1, at: now(), actor: "owner", action: "reject", out_trade_no: item.out_trade_no, request, amount: null, detail: reason });
      return item;
    },
    orders_list: ({ search }) => desk.orders.filter((o) => !search || o.out_trade_no.startsWith(search) || o.transaction_id.startsWith(search)).map(orderView),
    order_detail: ({ outTradeNo }) => {
      const o = order(outTradeNo);
      if (!o) throw error("order_unknown", `the desk has no paid order ${outTradeNo}`);
      return { order: orderView(o), requests: desk.requests.filter((r) => r.out_trade_no === outTradeNo) };
    },
    create_manual_refund: ({ manual, pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      const o = order(manual.out_trade_no ?? "");
      if (!o) throw error("order_unknown", `WeChat Pay has no order with ${manual.out_trade_no}: check the number`);
      const request = desk.request(o.out_trade_no, manual.amount, manual.reason, manual.customer);
      return desk.requests.find((r) => r.request === request);
    },
    settings_get: () => {
      if (!owner(null)) throw error("needs_owner", "the owner PIN is needed");
      return {
        mode: desk.mode,
        merchant: desk.merchant ?? null,
        intake: { url: "http://127.0.0.1:8720", listen: "127.0.0.1:8720", public_url: null, shared_secret: "5f1c0d8e2b7a4c3d9e6f1a2b3c4d5e6f", example_request: "curl -X POST 'http://127.0.0.1:8720/api/v1/refund-requests' \\\n  -H 'X-Merchant-Desk-Timestamp: 1795413909' ..." },
        alerts: desk.alerts,
        language: desk.language,
        recharge_fallback: false,
        relay: desk.relay ?? null,
      };
    },
    // Pairing as the real desk does: the code is 20 of Crockford's letters; this fake relay
    // knows one code, for the owner's desk.
    relay_pair: ({ url, code, name, pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      if (code.replace(/[-\s]/g, "").length !== 20) throw error("invalid_input", "a pairing code is 20 letters and digits, like 7KQM-3XTR-9BHD-2WPN-5C8E: check what was typed");
      if (code !== "7KQM-3XTR-9BHD-2WPN-5C8E") throw error("setup", "the relay refused (404): this pairing code is unknown, used or expired: ask the owner's desk for a new one");
      const shop = "k7qm3xtr9b";
      desk.relay = {
        url, shop, desk_id: 1, role: "owner",
        notify_url: `${url}/shops/${shop}/wxpay/notify`,
        refund_requests_url: `${url}/shops/${shop}/api/v1/refund-requests`,
        connected: true, position: 0, problem: null, missed: null,
        name,
      };
      return commands.settings_get();
    },
    relay_invite: ({ pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      return { code: "M3QX-8ZKD-1VTR-4HPA-9WBE", expires_at: now() + 900 };
    },
    // The real desk's setup checks, in miniature: the key that WeChat takes is FAKE_KEY, the
    // certificate password "wrong" is wrong, and the intake is reached at any https:// address.
    check_merchant: ({ merchant, pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      return setupChecks(merchant);
    },
    save_merchant_settings: ({ merchant, pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      if (!merchant.api_key || !merchant.certificate) throw error("invalid_input", "the API key and the certificate are both needed to save");
      const checks = setupChecks(merchant);
      const saved = checks.every((c) => c.status !== "failed");
      if (saved) desk.merchant = { appid: merchant.appid, mch_id: merchant.mch_id, sign_type: merchant.sign_type, certificate_kind: merchant.certificate.kind, certificate_path: "/data/certificates/1/apiclient_cert.p12", secrets: "keyring" };
      return { saved, checks };
    },
    check_intake: ({ pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      const url = desk.publicUrl;
      if (!url) return { name: "intake", status: "warning", finding: { code: "no_public_url" } };
      if (!url.startsWith("https://")) return { name: "intake", status: "failed", finding: { code: "unreachable", problem: "not_https", detail: url } };
      return { name: "intake", status: "ok", finding: { code: "reached", url } };
    },
    sandbox_trial_refund: ({ pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      if (desk.mode !== "sandbox") throw error("invalid_input", "the trial refund runs in the sandbox");
      const no = `TRIAL${desk.nextRequest}`;
      desk.pay(no, 1);
      const request = desk.request(no, 1, "首笔退款演练", null);
      approve(request, null);
      const item = desk.requests.find((r) => r.request === request);
      item.state = "processing";
      setTimeout(() => (item.state = "succeeded"), 1500);
      return request;
    },
    run_doctor: () => [],
    set_mode: ({ mode, pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      desk.mode = mode;
      return commands.app_status();
    },
    save_intake: ({ publicUrl }) => {
      desk.publicUrl = publicUrl;
      return commands.settings_get();
    },
    unlock: ({ pin }) => {
      if (pin !== desk.pin) throw error("wrong_pin", "wrong PIN");
      desk.unlocked = true;
      return commands.app_status().access;
    },
    lock: () => {
      desk.unlocked = false;
      return commands.app_status().access;
    },
    change_pin: ({ currentPin, newPin }) => {
      if (newPin !== null && !/^[0-9]{6,12}$/.test(newPin)) throw error("invalid_input", "a new PIN is 6 to 12 digits");
      if (desk.pin !== null && currentPin !== desk.pin) throw error("wrong_pin", "wrong PIN");
      if (newPin !== desk.pin) desk.pinTooShort = false;
      // Like the desk: a new PIN starts unlocked (its owner has just typed it).
      if (newPin !== desk.pin) desk.unlocked = newPin !== null;
      desk.pin = newPin;
      return commands.app_status().access;
    },
    set_always_ask_above: ({ amount }) => {
      desk.alwaysAskAbove = amount;
      return commands.app_status().access;
    },
    set_staff_limit: ({ amount, pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      desk.staffLimit = amount;
      return commands.app_status().access;
    },
    audit_log: () => desk.audit,
    exchange_log: () => desk.exchanges,
    save_alerts: ({ alerts }) => (desk.alerts = alerts),
    set_language: ({ language }) => (desk.language = language),
    send_test_alert: () => {
      const alert = { key: `test:${now()}`, kind: "test", title: "测试提醒 ¥0.01", body: "", sound: true, up_to: 0, target: { screen: "settings" } };
      emit("alert", alert);
      return alert;
    },
    acknowledge_alerts: () => 0,
    today_board: () => {
      const start = now() - ((now() + 8 * 3600) % 86400);
      const hours = (from) => {
        const slots = Array(24).fill(0);
        for (const o of desk.orders) if (o.paid_at >= from && o.paid_at < from + 86400) slots[Math.floor((o.paid_at - from) / 3600)] += o.total_fee;
        return slots;
      };
      const today = desk.orders.filter((o) => o.paid_at >= start);
      const takings = today.reduce((sum, o) => sum + o.total_fee, 0);
      return {
        day_start: start,
        takings,
        orders: today.length,
        average: today.length ? Math.round(takings / today.length) : 0,
        refunds: 0,
        refunded: 0,
        hours: hours(start),
        hours_before: hours(start - 86400),
        latest: desk.orders.slice(0, 4).map(orderView),
      };
    },
  };

  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener: () => {} };
  window.__TAURI_INTERNALS__ = {
    metadata: { currentWindow: { label: "main" }, currentWebview: { windowLabel: "main", label: "main" } },
    transformCallback(callback) {
      const id = nextCallback++;
      callbacks.set(id, callback);
      return id;
    },
    unregisterCallback(id) {
      callbacks.delete(id);
    },
    convertFileSrc: (path) => path,
    async invoke(command, args = {}) {
      if (command === "plugin:event|listen") {
        if (!listeners.has(args.event)) listeners.set(args.event, []);
        listeners.get(args.event).push(args.handler);
        return args.handler;
      }
      if (command === "plugin:event|unlisten") return null;
      desk.calls.push({ command, args });
      const handler = commands[command];
      if (!handler) throw error("unexpected", `the fake desk has no command ${command}`);
      return structuredClone(handler(args));
    },
  };
})();
