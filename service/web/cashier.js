// The cashier page: preview a voucher (typed or scanned) or a checkout of several (a resident's
// 合并使用 QR, or codes separated by commas), redeem exactly once, reverse; who is signed in
// (the merchant's owner or one of its cashiers); for the owner: cashier accounts, the day's
// takings (日结) and the merchant's own statement (对账单) of its subsidy.
import { CATEGORY_NAMES, ERROR_TEXT, checkFields, dateTime, downloadButtons, el, errorText, newIdempotencyKey, parseYuan, show, signedInPage, today, yuan } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const { api, render, signIn } = signedInPage("cashier", () => {
  loadWho();
  loadToday();
});
Object.assign(ERROR_TEXT, { already_clawed_back: "该笔补贴已被追回，不能撤销" });
// What the cashier previewed: one voucher, or several to redeem together (all or none).
let pending = null;
// One checkout attempt = one Idempotency-Key, kept for its retries (a double click or a
// lost answer can never redeem twice); a new voucher or amount starts a new attempt.
let attempt = null;
let owner = false;

$("sign-in").addEventListener("click", async () => {
  const checks = [
    { id: "merchant-id", test: (v) => v !== "", text: "请输入商户编号" },
    { id: "merchant-id", test: (v) => /^\d{1,9}$/.test(v), text: "商户编号只含数字" },
    { id: "api-key", test: (v) => v !== "", text: "请输入接入密钥" },
  ];
  if (!checkFields(checks)) return;
  const merchantId = Number($("merchant-id").value.trim());
  const body = { merchant_id: merchantId, api_key: $("api-key").value.trim() };
  const refused = (error) => (error.code === "unauthorized" ? "商户编号或接入密钥不正确" : null);
  if (await signIn("/auth/merchant", body, `商户 ${merchantId}`, refused)) $("api-key").value = "";
});

// A cashier's device signs in with the 8-character code (or the QR, which opens this page
// with the code in the fragment) its owner shows: one use, 5 minutes.
const PAIR_CODE = /^[A-Z0-9]{6,12}$/;

async function pairSignIn(typed) {
  const code = typed.toUpperCase().replace(/[\s-]/g, "");
  const checks = [
    { id: "pair-code", test: () => code !== "", text: "请输入配对码" },
    { id: "pair-code", test: () => PAIR_CODE.test(code), text: "配对码为 8 位字母和数字" },
  ];
  if (!checkFields(checks)) return;
  const refused = (error) => (error.code === "unauthorized" ? "配对码无效、已使用或已过期，请店主重新生成" : null);
  if (await signIn("/auth/cashier-pairing", { code }, "收银员", refused)) $("pair-code").value = "";
}
$("pair-sign-in").addEventListener("click", () => pairSignIn($("pair-code").value.trim()));
$("pair-code").addEventListener("keydown", (e) => e.key === "Enter" && pairSignIn($("pair-code").value.trim()));
{
  // Scanned: the code rides in the URL's fragment (never sent to a server); used once, dropped.
  const scanned = /^#pair=([A-Za-z0-9-]{6,14})$/.exec(location.hash);
  if (scanned) {
    history.replaceState(null, "", location.pathname);
    $("pair-code").value = scanned[1];
    if (!api.token) pairSignIn(scanned[1]);
  }
}

// Who is signed in: the owner sees the cashier accounts, the 日结 and the statement; a
// cashier only the checkout (the API refuses it the rest).
async function loadWho() {
  try {
    const me = await api.json("GET", "/auth/me");
    owner = me.cashier_id == null;
    // The shop's name (not 商户 19), kept for the header's next render in this tab.
    const who = `${me.merchant_name || `商户 ${me.merchant_id}`} · ${owner ? "店主" : `收银员 ${me.cashier_name}`}`;
    $("who").textContent = who;
    sessionStorage.setItem("festival.cashier.who", who);
    for (const card of document.querySelectorAll(".owner-only")) card.hidden = !owner;
    if (owner) {
      loadCashiers();
      loadStatement();
    }
  } catch (error) {
    show(errorText(error), "error");
  }
}

// --- preview -------------------------------------------------------------------------

// Several typed codes: separated by commas (a code itself may be typed with spaces or dashes).
const SEPARATORS = /[,，、;；\n]+/;

function previewCard(voucher) {
  return el("span", {}, el("span", { class: "pill" }, CATEGORY_NAMES[voucher.category]),
    `${yuan(voucher.face_value_fen)} · 满${yuan(voucher.min_spend_fen)}可用`);
}

async function preview() {
  const input = $("code").value.trim();
  $("redeem-box").hidden = true;
  $("redeem-result").textContent = "";
  pending = null;
  attempt = null;
  if (!input) return;
  const typed = input.split(SEPARATORS).map((c) => c.trim()).filter(Boolean);
  try {
    if (input.startsWith("HYC1.") || typed.length > 1) {
      const query = input.startsWith("HYC1.")
        ? new URLSearchParams({ qr: input })
        : new URLSearchParams({ codes: typed.join(",") });
      const found = await api.json("GET", `/merchant/checkout-preview?${query}`);
      pending = {
        body: input.startsWith("HYC1.") ? { qr: input } : { codes: typed },
        count: found.count,
        discount_fen: found.discount_fen,
        min_spend_fen: found.min_spend_fen,
        redeemable: found.redeemable,
      };
      $("preview-box").replaceChildren(
        el("p", {}, `合并使用 ${found.count} 张券 · 共优惠 ${yuan(found.discount_fen)} · 消费满 ${yuan(found.min_spend_fen)} 可用`),
        el("ul", { class: "items" }, found.items.map((v) =>
          el("li", { "data-code": v.code }, el("span", { class: "mono" }, v.code), " ", previewCard(v),
            v.redeemable ? "" : el("span", { class: "error-text" }, ` ✗ ${ERROR_TEXT[v.reason] || "不可使用"}`)))),
        found.qr_expires_at ? el("div", { class: "muted" }, `二维码有效期至 ${dateTime(found.qr_expires_at)}`) : null,
        found.redeemable
          ? el("div", { class: "ok-text" }, "✓ 全部可在本店使用（一次核销，全部成功或全部不核销）")
          : el("div", { class: "error-text" }, `✗ 不可使用：券 ${found.reason_code} ${ERROR_TEXT[found.reason] || "不可使用"}`),
      );
    } else {
      const voucher = await api.json("GET", `/merchant/vouchers/${encodeURIComponent(input)}`);
      pending = {
        body: { code: input },
        count: 1,
        discount_fen: voucher.face_value_fen,
        min_spend_fen: voucher.min_spend_fen,
        redeemable: voucher.redeemable,
      };
      const verdict = voucher.redeemable
        ? el("div", { class: "ok-text" }, "✓ 可在本店使用")
        : el("div", { class: "error-text" }, `✗ 不可使用：${ERROR_TEXT[voucher.reason] || "原因未知"}`);
      $("preview-box").replaceChildren(
        el("p", {}, previewCard(voucher)),
        el("div", { class: "muted" }, `有效期至 ${dateTime(voucher.expires_at)}`),
        verdict,
      );
    }
    $("redeem-box").hidden = !pending.redeemable;
    updateSums();
  } catch (error) {
    $("preview-box").replaceChildren(el("div", { class: "error-text" }, errorText(error)));
  }
}
$("preview").addEventListener("click", preview);
$("code").addEventListener("keydown", (e) => e.key === "Enter" && preview());

function updateSums() {
  if (!pending) return;
  const fen = parseYuan($("amount").value);
  if (fen === null) {
    $("sums").textContent = $("amount").value ? "请输入正确的金额（最多两位小数）" : "";
    return;
  }
  const several = pending.count > 1 ? `${pending.count} 张券合计` : "";
  $("sums").textContent =
    fen < pending.min_spend_fen
      ? `未满 ${yuan(pending.min_spend_fen)}，不能使用${pending.count > 1 ? "这些券" : "此券"}`
      : `${several}优惠 ${yuan(pending.discount_fen)}，应付 ${yuan(fen - pending.discount_fen)}`;
}
$("amount").addEventListener("input", () => {
  attempt = null; // another amount is another request
  updateSums();
});
$("metadata").addEventListener("input", () => {
  attempt = null; // another note is another request
});

// --- redeem --------------------------------------------------------------------------

async function redeem() {
  const fen = parseYuan($("amount").value);
  if (!pending || fen === null) {
    show("请输入正确的订单金额", "error");
    return;
  }
  const note = $("metadata").value.trim();
  const body = {
    ...pending.body,
    order_amount_fen: fen,
    order_ref: $("order-ref").value.trim() || `POS-${Date.now()}`,
    ...(note ? { metadata: note } : {}),
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
    const count = done.items ? `${done.items.length} 张券，` : "";
    $("redeem-result").replaceChildren(
      el("div", { class: "ok-text" }, `核销成功：${count}优惠 ${yuan(done.discount_fen)}，应付 ${yuan(done.payable_fen)}`),
    );
    show("核销成功", "ok");
    attempt = null;
    pending = null;
    $("redeem-box").hidden = true;
    $("preview-box").replaceChildren();
    for (const id of ["code", "amount", "order-ref", "metadata"]) $(id).value = "";
    loadToday();
    if (owner) loadStatement();
  } catch (error) {
    const named = error.details && error.details.code ? `（券 ${error.details.code}）` : "";
    $("redeem-result").replaceChildren(el("div", { class: "error-text" }, errorText(error) + named));
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
        el("th", {}, "优惠"), el("th", { class: "text" }, "收银员"), el("th", { class: "text" }, "备注"),
        el("th", {}, "状态"), el("th", {}, "")),
      // data-label: on a phone each row is a card and every value says what it is (style.css).
      ...list.items.map((r) =>
        el("tr", { "data-redemption": r.id, "data-checkout": r.checkout_id },
          el("td", {}, dateTime(r.redeemed_at).split(" ")[1] || ""),
          el("td", { class: "text" }, r.code,
            r.checkout_id ? el("span", { class: "pill grey", title: "同一结账中合并使用的券" }, ` 合并 #${r.checkout_id}`) : null),
          el("td", { "data-label": "订单" }, yuan(r.order_amount_fen)),
          el("td", { "data-label": "优惠" }, yuan(r.discount_fen)),
          el("td", { class: "text", "data-label": "收银员" }, r.cashier_name || "店主"),
          el("td", { class: "note" }, r.metadata || ""),
          el("td", { class: "status" }, r.status === "completed" ? "已核销" : "已撤销"),
          el("td", { class: "action" }, r.status === "completed"
            ? el("button", { class: "secondary small", onclick: () => reverse(r) }, r.checkout_id ? "撤销整单" : "撤销")
            : ""))),
    );
  } catch (error) {
    $("today").replaceChildren(el("tr", {}, el("td", { class: "error-text" }, errorText(error))));
  }
}

downloadButtons(api, "today", () => "/merchant/redemptions", (error) => show(errorText(error), "error"));

// --- 收银员: the owner's cashier accounts --------------------------------------------------

async function loadCashiers() {
  try {
    const { items } = await api.json("GET", "/merchant/cashiers");
    const live = items.filter((c) => c.removed_at == null);
    $("cashiers").replaceChildren(
      el("tr", {}, el("th", {}, "编号"), el("th", { class: "text" }, "收银员"), el("th", {}, "添加于"), el("th", {}, "")),
      ...(live.length
        ? live.map((c) => el("tr", { "data-cashier": c.id },
            el("td", {}, c.id), el("td", { class: "text" }, c.name), el("td", {}, dateTime(c.created_at)),
            el("td", { class: "actions" },
              el("button", { class: "small", "data-pair": c.id, onclick: () => pairCashier(c) }, "配对登录"),
              el("button", { class: "secondary small", onclick: (e) => removeCashier(c, e.target) }, "移除"))))
        : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "还没有收银员：店主可以为每位收银员添加一个账号"))]),
    );
  } catch (error) {
    $("cashiers").replaceChildren(el("tr", {}, el("td", { class: "error-text" }, errorText(error))));
  }
}

$("cashier-add").addEventListener("click", async () => {
  const name = $("cashier-name").value.trim();
  if (!name) {
    show("请输入收银员姓名或工号", "error");
    return;
  }
  try {
    const made = await api.json("POST", "/merchant/cashiers", { body: { name } });
    $("cashier-name").value = "";
    $("cashier-key").replaceChildren(
      el("div", { class: "key-once" },
        el("div", {}, `收银员「${made.cashier.name}」已添加。登录时填商户编号 ${made.cashier.merchant_id} 和下面的接入密钥：`),
        el("p", { class: "mono", id: "new-cashier-key" }, made.api_key),
        el("div", { class: "muted" }, "密钥只显示这一次，请立即交给收银员妥善保存；遗失请移除后重新添加。")),
    );
    loadCashiers();
  } catch (error) {
    show(errorText(error), "error");
  }
});

// 配对登录: a code and its QR for one cashier's device, counting down its 5 minutes.
let pairingTimer = null;
async function pairCashier(cashier) {
  try {
    const made = await api.json("POST", `/merchant/cashiers/${cashier.id}/pairing`);
    const qr = URL.createObjectURL(new Blob([made.qr_svg], { type: "image/svg+xml" }));
    const left = el("span", { id: "pairing-left" });
    const shown = `${made.code.slice(0, 4)}-${made.code.slice(4)}`;
    $("pairing").replaceChildren(
      el("h3", {}, `${cashier.name} 的配对码`),
      el("p", { class: "code pair-code", id: "pairing-code" }, shown),
      el("img", { src: qr, alt: `配对二维码，配对码 ${shown}`, class: "pair-qr" }),
      el("p", { class: "muted" }, "请收银员用手机扫码，或在收银员手机的本页输入配对码。只能用一次，", left, "。"),
      el("button", { class: "secondary", onclick: closePairing }, "关闭"),
    );
    $("pairing").hidden = false;
    clearInterval(pairingTimer);
    const ends = Date.now() + made.valid_for_s * 1000;
    const tick = () => {
      const s = Math.max(0, Math.round((ends - Date.now()) / 1000));
      left.textContent = s > 0 ? `${Math.floor(s / 60)} 分 ${String(s % 60).padStart(2, "0")} 秒后失效` : "已失效，请重新生成";
      if (s === 0) clearInterval(pairingTimer);
    };
    tick();
    pairingTimer = setInterval(tick, 1000);
  } catch (error) {
    show(errorText(error), "error");
  }
}
function closePairing() {
  clearInterval(pairingTimer);
  $("pairing").hidden = true;
  $("pairing").replaceChildren();
}

// Removing takes two taps (the first asks), and works at once: the cashier's key and every
// token it holds stop working.
async function removeCashier(cashier, button) {
  if (button.dataset.confirm !== "yes") {
    button.dataset.confirm = "yes";
    button.textContent = "确认移除";
    return;
  }
  try {
    await api.json("DELETE", `/merchant/cashiers/${cashier.id}`);
    show(`已移除收银员「${cashier.name}」，其密钥已失效`, "ok");
    $("cashier-key").replaceChildren();
  } catch (error) {
    show(errorText(error), "error");
  }
  loadCashiers();
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

// Reversing an item of a checkout of several vouchers reverses the whole checkout.
async function reverse(redemption) {
  try {
    await api.json("POST", `/merchant/redemptions/${redemption.id}/reversal`, {
      body: { reason: "收银撤销" },
    });
    show(redemption.checkout_id ? "已撤销整单，券已全部退回顾客" : "已撤销，券已退回顾客", "ok");
  } catch (error) {
    show(errorText(error), "error");
  }
  loadToday();
  if (owner) loadStatement();
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
