// The residents' page: SMS sign-in, batches by category with what remains, claim, wallet + QR.
import { CATEGORY_NAMES, dateTime, el, errorText, newIdempotencyKey, show, signedInPage, yuan } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const { api, render, signIn } = signedInPage("resident", () => loadBatches());
let category = "all";
let walletStatus = "active";
let batches = [];
let refreshTimer = null;
let clockTimer = null;

// --- sign in -------------------------------------------------------------------------

$("send-code").addEventListener("click", async () => {
  const phone = $("phone").value.trim();
  $("login-error").textContent = "";
  try {
    const sent = await api.json("POST", "/auth/otp", { body: { phone } });
    show("验证码已发送", "ok");
    let wait = sent.resend_after;
    const button = $("send-code");
    button.disabled = true;
    const tick = setInterval(() => {
      button.textContent = wait > 0 ? `${wait}秒后重发` : "获取验证码";
      if (wait-- <= 0) {
        clearInterval(tick);
        button.disabled = false;
      }
    }, 1000);
  } catch (error) {
    $("login-error").textContent = errorText(error);
  }
});

$("sign-in").addEventListener("click", () => {
  const phone = $("phone").value.trim();
  const code = $("code").value.trim();
  signIn("/auth/resident", { phone, code }, `${phone.slice(0, 3)}****${phone.slice(-4)}`);
});

// --- batches -------------------------------------------------------------------------

function countdown(iso) {
  const seconds = Math.max(0, Math.floor((new Date(iso) - Date.now()) / 1000));
  const d = Math.floor(seconds / 86400);
  const hms = [Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60]
    .map((n) => String(n).padStart(2, "0"))
    .join(":");
  return d > 0 ? `${d}天 ${hms}` : hms;
}

const STATUS_TEXT = { open: "抢券中", scheduled: "即将开始", sold_out: "已抢光", closed: "已结束" };

async function loadBatches() {
  try {
    const response = await api.request("GET", "/batches");
    batches = await response.json();
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
        class: code === category ? "active" : "",
        onclick: () => { category = code; drawBatches(); },
      }, name),
    ),
  );
}

function drawBatches() {
  drawCategoryTabs();
  const shown = batches.filter((b) => category === "all" || b.category === category);
  if (!shown.length) {
    $("batches").replaceChildren(el("div", { class: "card muted" }, "暂无可领的券"));
    return;
  }
  $("batches").replaceChildren(...shown.map(batchCard));
  clearInterval(clockTimer);
  clockTimer = setInterval(() => {
    for (const node of document.querySelectorAll("[data-countdown]")) {
      node.textContent = `距开抢 ${countdown(node.dataset.countdown)}`;
    }
  }, 1000);
}

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
        ? el("div", { class: "muted", "data-countdown": batch.claim_starts_at }, `距开抢 ${countdown(batch.claim_starts_at)}`)
        : el("div", { class: "muted" }, `领取后 ${batch.valid_days} 天内有效`)),
    action);
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

function showTab(name) {
  $("tab-batches").classList.toggle("active", name === "batches");
  $("tab-wallet").classList.toggle("active", name === "wallet");
  $("batches-view").hidden = name !== "batches";
  $("wallet-view").hidden = name !== "wallet";
  if (name === "wallet") loadWallet();
  else loadBatches();
}
$("tab-batches").addEventListener("click", () => showTab("batches"));
$("tab-wallet").addEventListener("click", () => showTab("wallet"));

for (const button of document.querySelectorAll("#status-tabs button")) {
  button.addEventListener("click", () => {
    walletStatus = button.dataset.status;
    for (const b of document.querySelectorAll("#status-tabs button")) b.classList.toggle("active", b === button);
    loadWallet();
  });
}

function grouped(code) {
  return code.match(/.{1,4}/g).join(" ");
}

async function loadWallet() {
  try {
    const vouchers = await api.json("GET", `/me/vouchers?status=${walletStatus}`);
    $("wallet").replaceChildren(
      ...(vouchers.length
        ? vouchers.map((v) =>
            el("div", { class: "card voucher", "data-code": v.code },
              el("h3", {}, v.title),
              el("span", { class: "pill" }, CATEGORY_NAMES[v.category]),
              el("span", { class: "muted" }, `${yuan(v.face_value_fen)} · 满${yuan(v.min_spend_fen)}可用`),
              el("p", { class: "code" }, grouped(v.code)),
              el("div", { class: "muted" },
                v.status === "redeemed" ? `使用于 ${dateTime(v.redeemed_at)}` : `有效期至 ${dateTime(v.expires_at)}`),
              v.status === "active" ? el("button", { onclick: () => openQr(v) }, "出示二维码") : null))
        : [el("div", { class: "card muted" }, "这里还没有券")]),
    );
  } catch (error) {
    $("wallet").replaceChildren(el("div", { class: "card error-text" }, errorText(error)));
  }
}

async function openQr(voucher) {
  $("qr-title").textContent = voucher.title;
  $("qr-code").textContent = grouped(voucher.code);
  $("qr-image").removeAttribute("src");
  $("qr-modal").hidden = false;
  try {
    // The image needs the token, so it is fetched, never linked with the token in its URL.
    const response = await api.request("GET", `/me/vouchers/${voucher.code}/qr.svg`);
    $("qr-image").src = URL.createObjectURL(await response.blob());
  } catch (error) {
    show(errorText(error), "error");
  }
}
$("qr-close").addEventListener("click", () => {
  $("qr-modal").hidden = true;
  loadWallet();
});

render();
