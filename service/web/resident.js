// The residents' page: SMS sign-in, batches by category with what remains, claim, wallet + QR,
// and lottery batches (摇号): enter, count down to the draw, see the result and the record.
import { CATEGORY_NAMES, checkFields, dateTime, el, errorText, festivalNow, newIdempotencyKey, requestCode, show, signedInPage, yuan } from "/static/common.js";
import { showMerchants } from "/static/where.js";

const $ = (id) => document.getElementById(id);
const { api, render, signIn } = signedInPage("resident", () => loadBatches());
let category = "all";
let walletStatus = "active";
let batches = [];
let entries = new Map(); // batch id → the caller's entry
let refreshTimer = null;
let clockTimer = null;

// --- sign in -------------------------------------------------------------------------

const PHONE_FIELD = { id: "phone", test: (v) => v !== "", text: "请输入手机号" };
const PHONE_SHAPE = { id: "phone", test: (v) => /^1\d{10}$/.test(v), text: "请输入 11 位手机号" };

$("send-code").addEventListener("click", async () => {
  const phone = $("phone").value.trim();
  if (!checkFields([PHONE_FIELD, PHONE_SHAPE])) return;
  await requestCode(api, phone, $("send-code"), $("login-error"));
});

// A refused code, in the words of the form (the API says unauthorized for all of them).
function codeRefused(error) {
  if (error.code !== "unauthorized") return null;
  if (error.details.reason === "locked") return "验证码错误次数过多，请重新获取验证码";
  if (Number.isInteger(error.details.attempts_left)) {
    return `验证码不正确，还可再试 ${error.details.attempts_left} 次`;
  }
  return "验证码无效或已过期，请重新获取";
}

$("sign-in").addEventListener("click", () => {
  const phone = $("phone").value.trim();
  const code = $("code").value.trim();
  const checks = [PHONE_FIELD, PHONE_SHAPE, { id: "code", test: (v) => v !== "", text: "请输入验证码" }];
  if (!checkFields(checks)) return;
  signIn("/auth/resident", { phone, code }, `${phone.slice(0, 3)}****${phone.slice(-4)}`, codeRefused);
});

// --- batches -------------------------------------------------------------------------

function countdown(iso) {
  const seconds = Math.max(0, Math.floor((new Date(iso) - festivalNow()) / 1000));
  const d = Math.floor(seconds / 86400);
  const hms = [Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60]
    .map((n) => String(n).padStart(2, "0"))
    .join(":");
  return d > 0 ? `${d}天 ${hms}` : hms;
}

const STATUS_TEXT = { open: "抢券中", scheduled: "即将开始", sold_out: "已抢光", closed: "已结束" };
const LOTTERY_STATUS_TEXT = { open: "报名中", scheduled: "即将报名", sold_out: "报名中", closed: "待开奖" };
const ENTRY_STATUS_TEXT = { pending: "待开奖", won: "中签", lost: "未中签" };

async function loadBatches() {
  try {
    const [response, mine] = await Promise.all([
      api.request("GET", "/batches"),
      api.json("GET", "/me/entries"),
    ]);
    batches = await response.json();
    entries = new Map(mine.map((e) => [e.batch_id, e]));
    drawBatches();
  } catch (error) {
    $("batches").replaceChildren(el("div", { class: "card error-text" }, errorText(error)));
  }
  clearTimeout(refreshTimer);
  // While anything is open, what remains is refreshed every few seconds.
  if (!$("app").hidden && batches.some((b) => b.status === "open")) {
    refreshTimer = setTimeout(loadBatches, 5000);
  }
}

function drawCategoryTabs() {
  const tabs = [["all", "全部"], ...Object.entries(CATEGORY_NAMES)];
  $("category-tabs").replaceChildren(
    ...tabs.map(([code, name]) =>
      el("button", {
        type: "button",
        class: code === category ? "active" : "",
        "aria-pressed": String(code === category),
        onclick: () => { category = code; drawBatches(); },
      }, name),
    ),
  );
}

// Ended: nothing left to do with it (a first-come batch closed or sold out, a drawn lottery the
// resident did not enter). Those fold away behind 已结束 (the demo has ~100 batches, 97 ended);
// the rest come open first, then upcoming, each in the API's order.
let showEnded = false;
function ended(b) {
  if (b.mode === "lottery") return Boolean(b.drawn_at) && !entries.has(b.id);
  return b.status === "closed" || b.status === "sold_out";
}
function rank(b) {
  if (b.mode === "lottery" && b.drawn_at) return 2; // the resident's result
  return b.status === "open" || (b.mode === "lottery" && b.status === "sold_out") ? 0 : 1;
}

function drawBatches() {
  drawCategoryTabs();
  const shown = batches.filter((b) => category === "all" || b.category === category);
  const live = shown.filter((b) => !ended(b)).map((b, i) => [rank(b), i, b]);
  live.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const over = shown.filter(ended);
  const card = (b) => (b.mode === "lottery" ? lotteryCard(b) : batchCard(b));
  const parts = live.length
    ? live.map(([, , b]) => card(b))
    : [el("div", { class: "card muted" }, over.length ? "暂无可领的券，活动批次均已结束" : "暂无可领的券")];
  if (over.length) {
    parts.push(el("button", {
      type: "button",
      id: "ended-toggle",
      class: "secondary wide",
      "aria-expanded": String(showEnded),
      "aria-controls": "ended-batches",
      onclick: () => { showEnded = !showEnded; drawBatches(); },
    }, showEnded ? `收起已结束的 ${over.length} 批` : `已结束（${over.length} 批）`));
    parts.push(el("div", { id: "ended-batches", class: "ended", hidden: !showEnded }, showEnded ? over.map(card) : []));
  }
  $("batches").replaceChildren(...parts);
  startCountdowns();
}

// Every [data-countdown] node shows its label and the time left until its instant.
function startCountdowns() {
  clearInterval(clockTimer);
  clockTimer = setInterval(() => {
    for (const node of document.querySelectorAll("[data-countdown]")) {
      node.textContent = `${node.dataset.label} ${countdown(node.dataset.countdown)}`;
    }
  }, 1000);
}

function counting(label, iso) {
  return el("div", { class: "muted", "data-countdown": iso, "data-label": label }, `${label} ${countdown(iso)}`);
}

const recordLink = (batchId) =>
  el("a", { href: `/draw?batch=${batchId}`, class: "muted" }, "开奖记录（可复核）");

function batchCard(batch) {
  const action =
    batch.status === "open"
      ? el("button", { onclick: (e) => claim(batch, e.target) }, pendingTaps.has(batch.id) ? "重试" : "立即领取")
      : el("button", { disabled: true, class: "secondary" }, STATUS_TEXT[batch.status]);
  return el("div", { class: "card batch", "data-batch": batch.id },
    el("div", { class: "value" },
      el("div", { class: "big" }, yuan(batch.face_value_fen).replace(".00", "")),
      el("div", { class: "muted" }, `满${yuan(batch.min_spend_fen).replace(".00", "")}可用`)),
    el("div", { class: "info" },
      el("h3", {}, batch.title),
      el("span", { class: "pill" }, CATEGORY_NAMES[batch.category]),
      el("span", { class: batch.status === "open" ? "pill ok" : "pill grey" }, STATUS_TEXT[batch.status]),
      el("div", { class: "muted" }, `剩余 ${batch.remaining} / ${batch.quantity} 张 · 每人限领 ${batch.per_resident_limit} 张`),
      batch.status === "scheduled"
        ? counting("距开抢", batch.claim_starts_at)
        : el("div", { class: "muted" }, `领取后 ${batch.valid_days} 天内有效`)),
    action);
}

// A lottery batch: 报名 in the registration window, then a countdown to the draw, then the
// caller's result and the public record anyone can recompute the draw from.
function lotteryCard(batch) {
  const entry = entries.get(batch.id);
  const drawn = Boolean(batch.drawn_at);
  const status = drawn ? "已开奖" : LOTTERY_STATUS_TEXT[batch.status];
  let action;
  if (entry) {
    action = el("button", { disabled: true, class: entry.status === "won" ? "" : "secondary" },
      drawn ? ENTRY_STATUS_TEXT[entry.status] : "已报名");
  } else if (!drawn && batch.status === "open") {
    action = el("button", { onclick: (e) => enter(batch, e.target) }, "报名");
  } else {
    action = el("button", { disabled: true, class: "secondary" }, drawn ? "已开奖" : status);
  }
  let when;
  if (drawn) when = el("div", { class: "muted" }, `开奖于 ${dateTime(batch.drawn_at)}`);
  else if (batch.status === "scheduled") when = counting("距报名开始", batch.claim_starts_at);
  else when = counting("距开奖", batch.draw_at);
  return el("div", { class: "card batch", "data-batch": batch.id, "data-mode": "lottery" },
    el("div", { class: "value" },
      el("div", { class: "big" }, yuan(batch.face_value_fen).replace(".00", "")),
      el("div", { class: "muted" }, `满${yuan(batch.min_spend_fen).replace(".00", "")}可用`)),
    el("div", { class: "info" },
      el("h3", {}, batch.title),
      el("span", { class: "pill" }, CATEGORY_NAMES[batch.category]),
      el("span", { class: "pill" }, "摇号"),
      el("span", { class: drawn ? "pill grey" : "pill ok" }, status),
      el("div", { class: "muted" },
        `名额 ${batch.quantity} 张 · 每人一次报名 · 报名截止 ${dateTime(batch.claim_ends_at)}`),
      when,
      drawn ? recordLink(batch.id) : null),
    action);
}

async function enter(batch, button) {
  button.disabled = true;
  try {
    await api.json("POST", `/batches/${batch.id}/entries`);
    show(`报名成功，开奖时间 ${dateTime(batch.draw_at)}`, "ok");
  } catch (error) {
    show(errorText(error), "error");
  }
  loadBatches();
}

// A tap whose answer was lost keeps its Idempotency-Key: 重试 sends the same one, so the
// server answers as it did the first time and never claims twice.
const pendingTaps = new Map();

async function claim(batch, button) {
  button.disabled = true;
  const key = pendingTaps.get(batch.id) || newIdempotencyKey();
  pendingTaps.set(batch.id, key);
  try {
    const voucher = await api.json("POST", `/batches/${batch.id}/claims`, {
      headers: { "Idempotency-Key": key },
    });
    pendingTaps.delete(batch.id);
    show(`领取成功：${voucher.title}`, "ok");
    loadBatches();
  } catch (error) {
    show(errorText(error), "error");
    // The network failed: the button says 重试 and sends the same tap again, safely.
    // Answered (a refusal): the next tap is a new one.
    if (error.code !== undefined) pendingTaps.delete(batch.id);
    loadBatches();
  } finally {
    button.disabled = false;
  }
}

// --- wallet --------------------------------------------------------------------------

const VIEWS = ["batches", "wallet", "entries", "nearby"];

// The four views are ARIA tabs: the chosen one is selected and the only one in the Tab
// order; the arrow keys move between them.
function showTab(name) {
  for (const tab of VIEWS) {
    const button = $(`tab-${tab}`);
    button.classList.toggle("active", name === tab);
    button.setAttribute("aria-selected", String(name === tab));
    button.tabIndex = name === tab ? 0 : -1;
    $(`${tab}-view`).hidden = name !== tab;
  }
  if (name === "wallet") {
    loadWallet();
    loadPreferences();
  }
  else if (name === "entries") loadEntries();
  else if (name === "nearby") loadNearby();
  else loadBatches();
}
for (const [i, tab] of VIEWS.entries()) {
  $(`tab-${tab}`).addEventListener("click", () => showTab(tab));
  $(`tab-${tab}`).addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = VIEWS[(i + step + VIEWS.length) % VIEWS.length];
    showTab(next);
    $(`tab-${next}`).focus();
  });
}

// --- where to spend --------------------------------------------------------------------

let nearbyCategory = "all";

function loadNearby() {
  const tabs = [["all", "全部"], ...Object.entries(CATEGORY_NAMES)];
  $("nearby-tabs").replaceChildren(
    ...tabs.map(([code, name]) =>
      el("button", {
        type: "button", class: code === nearbyCategory ? "active" : "", "aria-pressed": String(code === nearbyCategory),
        onclick: () => { nearbyCategory = code; loadNearby(); },
      }, name)),
  );
  const query = new URLSearchParams({ limit: "20" });
  if (nearbyCategory !== "all") query.set("category", nearbyCategory);
  if ($("nearby-open").checked) query.set("open_now", "true");
  showMerchants($("nearby"), query);
}
$("nearby-open").addEventListener("change", loadNearby);

// Where a voucher can be used: its batch's merchants (its category, or the batch's own list).
// A dialog like the QR's: focus moves into it and back; Esc closes it.
let placesFrom = null;
function openPlaces(voucher) {
  placesFrom = document.activeElement;
  $("places-title").textContent = `可用商户 · ${voucher.title}`;
  $("places-rule").textContent = `${CATEGORY_NAMES[voucher.category]}类商户，满${yuan(voucher.min_spend_fen)}可用`;
  $("places-modal").hidden = false;
  $("places-close").focus();
  showMerchants($("places"), new URLSearchParams({ batch_id: String(voucher.batch_id), limit: "20" }));
}
function closePlaces() {
  $("places-modal").hidden = true;
  if (placesFrom && placesFrom.isConnected) placesFrom.focus();
}
$("places-close").addEventListener("click", closePlaces);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !$("places-modal").hidden) closePlaces();
});

// --- lottery entries -------------------------------------------------------------------

async function loadEntries() {
  try {
    const mine = await api.json("GET", "/me/entries");
    $("entries").replaceChildren(
      ...(mine.length
        ? mine.map((e) =>
            el("div", { class: "card voucher", "data-entry": e.entry_id, "data-batch": e.batch_id },
              el("h3", {}, e.title),
              el("span", { class: "pill" }, CATEGORY_NAMES[e.category]),
              el("span", { class: e.status === "won" ? "pill ok" : "pill grey" }, ENTRY_STATUS_TEXT[e.status]),
              el("div", { class: "muted" }, `报名于 ${dateTime(e.entered_at)} · 报名编号 ${e.entry_id.slice(0, 8)}…`),
              e.status === "pending"
                ? counting("距开奖", e.draw_at)
                : el("div", { class: "muted" }, `开奖于 ${dateTime(e.drawn_at)}`),
              e.voucher_code ? el("p", { class: "code" }, grouped(e.voucher_code)) : null,
              e.voucher_code
                ? el("button", { onclick: () => openQr({ title: e.title, code: e.voucher_code }) }, "出示二维码")
                : null,
              e.status === "pending" ? null : el("div", {}, recordLink(e.batch_id))))
        : [el("div", { class: "card muted" }, "还没有报名摇号")]),
    );
    startCountdowns();
  } catch (error) {
    $("entries").replaceChildren(el("div", { class: "card error-text" }, errorText(error)));
  }
}

for (const button of document.querySelectorAll("#status-tabs button")) {
  button.addEventListener("click", () => {
    walletStatus = button.dataset.status;
    picked = new Map();
    for (const b of document.querySelectorAll("#status-tabs button")) {
      b.classList.toggle("active", b === button);
      b.setAttribute("aria-pressed", String(b === button));
    }
    loadWallet();
  });
}

function grouped(code) {
  return code.match(/.{1,4}/g).join(" ");
}

// Several active vouchers of one category can go into one QR code (合并使用, at most 10):
// the cashier scans it once and redeems them all, or none.
const MAX_TOGETHER = 10;
let picked = new Map(); // code → voucher

async function loadWallet() {
  try {
    const vouchers = await api.json("GET", `/me/vouchers?status=${walletStatus}`);
    const active = new Set(vouchers.filter((v) => v.status === "active").map((v) => v.code));
    picked = new Map([...picked].filter(([code]) => active.has(code)));
    $("wallet").replaceChildren(
      ...(vouchers.length
        ? vouchers.map((v) =>
            el("div", { class: "card voucher", "data-code": v.code, "data-category": v.category },
              el("h3", {}, v.title),
              el("span", { class: "pill" }, CATEGORY_NAMES[v.category]),
              el("span", { class: "muted" }, `${yuan(v.face_value_fen)} · 满${yuan(v.min_spend_fen)}可用`),
              el("p", { class: "code" }, grouped(v.code)),
              el("div", { class: "muted" },
                v.status === "redeemed" ? `使用于 ${dateTime(v.redeemed_at)}` : `有效期至 ${dateTime(v.expires_at)}`),
              v.status === "active"
                ? el("div", { class: "row" },
                  el("button", { type: "button", onclick: () => openQr(v) }, "出示二维码"),
                  el("button", { type: "button", class: "secondary", onclick: () => openPlaces(v) }, "可用商户"))
                : null,
              v.status === "active"
                ? el("label", { class: "check" },
                    el("input", { type: "checkbox", "data-pick": v.code, checked: picked.has(v.code),
                      onchange: (e) => pick(v, e.target.checked) }),
                    "合并使用")
                : null))
        : [el("div", { class: "card muted" }, "这里还没有券")]),
    );
    showPicked();
  } catch (error) {
    $("wallet").replaceChildren(el("div", { class: "card error-text" }, errorText(error)));
  }
}

function pick(voucher, on) {
  if (on) picked.set(voucher.code, voucher);
  else picked.delete(voucher.code);
  showPicked();
}

// One category per checkout: once one is picked, the others' boxes are off (and say why),
// and so are all boxes at ten.
function showPicked() {
  const chosen = [...picked.values()];
  const category = chosen.length ? chosen[0].category : null;
  for (const box of document.querySelectorAll("[data-pick]")) {
    const other = category !== null && box.closest(".voucher").dataset.category !== category;
    box.disabled = !box.checked && (other || chosen.length >= MAX_TOGETHER);
    box.parentElement.title = other ? "只能合并同一品类的券" : "";
  }
  $("together-bar").hidden = walletStatus !== "active" || chosen.length === 0;
  const discount = chosen.reduce((sum, v) => sum + v.face_value_fen, 0);
  const threshold = chosen.reduce((sum, v) => sum + v.min_spend_fen, 0);
  $("together-sum").textContent =
    `已选 ${chosen.length} 张${CATEGORY_NAMES[category] || ""}券 · 共优惠 ${yuan(discount)} · 需消费满 ${yuan(threshold)}`;
  $("together").disabled = chosen.length < 2;
}

// Expiry reminders by SMS: on or off for the person; the phone they go to, masked.
async function loadPreferences() {
  try {
    drawPreferences(await api.json("GET", "/me/preferences"));
  } catch (error) {
    $("sms-phone").textContent = errorText(error);
  }
}

function drawPreferences(preferences) {
  $("sms-reminders").checked = preferences.sms_reminders;
  $("sms-reminders").disabled = !preferences.phone;
  $("sms-phone").textContent = preferences.phone
    ? `短信发送至 ${preferences.phone}；摇号结果不受此设置影响`
    : "用手机号登录后才能收到短信";
}

$("sms-reminders").addEventListener("change", async (event) => {
  const box = event.target;
  box.disabled = true;
  try {
    const saved = await api.json("PUT", "/me/preferences", { body: { sms_reminders: box.checked } });
    drawPreferences(saved);
    show(saved.sms_reminders ? "已开启到期提醒" : "已关闭到期提醒", "ok");
  } catch (error) {
    box.checked = !box.checked;
    box.disabled = false;
    show(errorText(error), "error");
  }
});

// The QR dialog: focus moves into it and back to the button that opened it; Esc closes it.
let openedFrom = null;
let qrTimer = null;

function openDialog(title, code, hint) {
  clearInterval(qrTimer);
  openedFrom = document.activeElement;
  $("qr-title").textContent = title;
  $("qr-code").textContent = code;
  $("qr-image").removeAttribute("src");
  $("qr-image").classList.remove("expired");
  $("qr-together").hidden = true;
  $("qr-hint").textContent = hint;
  $("qr-modal").hidden = false;
  $("qr-close").focus();
}

async function openQr(voucher) {
  openDialog(voucher.title, grouped(voucher.code), "请向收银员出示二维码，或报出券码");
  try {
    // The image needs the token, so it is fetched, never linked with the token in its URL.
    const response = await api.request("GET", `/me/vouchers/${voucher.code}/qr.svg`);
    $("qr-image").src = URL.createObjectURL(await response.blob());
  } catch (error) {
    show(errorText(error), "error");
  }
}

// The QR code of several vouchers is signed and valid ten minutes: the dialog counts down and
// offers a new one when it has run out.
async function openTogether() {
  const codes = [...picked.keys()];
  openDialog(`合并使用 ${codes.length} 张券`, "", "请收银员扫码，一次核销全部券（全部成功或全部不核销）");
  try {
    const found = await api.json("GET", `/me/checkout-qr?codes=${codes.join(",")}`);
    $("qr-image").src = URL.createObjectURL(new Blob([found.svg], { type: "image/svg+xml" }));
    $("qr-code").replaceChildren(...found.codes.map((code) => el("div", { class: "codes" }, grouped(code))));
    $("qr-sum").textContent =
      `${CATEGORY_NAMES[found.category]}券 ${found.count} 张 · 共优惠 ${yuan(found.discount_fen)} · 消费满 ${yuan(found.min_spend_fen)} 可用`;
    $("qr-together").hidden = false;
    $("qr-again").hidden = true;
    const tick = () => {
      const left = Math.max(0, Math.floor((new Date(found.expires_at) - festivalNow()) / 1000));
      const until = dateTime(found.expires_at).split(" ")[1] || "";
      $("qr-expiry").textContent = left > 0
        ? `二维码 ${Math.round(found.valid_for_s / 60)} 分钟内有效，至 ${until}（剩余 ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}）`
        : "二维码已过期，请重新生成";
      $("qr-image").classList.toggle("expired", left <= 0);
      if (left <= 0) {
        clearInterval(qrTimer);
        $("qr-again").hidden = false;
      }
    };
    tick();
    qrTimer = setInterval(tick, 1000);
  } catch (error) {
    show(errorText(error), "error");
    closeQr();
  }
}
$("together").addEventListener("click", openTogether);
$("qr-again").addEventListener("click", openTogether);

function closeQr() {
  clearInterval(qrTimer);
  $("qr-modal").hidden = true;
  if (openedFrom && openedFrom.isConnected) openedFrom.focus();
  loadWallet();
}
$("qr-close").addEventListener("click", closeQr);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !$("qr-modal").hidden) closeQr();
});

render();
