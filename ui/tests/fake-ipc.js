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
  function approve(request, amount) {
    const item = desk.requests.find((r) => r.request === request);
    if (!item) throw error("not_found", `no refund request ${request}`);
    if (item.state !== "pending") throw error("conflict", `refund request ${request} is ${item.state}, not pending`);
    const fee = amount ?? item.requested_fee;
    const remaining = orderView(order(item.out_trade_no)).refundable;
    if (fee > item.requested_fee) throw error("invalid_amount", `${fee} fen is more than the ${item.requested_fee} fen the customer asked for`);
    if (fee > remaining) throw error("invalid_amount", `${fee} fen is more than the ${remaining} fen that can still be refunded on this order`);
    const id = desk.nextRefund++;
    item.state = "approved";
    item.decided_by = "owner";
    item.decided_at = now();
    item.refund = { id, out_refund_no: `R${String(id).padStart(6, "0")}`, refund_fee: fee, refund_id: null, attempts: 0, problem: null, wechat_detail: null, contradicted: false, updated_at: now() };
    desk.audit.unshift({ id: desk.audit.length + 1, at: now(), actor: "owner", action: "approve", out_trade_no: item.out_trade_no, request, amount: fee, detail: null });
    setTimeout(() => emit("desk-event", { type: "refund_changed", refund: id, request, out_trade_no: item.out_trade_no, out_refund_no: item.refund.out_refund_no, refund_fee: fee, state: "approved", problem: null, wechat_detail: null, contradicted: false }), 0);
    return { refund: id, out_refund_no: item.refund.out_refund_no, refund_fee: fee };
  }
  const states = ["pending", "rejected", "withdrawn", "approved", "submitting", "processing", "succeeded", "closed", "needs_manual", "failed"];

  const commands = {
    app_status: () => ({
      mode: desk.mode,
      intake_url: "http://127.0.0.1:8720",
      data_dir: "/home/shop/.local/share/merchant-desk",
      warnings: [],
      language: desk.language,
      access: { pin_set: desk.pin !== null, owner: desk.pin === null || desk.unlocked, unlocked_until: desk.unlocked ? now() + 600 : null, always_ask_above_fen: desk.alwaysAskAbove },
      error: seed.startError ?? null,
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
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed: unlock with the PIN first");
      return approve(request, amount);
    },
    approve_requests: ({ requests, pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      return requests.map((request) => {
        try {
          return { request, approved: approve(request, null), error: null };
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
      };
    },
    save_merchant_settings: ({ merchant }) => {
      if (merchant.api_key.length !== 32) throw error("invalid_input", "the API key is 32 letters and digits: copy it again from the merchant platform");
      desk.merchant = { appid: merchant.appid, mch_id: merchant.mch_id, sign_type: merchant.sign_type, certificate_kind: merchant.certificate.kind, certificate_path: "/data/certificates/apiclient_cert.p12", secrets: "keyring" };
      return [
        { name: "config", status: "ok", detail: "config.toml is valid" },
        { name: "certificate", status: "ok", detail: "the certificate opens with its password and matches its key" },
        { name: "certificate_expiry", status: "ok", detail: "valid until 2031-11-23" },
        { name: "wechat_probe", status: "failed", detail: "WeChat Pay cannot be reached" },
      ];
    },
    run_doctor: () => [],
    set_mode: ({ mode, pin }) => {
      if (!owner(pin)) throw error("needs_owner", "the owner PIN is needed");
      desk.mode = mode;
      return commands.app_status();
    },
    save_intake: () => commands.settings_get(),
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
      if (desk.pin !== null && currentPin !== desk.pin) throw error("wrong_pin", "wrong PIN");
      // Like the desk: a new PIN starts unlocked (its owner has just typed it).
      if (newPin !== desk.pin) desk.unlocked = newPin !== null;
      desk.pin = newPin;
      return commands.app_status().access;
    },
    set_always_ask_above: ({ amount }) => {
      desk.alwaysAskAbove = amount;
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
