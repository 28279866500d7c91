// The cashier page: preview a voucher (typed or scanned), redeem it exactly once, reverse;
// the day's takings (日结); the merchant's own statement (对账单) of its subsidy.
import { CATEGORY_NAMES, ERROR_TEXT, dateTime, downloadButtons, el, errorText, newIdempotencyKey, parseYuan, show, signedInPage, today, yuan } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const { api, render, signIn } = signedInPage("cashier", () => {
  loadToday();
  loadStatement();
});
Object.assign(ERROR_TEXT, { already_clawed_back: "该笔补贴已被追回，不能撤销" });
let voucher = null;
// One checkout attempt = one Idempotency-Key, kept for its retries (a double click or a
// lost answer can never redeem twice); a new voucher or amount starts a new attempt.
let attempt = null;

$("sign-in").addEventListener("click", async () => {
  const merchantId = Number($("merchant-id").value.trim());
  const body = { merchant_id: merchantId, api_key: $("api-key").value.trim() };
  if (await signIn("/auth/merchant", body, `商户 ${merchantId}`)) $("api-key").value = "";
});

// --- preview -------------------------------------------------------------------------

async function preview() {
  const code = $("code").value.trim();
  $("redeem-box").hidden = true;
  $("redeem-result").textContent = "";
  voucher = null;
  attempt = null;
  if (!code) return;
  try {
    voucher = await api.json("GET", `/merchant/vouchers/${encodeURIComponent(code)}`);
    voucher.input = code;
    const verdict = voucher.redeemable
      ? el("div", { class: "ok-text" }, "✓ 可在本店使用")
      : el("div", { class: "error-text" }, `✗ 不可使用：${ERROR_TEXT[voucher.reason] || voucher.reason}`);
    $("preview-box").replaceChildren(
      el("p", {}, el("span", { class: "pill" }, CATEGORY_NAMES[voucher.category]),
        `${yuan(voucher.face_value_fen)} · 满${yuan(voucher.min_spend_fen)}可用`),
      el("div", { class: "muted" }, `有效期至 ${dateTime(voucher.expires_at)}`),
      verdict,
    );
    $("redeem-box").hidden = !voucher.redeemable;
    updateSums();
  } catch (error) {
    $("preview-box").replaceChildren(el("div", { class: "error-text" }, errorText(error)));
  }
}
$("preview").addEventListener("click", preview);
$("code").addEventListener("keydown", (e) => e.key === "Enter" && preview());

function updateSums() {
  if (!voucher) return;
  const fen = parseYuan($("amount").value);
  if (fen === null) {
    $("sums").textContent = $("amount").value ? "请输入正确的金额（最多两位小数）" : "";
    return;
  }
  const discount = voucher.face_value_fen;
  $("sums").textContent =
    fen < voucher.min_spend_fen
      ? `未满 ${yuan(voucher.min_spend_fen)}，不能使用此券`
      : `优惠 ${yuan(discount)}，应付 ${yuan(fen - discount)}`;
}
$("amount").addEventListener("input", () => {
  attempt = null; // another amount is another request
  updateSums();
});

// --- redeem --------------------------------------------------------------------------

async function redeem() {
  const fen = parseYuan($("amount").value);
  if (!voucher || fen === null) {
    show("请输入正确的订单金额", "error");
    return;
  }
  const body = {
    code: voucher.input,
    order_amount_fen: fen,
    order_ref: $("order-ref").value.trim() || `POS-${Date.now()}`,
  };
  if (!attempt) attempt = { key: newIdempotencyKey(), body };
  $("redeem").disabled = true;
  $("retry").hidden = true;
  $("redeem-result").replaceChildren(el("div", { class: "muted" }, "核销中…"));
  try {
    const done = await api.json("POST", "/merchant/redemptions", {
      body: attempt.body,
      headers: { "Idempotency-Key": attempt.key },
    });
    $("redeem-result").replaceChildren(
      el("div", { class: "ok-text" }, `核销成功：优惠 ${yuan(done.discount_fen)}，应付 ${yuan(done.payable_fen)}`),
    );
    show("核销成功", "ok");
    attempt = null;
    voucher = null;
    $("redeem-box").hidden = true;
    $("preview-box").replaceChildren();
    $("code").value = "";
    $("amount").value = "";
    $("order-ref").value = "";
    loadToday();
    loadStatement();
  } catch (error) {
    $("redeem-result").replaceChildren(el("div", { class: "error-text" }, errorText(error)));
    if (error.code === undefined) {
      // The answer was lost: retry with the same key (the server answers as the first time).
      $("retry").hidden = false;
    } else {
      attempt = null;
    }
  } finally {
    $("redeem").disabled = false;
  }
}
$("redeem").addEventListener("click", redeem);
$("retry").addEventListener("click", redeem);

// --- today ---------------------------------------------------------------------------

async function loadToday() {
  try {
    const list = await api.json("GET", "/merchant/redemptions");
    $("totals").textContent =
      `${list.totals.count} 笔 · 订单 ${yuan(list.totals.order_amount_fen)} · 优惠 ${yuan(list.totals.discount_fen)}`;
    $("today").replaceChildren(
      el("tr", {}, el("th", {}, "时间"), el("th", { class: "text" }, "券码"), el("th", {}, "订单"),
        el("th", {}, "优惠"), el("th", {}, "状态"), el("th", {}, "")),
      ...list.items.map((r) =>
        el("tr", { "data-redemption": r.id },
          el("td", {}, dateTime(r.redeemed_at).split(" ")[1] || ""),
          el("td", { class: "text" }, r.code),
          el("td", {}, yuan(r.order_amount_fen)),
          el("td", {}, yuan(r.discount_fen)),
          el("td", {}, r.status === "completed" ? "已核销" : "已撤销"),
          el("td", {}, r.status === "completed"
            ? el("button", { class: "secondary small", onclick: () => reverse(r) }, "撤销")
            : ""))),
    );
  } catch (error) {
    $("today").replaceChildren(el("tr", {}, el("td", { class: "error-text" }, errorText(error))));
  }
}

// --- 日结: the whole day's takings -----------------------------------------------------------

$("turnover-save").addEventListener("click", async () => {
  const day = $("turnover-date").value || today();
  const fen = parseYuan($("turnover-amount").value);
  const count = $("turnover-count").value.trim();
  if (fen === null || (count && !/^\d{1,7}$/.test(count))) {
    show("请输入营业额（元，最多两位小数）和笔数（整数）", "error");
    return;
  }
  try {
    const body = { sales_fen: fen, transactions: count ? Number(count) : null };
    const saved = await api.json("PUT", `/merchant/turnover/${day}`, { body });
    $("turnover-result").textContent = `${saved.date} 日结已提交：${yuan(saved.sales_fen)}`;
  } catch (error) {
    show(errorText(error), "error");
  }
});

async function reverse(redemption) {
  try {
    await api.json("POST", `/merchant/redemptions/${redemption.id}/reversal`, {
      body: { reason: "收银撤销" },
    });
    show("已撤销，券已退回顾客", "ok");
  } catch (error) {
    show(errorText(error), "error");
  }
  loadToday();
  loadStatement();
}

// --- 对账单: the merchant's statement per business day -------------------------------------

function daysBefore(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

function statementQuery() {
  if (!$("statement-to").value) $("statement-to").value = today();
  if (!$("statement-from").value) $("statement-from").value = daysBefore($("statement-to").value, 6);
  return new URLSearchParams({ from: $("statement-from").value, to: $("statement-to").value });
}

const STATEMENT_HEADS = ["日期", "核销笔数", "补贴", "撤销", "追回", "已结算", "已付款", "付款编号", "退票", "待结算", "应付余额"];

async function loadStatement() {
  try {
    const { items } = await api.json("GET", `/merchant/statement?${statementQuery()}`);
    const sum = (key) => items.reduce((total, d) => total + d[key], 0);
    const last = items[items.length - 1];
    $("statement").replaceChildren(
      el("tr", {}, ...STATEMENT_HEADS.map((h, i) => el("th", { class: i === 7 ? "text" : "" }, h))),
      ...items.map((d) => el("tr", { "data-date": d.date },
        el("td", {}, d.date), el("td", {}, d.redemptions), el("td", {}, yuan(d.earned_fen)),
        el("td", {}, yuan(d.reversed_fen)), el("td", {}, yuan(d.clawed_back_fen)), el("td", {}, yuan(d.settled_fen)),
        el("td", {}, yuan(d.paid_out_fen)), el("td", { class: "text mono" }, d.references || "—"),
        el("td", { class: d.returned_failed_fen ? "error-text" : "" }, yuan(d.returned_failed_fen)),
        el("td", {}, yuan(d.unsettled_fen)),
        el("td", { class: d.payable_fen < 0 ? "error-text" : "" }, yuan(d.payable_fen)))),
      items.length
        ? el("tr", { class: "total" }, el("td", {}, "合计"), el("td", {}, sum("redemptions")),
          ...["earned_fen", "reversed_fen", "clawed_back_fen", "settled_fen", "paid_out_fen"].map((k) => el("td", {}, yuan(sum(k)))),
          el("td", {}, ""), el("td", {}, yuan(sum("returned_failed_fen"))),
          el("td", {}, yuan(last.unsettled_fen)), el("td", {}, yuan(last.payable_fen)))
        : el("tr", {}, el("td", { colspan: STATEMENT_HEADS.length, class: "muted" }, "所选期间没有补贴变动")),
    );
  } catch (error) {
    $("statement").replaceChildren(el("tr", {}, el("td", { class: "error-text" }, errorText(error))));
  }
}

$("statement-search").addEventListener("click", loadStatement);
downloadButtons(api, "statement", () => `/merchant/statement?${statementQuery()}`, (error) => show(errorText(error), "error"));

// --- camera --------------------------------------------------------------------------

let scanning = false;
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) $("scan").hidden = false;

$("scan").addEventListener("click", async () => {
  if (scanning) return;
  const video = $("camera");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch {
    show("无法打开摄像头，请手动输入券码", "error");
    return;
  }
  scanning = true;
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  const detector = "BarcodeDetector" in window ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
  const canvas = document.createElement("canvas");
  const stop = () => {
    scanning = false;
    stream.getTracks().forEach((t) => t.stop());
    video.hidden = true;
  };
  const frame = async () => {
    if (!scanning) return;
    let text = null;
    if (detector) {
      const found = await detector.detect(video).catch(() => []);
      text = found.length ? found[0].rawValue : null;
    } else if (window.jsQR && video.videoWidth) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const ctx = canvas.getContext("2d");
      ctx.drawImage(video, 0, 0);
      const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(image.data, image.width, image.height);
      text = found ? found.data : null;
    }
    if (text) {
      stop();
      $("code").value = text;
      preview();
    } else {
      requestAnimationFrame(frame);
    }
  };
  requestAnimationFrame(frame);
  setTimeout(() => scanning && stop(), 60000);
});

render();
