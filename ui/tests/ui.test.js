// UI tests: every screen in both languages, in headless Chromium over the FAKE IPC.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { commandsCalled, fake, launch, openDesk, serveDist } from "./helpers.js";

let server;
let browser;
before(async () => {
  server = await serveDist();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.close();
});

// A shop with two paid orders and two requests, one waiting for more than a day.
function shop() {
  const desk = window.__fakeDesk;
  const now = Math.floor(Date.now() / 1000);
  // "An hour ago", but never before China's midnight, so the order is today's whenever the test runs.
  const sinceMidnight = (now + 8 * 3600) % 86400;
  desk.orders.push(
    { out_trade_no: "A1001", transaction_id: "4200A1001", total_fee: 19800, paid_at: now - 3 * 86400 },
    { out_trade_no: "A1002", transaction_id: "4200A1002", total_fee: 4580, paid_at: now - Math.min(3600, Math.floor(sinceMidnight / 2)) },
  );
  desk.request("A1001", 19800, "发错货了", "顾客3128", now - 26 * 3600);
  desk.request("A1002", 4580, "尺码不合适", "顾客0794", now - 600);
}

describe("refund queue", () => {
  test("shows the sandbox, waiting requests with counts, and marks those over 24 h", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("sandbox-banner").getByText("沙箱模式").waitFor();
    await assert.doesNotReject(page.getByTestId("mode-tag").getByText("沙箱").waitFor());
    assert.equal(await page.getByTestId("count-pending").getAttribute("data-count"), "2");
    assert.equal(await page.getByTestId("amount-1").innerText(), "¥198.00");
    assert.equal(await page.getByTestId("overdue-1").innerText(), "超过 24 小时");
    assert.equal(await page.getByTestId("overdue-2").count(), 0, "a ten-minute-old request is not overdue");
    await page.close();
  });

  test("a long queue shows a page at a time, loads more on request, and a search narrows it", async () => {
    const page = await openDesk(browser, server.url, {
      setup: () => {
        const desk = window.__fakeDesk;
        const now = Math.floor(Date.now() / 1000);
        for (let i = 0; i < 250; i++) {
          const no = `L${String(i).padStart(5, "0")}`;
          desk.orders.push({ out_trade_no: no, transaction_id: `4200${no}`, total_fee: 1000, paid_at: now - 600 });
          desk.request(no, 500, "尺码不合适", "顾客", now - 300);
        }
      },
    });
    await page.getByTestId("queue-table").waitFor();
    assert.equal(await page.getByTestId("queue-shown").innerText(), "已显示 100 / 共 250 条");
    const inPage = await page.locator(".queue-row").count();
    assert.ok(inPage > 0 && inPage < 100, `only the rows in view are in the page (virtual scrolling): ${inPage}`);
    // Scrolled to its end, the table shows the oldest request of the page, still only a screenful.
    await page.getByTestId("queue-table").evaluate((table) => (table.scrollTop = table.scrollHeight));
    await page.getByTestId("request-151").waitFor();
    assert.equal(await page.getByTestId("request-250").count(), 0, "the newest rows left the page");
    assert.ok((await page.locator(".queue-row").count()) < 100);
    await page.getByTestId("queue-more").click();
    await page.getByTestId("queue-shown").getByText("已显示 200 / 共 250 条").waitFor();
    await page.getByTestId("queue-more").click();
    await page.getByTestId("queue-shown").getByText("已显示 250 / 共 250 条").waitFor();
    assert.equal(await page.getByTestId("queue-more").count(), 0, "nothing older is left");
    assert.deepEqual(
      await commandsCalled(page, "queue_list").then((calls) => calls.filter((c) => c.args.before != null).map((c) => c.args.before)),
      [151, 51],
      "each page starts after the oldest request shown",
    );

    await page.getByTestId("queue-search").locator("input").fill("L0012");
    await page.locator(".queue-row code").first().getByText("L00120").waitFor();
    const orders = await page.locator(".queue-row code").allInnerTexts();
    assert.ok(orders.length > 0 && orders.every((no) => no.startsWith("L0012")), JSON.stringify(orders));
    const asked = await commandsCalled(page, "queue_list");
    assert.ok(asked.some((c) => c.args.search === "L0012" && c.args.queueStates.join() === "pending"), JSON.stringify(asked.at(-1)));
    await page.getByTestId("queue-search").locator("input").fill("NOPE");
    await page.getByTestId("queue-empty").getByText("没有匹配的退款申请").waitFor();
    await page.getByTestId("queue-search").getByRole("button", { name: "清除" }).click();
    await page.getByTestId("queue-shown").getByText("已显示 100 / 共 250 条").waitFor();
    assert.equal(await page.getByTestId("queue-search").locator("input").inputValue(), "");
    await page.close();
  });

  test("rows shorter than the ones seen before still fill the table's view", async () => {
    const page = await openDesk(browser, server.url, {
      setup: () => {
        const desk = window.__fakeDesk;
        const now = Math.floor(Date.now() / 1000);
        const add = (i, state, refund) => {
          const no = `H${String(i).padStart(5, "0")}`;
          desk.orders.push({ out_trade_no: no, transaction_id: `4200${no}`, total_fee: 1000, paid_at: now - 600 });
          const request = desk.request(no, 500, "尺码不合适", "顾客", now - 300);
          Object.assign(desk.requests.find((r) => r.request === request), { state, decided_by: "owner" }, refund ? { refund } : { reject_reason: "已发货" });
        };
        // A failed refund's row (why, and what to do) is several times a rejected one's height.
        for (let i = 0; i < 30; i++) add(i, "failed", { id: i + 1, out_refund_no: `R${i}`, refund_fee: 500, refund_id: null, attempts: 1, problem: "account_abnormal", wechat_detail: "USER_ACCOUNT_ABNORMAL: 用户帐号注销", contradicted: false, updated_at: now });
        for (let i = 30; i < 90; i++) add(i, "rejected");
      },
    });
    const table = page.getByTestId("queue-table");
    const uncovered = () =>
      table.evaluate(async (element) => {
        await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        const rows = element.querySelectorAll(".queue-row");
        return element.getBoundingClientRect().bottom - rows[rows.length - 1].getBoundingClientRect().bottom;
      });
    await page.getByTestId("tab-attention").click();
    await page.getByTestId("problem-30").waitFor();
    await page.getByTestId("tab-rejected").click();
    await page.locator(".queue-row[data-state=rejected]").first().waitFor();
    const short = await uncovered();
    assert.ok(short <= 0, `the rejected rows reach the table's bottom: ${short} px short`);
    await table.evaluate((element) => (element.scrollTop = 600));
    const scrolledShort = await uncovered();
    assert.ok(scrolledShort <= 0, `scrolled, they still do: ${scrolledShort} px short`);
    await page.close();
  });

  test("the queue screen starts without naive-ui, which comes with the orders screen", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("approve-1").click();
    await page.getByTestId("refundable").waitFor();
    await page.keyboard.press("Escape");
    await page.getByTestId("approve-confirm").waitFor({ state: "detached" });
    // naive-ui writes its styles into <style cssr-id> elements when its components are set up.
    const naiveStyles = () => page.evaluate(() => document.querySelectorAll("style[cssr-id]").length);
    assert.equal(await naiveStyles(), 0, "the shell, the queue and its dialogs are plain elements");
    assert.equal((await commandsCalled(page, "approve_request")).length, 0, "Esc closes the dialog without approving");
    await page.getByTestId("nav").getByText("订单").click();
    await page.getByTestId("order-A1001").waitFor();
    assert.ok((await naiveStyles()) > 0, "the orders screen is naive-ui's");
    await page.close();
  });

  test("approves in full once, however often the button is clicked, and follows the refund live", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("approve-2").click();
    await page.getByTestId("refundable").getByText("¥45.80").waitFor();
    await page.getByTestId("approve-confirm").dblclick();
    await page.getByTestId("approve-confirm").waitFor({ state: "hidden" });
    assert.equal((await commandsCalled(page, "approve_request")).length, 1, "a double click sends one approval");
    await page.getByTestId("tab-working").click();
    await page.getByTestId("progress-2").waitFor();
    await fake(page, (desk) => desk.move(2, "processing"));
    await page.locator('[data-testid="progress-2"][data-state="processing"]').waitFor();
    await fake(page, (desk) => desk.move(2, "succeeded"));
    await page.getByTestId("tab-succeeded").click();
    await page.locator('[data-testid="request-2"][data-state="succeeded"]').waitFor();
    await page.close();
  });

  test("a partial refund is limited to what can still be refunded and sent in fen", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("approve-1").click();
    await page.getByTestId("approve-partial").click();
    await page.getByTestId("partial-amount").locator("input").fill("198.01");
    await page.getByTestId("amount-error").getByText("¥198.00").waitFor();
    assert.equal(await page.getByTestId("approve-confirm").isDisabled(), true);
    await page.getByTestId("partial-amount").locator("input").fill("12.5");
    await page.getByTestId("approve-confirm").click();
    await page.getByTestId("approve-confirm").waitFor({ state: "hidden" });
    const [call] = await commandsCalled(page, "approve_request");
    assert.equal(call.args.amount, 1250, "12.5 yuan is 1250 fen");
    await page.close();
  });

  test("rejecting needs a reason the customer will see", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("reject-2").click();
    await page.getByTestId("reject-confirm").click();
    await page.getByTestId("reject-error").getByText("请填写拒绝原因").waitFor();
    assert.equal((await commandsCalled(page, "reject_request")).length, 0);
    await page.getByTestId("reject-reason").locator("textarea").fill("已超过退货期");
    await page.getByTestId("reject-confirm").click();
    await page.getByTestId("tab-rejected").click();
    await page.getByText("店主 拒绝：已超过退货期").waitFor();
    await page.close();
  });

  test("batch approval approves every selected request", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("queue-select-all").click();
    await page.getByTestId("batch-approve").getByText("批量同意（2）").waitFor();
    await page.getByTestId("batch-approve").click();
    await page.getByTestId("queue-empty").waitFor();
    const [call] = await commandsCalled(page, "approve_requests");
    assert.deepEqual([...call.args.requests].sort(), [1, 2]);
    await page.close();
  });

  test("a failed refund says why and what to do", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("approve-2").click();
    await page.getByTestId("approve-confirm").click();
    await page.getByTestId("approve-confirm").waitFor({ state: "hidden" });
    await fake(page, (desk) => desk.move(2, "failed", "account_abnormal", "USER_ACCOUNT_ABNORMAL: 用户帐号注销"));
    await page.getByTestId("tab-attention").click();
    const problem = page.getByTestId("problem-2");
    await problem.getByText("顾客的微信账户已注销或异常").waitFor();
    await problem.getByText("USER_ACCOUNT_ABNORMAL: 用户帐号注销").waitFor();
    await problem.getByText("重新发起手动退款").waitFor();
    await page.close();
  });

  test("a held refund names the setup problem in the window's language", async () => {
    const page = await openDesk(browser, server.url, { seed: { language: "en" }, setup: shop });
    await page.getByTestId("approve-2").click();
    await page.getByTestId("approve-confirm").click();
    await page.getByTestId("approve-confirm").waitFor({ state: "hidden" });
    await fake(page, (desk) => desk.move(2, "held", "certificate_rejected", "400 The SSL certificate error"));
    await page.getByTestId("tab-attention").click();
    const problem = page.getByTestId("problem-2");
    await problem.getByText("Held", { exact: true }).waitFor();
    await problem.getByText("did not accept the merchant certificate", { exact: false }).waitFor();
    assert.equal(await problem.getByText("微信").count(), 0, "codes are translated in the window, not stored as Chinese");
    await page.close();
  });
});

describe("today board", () => {
  test("shows today's takings, orders, average and the latest order, live, with yesterday beside", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    const board = page.getByTestId("today-board");
    await board.getByText("今日收款").waitFor();
    // shop(): one order earlier today (¥45.80), one three days ago.
    assert.equal(await page.getByTestId("board-orders").innerText(), "1");
    assert.equal(await page.getByTestId("board-takings").innerText(), "¥45.80");
    await fake(page, (desk) => desk.pay("B3001", 10_000));
    await page.getByTestId("board-orders").getByText("2").waitFor();
    assert.equal(await page.getByTestId("board-takings").innerText(), "¥145.80");
    assert.equal(await page.getByTestId("board-average").innerText(), "¥72.90");
    assert.match(await page.getByTestId("board-latest").innerText(), /¥100\.00/);
    assert.equal(await page.getByTestId("board-chart").locator("rect.today").count(), 24, "one bar an hour");
    await page.close();
  });
});

describe("owner PIN", () => {
  test("staff see the queue read-only until the owner unlocks", async () => {
    const page = await openDesk(browser, server.url, { seed: { pin: "246813" }, setup: shop });
    await page.getByTestId("access-staff").waitFor();
    assert.equal(await page.getByTestId("approve-1").count(), 0, "no approve button without the owner");
    await page.getByTestId("unlock").click();
    await page.getByTestId("pin-input").locator("input").fill("1111");
    await page.getByTestId("pin-submit").click();
    await page.getByTestId("pin-error").getByText("密码错误").waitFor();
    await page.getByTestId("pin-input").locator("input").fill("246813");
    await page.getByTestId("pin-submit").click();
    await page.getByTestId("access-owner").waitFor();
    await page.getByTestId("approve-1").waitFor();
    await page.close();
  });

  test("large amounts ask for the PIN again even when unlocked", async () => {
    const page = await openDesk(browser, server.url, { seed: { pin: "246813", alwaysAskAbove: 10000 }, setup: shop });
    await page.getByTestId("unlock").click();
    await page.getByTestId("pin-input").locator("input").fill("246813");
    await page.getByTestId("pin-submit").click();
    await page.getByTestId("approve-1").click();
    await page.getByTestId("approve-confirm").click();
    await page.getByTestId("pin-input").waitFor();
    await page.getByTestId("pin-input").locator("input").fill("246813");
    await page.getByTestId("pin-submit").click();
    await page.getByTestId("approve-confirm").waitFor({ state: "hidden" });
    const calls = await commandsCalled(page, "approve_request");
    assert.equal(calls.at(-1).args.pin, "246813", "the approval carries the PIN typed for it");
    await page.close();
  });

  test("staff approve within the limit the owner granted; above it the PIN is asked", async () => {
    const page = await openDesk(browser, server.url, { seed: { pin: "246813", staffLimit: 5000, pinTooShort: true }, setup: shop });
    await page.getByTestId("access-staff").getByText("¥50.00").waitFor();
    await page.getByTestId("pin-too-short").getByText("少于 6 位").waitFor();
    // ¥45.80: within the limit, no PIN.
    await page.getByTestId("approve-2").click();
    await page.getByTestId("approve-confirm").click();
    await page.getByTestId("approve-confirm").waitFor({ state: "hidden" });
    assert.equal(await page.getByTestId("pin-dialog").getByTestId("pin-input").count(), 0, "no PIN was asked");
    let calls = await commandsCalled(page, "approve_request");
    assert.equal(calls.at(-1).args.pin, null);
    // ¥198.00: above it, the owner's PIN.
    await page.getByTestId("approve-1").click();
    await page.getByTestId("approve-confirm").click();
    await page.getByTestId("pin-input").locator("input").fill("246813");
    await page.getByTestId("pin-submit").click();
    await page.getByTestId("approve-confirm").waitFor({ state: "hidden" });
    calls = await commandsCalled(page, "approve_request");
    assert.deepEqual(calls.map((call) => call.args.pin), [null, null, "246813"], "refused as staff, then approved with the PIN");
    await page.close();
  });
});

describe("orders", () => {
  test("a live feed, search, detail with what is refundable, and a manual refund", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("nav").getByText("订单").click();
    await page.getByTestId("order-A1001").waitFor();
    await fake(page, (desk) => desk.pay("B2001", 1234));
    await page.getByTestId("order-B2001").locator("b").getByText("¥12.34").waitFor();
    await page.getByTestId("order-search").locator("input").fill("B2");
    await page.getByTestId("order-A1001").waitFor({ state: "detached" });
    await page.getByTestId("order-search").locator("input").fill("");
    await page.getByTestId("order-A1002").click();
    await page.getByTestId("detail-refundable").getByText("¥45.80").waitFor();
    await page.getByTestId("detail-manual-refund").click();
    await page.getByTestId("manual-amount").locator("input").fill("5");
    await page.getByTestId("manual-reason").locator("input").fill("电话要求退运费");
    await page.getByTestId("manual-create").click();
    await page.getByTestId("manual-dialog").waitFor({ state: "hidden" });
    const [call] = await commandsCalled(page, "create_manual_refund");
    assert.deepEqual(call.args.manual, { out_trade_no: "A1002", transaction_id: null, amount: 500, reason: "电话要求退运费", customer: null });
    await page.close();
  });

  test("a manual refund for an unknown order says so in Chinese", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("nav").getByText("订单").click();
    await page.getByTestId("manual-refund").click();
    await page.getByTestId("manual-number").locator("input").fill("NOPE");
    await page.getByTestId("manual-amount").locator("input").fill("1");
    await page.getByTestId("manual-reason").locator("input").fill("test");
    await page.getByTestId("manual-create").click();
    await page.getByTestId("manual-error").getByText("找不到这笔订单").waitFor();
    await page.close();
  });
});

describe("settings", () => {
  test("intake example, alert test, a refused API key, a saved merchant and a confirmed mode switch", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("nav").getByText("设置").click();
    await page.getByTestId("example-request").getByText("/api/v1/refund-requests").waitFor();
    assert.equal(await page.getByTestId("shared-secret").innerText(), "••••••••••••••••", "the secret is hidden until asked");
    await page.getByTestId("test-alert").click();
    await page.getByText("已发送测试提醒").waitFor();
    await page.getByTestId("appid").locator("input").fill("wx2421b1c4370ec43b");
    await page.getByTestId("mch-id").locator("input").fill("10000100");
    await page.getByTestId("api-key").locator("input").fill("short");
    await page.getByTestId("p12-file").setInputFiles({ name: "apiclient_cert.p12", mimeType: "application/x-pkcs12", buffer: Buffer.from([0x30, 0x82]) });
    await page.getByTestId("save-merchant").click();
    await page.getByTestId("finding-api_key").getByText("API 密钥应为 32 位字母和数字（现在是 5 位）").waitFor();
    await page.getByText("没有保存").waitFor();
    assert.equal(await fake(page, (desk) => desk.merchant ?? null), null, "nothing saved");
    await page.getByTestId("api-key").locator("input").fill("192006250b4c09247ec02edce69f6a2d");
    await page.getByTestId("save-merchant").click();
    await page.locator("[data-testid=check-wechat_refund][data-status=ok]").waitFor();
    await page.getByTestId("finding-wechat_refund").getByText("退款接口上接受了证书").waitFor();
    await page.getByTestId("mode-production").click();
    await page.getByText("切换到正式环境后").waitFor();
    await page.getByRole("button", { name: "确定" }).click();
    await page.getByTestId("mode-tag").getByText("正式环境").waitFor();
    assert.equal(await page.getByTestId("sandbox-banner").count(), 0);
    await page.close();
  });

  test("pairs the desk with the shop's relay, shows the link, and makes a code for a staff desk", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("nav").getByText("设置").click();
    const card = page.getByTestId("relay-card");
    await card.getByText("店铺电脑在路由器后面").waitFor();
    await page.getByTestId("relay-pair-url").locator("input").fill("https://relay.example.com");
    await page.getByTestId("relay-pair-code").locator("input").fill("7KQM-3XTR-9BHD");
    await page.getByTestId("relay-pair-name").locator("input").fill("店长");
    await page.getByTestId("relay-pair").click();
    await page.getByText("20 letters and digits", { exact: false }).waitFor();
    assert.equal(await fake(page, (desk) => desk.relay ?? null), null, "not paired");
    await page.getByTestId("relay-pair-code").locator("input").fill("7KQM-3XTR-9BHD-2WPN-5C8E");
    await page.getByTestId("relay-pair").click();
    await page.getByTestId("relay-link").getByText("已连接，已读到第 0 条").waitFor();
    assert.equal(await page.getByTestId("relay-role").innerText(), "店主电脑 · #1");
    assert.match(await page.getByTestId("relay-notify-url").innerText(), /\/shops\/k7qm3xtr9b\/wxpay\/notify$/);
    await page.getByTestId("relay-invite").click();
    assert.equal(await page.getByTestId("relay-code").innerText(), "M3QX-8ZKD-1VTR-4HPA-9WBE");
    await card.getByText("15 分钟内有效").waitFor();
    await page.close();
  });

  test("the setup guide checks each step live, says the fix in Chinese, and ends in production", async () => {
    const page = await openDesk(browser, server.url);
    await page.getByTestId("banner-setup").click();
    await page.getByTestId("setup-ids").waitFor();
    await page.getByTestId("setup-mch-id").locator("input").fill("19000x");
    await page.getByTestId("setup-appid").locator("input").fill("wx2421b1c4370ec43b");
    await page.getByTestId("setup-next").click();
    await page.getByTestId("finding-merchant").getByText("商户号应为 8–10 位数字").waitFor();
    await page.getByTestId("setup-mch-id").locator("input").fill("1900000109");
    await page.getByTestId("setup-next").click();
    await page.getByTestId("setup-key").waitFor();
    await page.getByTestId("setup-api-key").locator("input").fill("0".repeat(32));
    await page.getByTestId("setup-next").click();
    await page.getByTestId("finding-wechat_signature").getByText("API 密钥不正确").waitFor();
    await page.getByTestId("setup-api-key").locator("input").fill("192006250b4c09247ec02edce69f6a2d");
    await page.getByTestId("setup-next").click();
    await page.getByTestId("setup-certificate").waitFor();
    await page.getByTestId("setup-p12").setInputFiles({ name: "apiclient_cert.p12", mimeType: "application/x-pkcs12", buffer: Buffer.from([0x30, 0x82]) });
    await page.getByTestId("setup-password").locator("input").fill("wrong");
    await page.getByTestId("setup-next").click();
    await page.getByTestId("finding-certificate").getByText("证书密码不正确").waitFor();
    assert.equal(await fake(page, (desk) => desk.merchant ?? null), null, "a failed check saves nothing");
    await page.getByTestId("setup-password").locator("input").fill("");
    await page.getByTestId("setup-next").click();
    await page.getByTestId("setup-intake").waitFor();
    await page.getByTestId("setup-public-url").locator("input").fill("http://desk.example.com");
    await page.getByTestId("setup-test-intake").click();
    await page.getByTestId("finding-intake").getByText("只调用 https://").waitFor();
    await page.getByTestId("setup-public-url").locator("input").fill("https://desk.example.com");
    await page.getByTestId("setup-test-intake").click();
    await page.getByTestId("finding-intake").getByText("能到达本机").waitFor();
    await page.getByTestId("setup-next").click();
    await page.getByTestId("setup-trial").click();
    await page.getByTestId("setup-trial-done").waitFor();
    await page.getByTestId("setup-go-live").click();
    await page.getByRole("button", { name: "确定" }).click();
    await page.getByTestId("setup-live").waitFor();
    await page.getByTestId("mode-tag").getByText("正式环境").waitFor();
    await page.getByTestId("setup-finish").click();
    await page.getByTestId("tab-pending").waitFor();
    await page.close();
  });

  test("an alarm says what stopped verifying and leads to the fix until it is resolved", async () => {
    const alarm = { id: 1, cause: "api_key_mismatch", raised_at: 1795400000, last_at: 1795400100, count: 4, notified: true };
    const page = await openDesk(browser, server.url, { seed: { alarms: [alarm] } });
    await page.getByTestId("alarm-api_key_mismatch").getByText("微信支付的通知无法验证").waitFor();
    await page.getByTestId("alarm-api_key_mismatch").getByText("已拒收 4 条").waitFor();
    await page.getByTestId("alarm-fix-api_key_mismatch").click();
    await page.getByTestId("setup-ids").waitFor();
    await fake(page, (desk) => (desk.alarms = []));
    await fake(page, (desk) => desk.emit("alert", { key: "x", kind: "setup_alarm", title: "", body: "", sound: false, up_to: 0, target: { screen: "settings" } }));
    await page.getByTestId("alarm-api_key_mismatch").waitFor({ state: "detached" });
    await page.close();
  });

  test("start warnings are worded in the window's language, from the desk's codes", async () => {
    const warnings = [
      { code: "made_private", path: "/home/shop/.local/share/merchant-desk", mode: 0o755 },
      { code: "key_in_file", path: "/home/shop/.local/share/merchant-desk/secrets.json" },
    ];
    const page = await openDesk(browser, server.url, { seed: { warnings } });
    const shown = page.getByTestId("start-warning");
    await shown.first().getByText("已重新设为仅本人可读").waitFor();
    assert.match(await shown.first().innerText(), /merchant-desk 曾经可以被本机其他用户读取（权限 755）/);
    assert.match(await shown.nth(1).innerText(), /API 密钥保存在 \/home\/shop\/.local\/share\/merchant-desk\/secrets.json/);
    await page.getByRole("button", { name: "English" }).click();
    await shown.first().getByText("was readable by other users of this computer (mode 755)").waitFor();
    await page.close();
  });

  test("the version opens what is new in it", async () => {
    const page = await openDesk(browser, server.url);
    await page.getByTestId("version").getByText("v0.2.0").click();
    await page.getByTestId("whats-new").getByText("开通向导").first().waitFor();
    await page.close();
  });

  test("staff are told settings are the owner's", async () => {
    const page = await openDesk(browser, server.url, { seed: { pin: "246813" } });
    await page.getByTestId("nav").getByText("设置").click();
    await page.getByTestId("settings-locked").getByText("只能由店主").waitFor();
    await page.close();
  });
});

describe("audit log", () => {
  test("shows who approved what", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("approve-2").click();
    await page.getByTestId("approve-confirm").click();
    await page.getByTestId("approve-confirm").waitFor({ state: "hidden" });
    await page.getByTestId("nav").getByText("审计日志").click();
    const table = page.getByTestId("audit-table");
    await table.getByText("同意退款").waitFor();
    await table.getByText("¥45.80").waitFor();
    await page.close();
  });
});

describe("English", () => {
  test("every screen speaks English after switching, and the choice is saved", async () => {
    const page = await openDesk(browser, server.url, { setup: shop });
    await page.getByTestId("lang-en").click();
    await page.getByTestId("sandbox-banner").getByText("Sandbox: these orders").waitFor();
    await page.getByTestId("tab-pending").getByText("Waiting").waitFor();
    await page.getByTestId("overdue-1").getByText("Over 24 h").waitFor();
    await page.getByTestId("nav").getByText("Orders").click();
    await page.getByText("Search by order number", { exact: false }).first().waitFor();
    await page.getByTestId("nav").getByText("Audit log").click();
    await page.getByText("WeChat Pay exchanges").waitFor();
    await page.getByTestId("nav").getByText("Settings").click();
    await page.getByText("Merchant and certificate").waitFor();
    const [call] = await commandsCalled(page, "set_language");
    assert.equal(call.args.language, "en");
    await page.close();
  });

  test("a desk saved in English opens in English", async () => {
    const page = await openDesk(browser, server.url, { seed: { language: "en" }, setup: shop });
    await page.getByTestId("tab-pending").getByText("Waiting").waitFor();
    await page.close();
  });
});

describe("a desk that cannot start", () => {
  test("shows why instead of an empty window", async () => {
    const startError = { code: "desk_unavailable", message: "another Merchant Desk is already running with this data directory" };
    const page = await openDesk(browser, server.url, { seed: { startError } });
    await page.getByTestId("start-error").getByText("already running").waitFor();
    await page.close();
  });
});
