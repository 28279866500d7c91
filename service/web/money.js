// The bureau's money safety: cash-out flags with their evidence and the merchant's redemptions
// over time, review (confirm holds the merchant's payouts), holds and their release, the
// ledger's balances, bank files out (kept, downloadable again) and returns in, the ledger's
// verify, and the audit trail.
import {
  ApiError, CATEGORY_NAMES, ERROR_TEXT, NetworkError, RULE_NAMES, dateTime, downloadButtons, downloadTable, el, errorText,
  newIdempotencyKey, saveFile, show,
  signedInPage, yuan,
} from "/static/common.js";
import { loadCharts } from "/static/charts.js";

const $ = (id) => document.getElementById(id);
const { api, render, signIn } = signedInPage("bureau", () => refresh());
const charts = {};
const FLAG_STATUS = { provisional: "待定", open: "待复核", withdrawn: "已撤销", confirmed: "已确认", dismissed: "已排除" };
const FLAG_STATE = {
  provisional: "待定：当日尚未结束，这是日内扫描的初步结果；当晚按全天数据转为待复核，或不再触发而撤销。现在还不能复核。",
  withdrawn: "已撤销：全天数据不再触发该规则，无需复核。",
};
// This page's error codes beyond the shared ones.
Object.assign(ERROR_TEXT, {
  flag_provisional: "预警待定，当日结束后才能复核",
  flag_withdrawn: "预警已撤销，无需复核",
  already_returned: "回盘已导入过",
  already_clawed_back: "已追回",
  day_not_over: "当日尚未结束",
});
const ACTIONS = {
  "merchant.create": "新增商户", "merchant.update": "修改商户", "batch.create": "新建批次",
  "batch.update": "修改批次", "batch.recycle": "回收名额", "lottery.draw": "开奖",
  "budget.set": "调整预算", "person.suspend": "暂停个人", "person.lift": "恢复个人",
  "baselines.upload": "上传基期数据", "job.run": "手动运行任务", "risk.review": "复核预警",
  "risk.release": "解除暂扣", "payments.export": "导出银行文件", "payments.returns": "导入回盘",
  "job.backfill": "补算任务", "turnover.import": "导入营业额", "bureau_user.create": "新增商务局账号",
  "bureau_user.reset_password": "重置商务局账号密码", "cashier.create": "新增收银员", "cashier.remove": "移除收银员",
  "drill.clock": "演练时钟", "ledger.settle": "日终结算", "merchant.api_key_reissued": "重发商户密钥",
  "merchant_application.review": "审核入驻申请", "turnover.report": "商户日结",
};
// The audit trail's field names, as the bureau says them (issue 25: English keys, raw fen).
const FIELDS = {
  account_name: "收款户名", account_no: "收款账号", account_no_hmac: "账号指纹", address: "地址",
  budget_fen: "预算", categories: "品类", category: "品类", claim_ends_at: "领取截止", claim_starts_at: "领取开始",
  claimed: "已领", committed_fen: "已承诺", contact_phone: "联系电话", credit_code: "信用代码",
  daily_subsidy_cap_fen: "单日补贴上限", date: "日期", district: "区", draw_at: "开奖时间", drawn_at: "开奖于",
  drawn_quantity: "中签数", expired: "过期", face_value_fen: "面额", failed: "失败笔数", failed_fen: "失败金额",
  failed_references: "失败付款编号", from_date: "起始日", hours: "营业时间", id: "编号", into_batch_id: "转入批次",
  lat: "纬度", lng: "经度", left_out: "未付商户", merchant_id: "商户", merchant_ids: "适用商户", merchants: "商户数",
  min_spend_fen: "使用门槛", mode: "发放方式", moved: "转出名额", name: "名称", note: "意见", paid: "成功笔数",
  paid_fen: "成功金额", paid_references: "成功付款编号", paused: "暂停", per_resident_limit: "每人限领",
  quantity: "数量", recycled_out: "已回收", released_at: "解除于", released_by: "解除人", remaining: "剩余",
  removed_at: "移除于", reviewed_by: "复核人", rows: "行数", sales_fen: "营业额", seed_commitment: "种子承诺",
  settled_fen: "结算金额", sha256: "SHA-256", spent_fen: "已使用", status: "状态", street: "街道", title: "标题",
  to_date: "截止日", total_fen: "合计金额", unclaimed: "未领", username: "用户名", valid_days: "有效天数",
  valid_until: "有效期至", entries: "报名数", winners: "中签", now: "时间", offset_us: "时钟偏移",
  decision: "决定", reason: "原因", transactions: "笔数", source: "来源", clawback: "追回", clawed_back_fen: "追回金额",
  clawed_back_redemptions: "追回笔数", by: "方式", reference: "付款编号", references: "付款编号", balance_fen: "余额",
  hold: "暂扣", still_held: "仍暂扣", amount_fen: "金额", rule: "规则", score: "分值", subject: "持券人",
  redemptions: "核销笔数", vouchers: "张数", order_fen: "订单金额", discount_fen: "补贴", cashier: "收银员",
  label: "名称", role: "角色", export_id: "付款文件", bank_file: "付款文件", lines: "行数", created_by: "操作人",
  recorded_at: "记录于", suspended_at: "暂停于", suspended_by: "暂停人", moved_at: "移动于", moved_by: "操作人",
  person: "持券人", expires_at: "到期于", sub: "账号", code: "券码", batch_id: "批次", entered_at: "报名于",
  entry_id: "报名编号", day: "日期", redemption_id: "核销编号", hits: "次数", failed_attempts: "失败次数",
  contact_name: "联系人", business_license: "营业执照", decided_by: "审核人", decided_at: "审核于",
};
const VALUES = {
  active: "正常", suspended: "已停用", open: "待复核", confirmed: "已确认", dismissed: "已排除",
  withdrawn: "已撤销", provisional: "待定", lottery: "摇号", first_come: "先到先得", held: "暂扣",
  no_account: "无账户", receivable: "应收未清", merchant: "商户日结", import: "导入",
  ...CATEGORY_NAMES,
};
let selected = null;

$("sign-in").addEventListener("click", async () => {
  const username = $("username").value.trim();
  const body = { username, password: $("password").value };
  if (await signIn("/auth/bureau", body, username)) $("password").value = "";
});

async function refresh() {
  $("audit-action").replaceChildren(
    el("option", { value: "" }, "全部"),
    ...Object.entries(ACTIONS).map(([code, name]) => el("option", { value: code }, name)),
  );
  await Promise.all([loadFlags(), loadHolds(), loadMoney(), loadAudit()]);
}

// --- flags -------------------------------------------------------------------------------

// Who a repeat_pair flag is about: the person's pseudonym's tail (two flags of one shop and
// day differ only in it).
const holder = (flag) => (flag.subject ? `持券人尾号 ${flag.subject.slice(-6)}` : "");

function evidenceText(flag) {
  const e = flag.evidence;
  const parts = [`${e.redemption_ids.length} 笔核销`];
  if (flag.rule === "repeat_pair") parts.push(`${e.from} 至 ${e.to} ${holder(flag)} 核销 ${e.vouchers} 张`);
  if (flag.rule === "threshold_hugging") parts.push(`当日 ${e.redemptions} 笔中 ${e.hugging} 笔贴近门槛（${(e.share * 100).toFixed(0)}%）`);
  if (flag.rule === "burst") parts.push(`${dateTime(e.window_starts_at)} 起 ${e.window_minutes} 分钟 ${e.redemptions} 笔，${e.history ? `此前 7 天每 ${e.window_minutes} 分钟中位数 ${e.median}` : "此前 7 天无核销"}`);
  if (flag.rule === "reversal_churn") parts.push(`当日 ${e.redemptions} 笔中撤销 ${e.reversed} 笔`);
  if (e.order_fen != null) parts.push(`订单合计 ${yuan(e.order_fen)}`);
  if (e.discount_fen != null) parts.push(`涉及补贴 ${yuan(e.discount_fen)}`);
  return parts.join("；");
}

// 分值 means something else under each rule: what the number measures, in words.
function scoreText(flag) {
  const e = flag.evidence;
  const n = flag.score;
  if (flag.rule === "repeat_pair") {
    const threshold = Math.round(e.vouchers / n);
    return `${n.toFixed(2)} 倍：7 天内同一人 ${e.vouchers} 张，是触发线 ${threshold} 张的 ${n.toFixed(2)} 倍`;
  }
  if (flag.rule === "threshold_hugging") return `${(n * 100).toFixed(0)}%：当日核销中贴近门槛（高出 5% 以内）的占比`;
  if (flag.rule === "burst") {
    return e.history
      ? `${n.toFixed(1)} 倍：${e.window_minutes} 分钟内 ${e.redemptions} 笔，是此前 7 天每 ${e.window_minutes} 分钟中位数 ${e.median} 笔的 ${n.toFixed(1)} 倍`
      : `${n.toFixed(0)} 笔：此前 7 天无核销可比，分值即 ${e.window_minutes} 分钟内的笔数`;
  }
  if (flag.rule === "reversal_churn") return `${(n * 100).toFixed(0)}%：当日核销中被撤销的占比`;
  return n.toFixed(2);
}

async function loadFlags() {
  try {
    const status = $("flag-status").value;
    const { items } = await api.json("GET", `/admin/risk/flags${status ? `?status=${status}` : ""}`);
    $("flags").replaceChildren(
      el("tr", {}, ...["编号", "日期", "商户", "规则", "证据", "分值（含义）", "状态", ""].map((h) => el("th", {}, h))),
      ...items.map((f) => el("tr", { "data-flag": f.id, class: selected === f.id ? "selected" : "" },
        el("td", { class: "muted" }, `#${f.id}`),
        el("td", {}, f.date),
        el("td", {}, f.merchant_name),
        el("td", {}, RULE_NAMES[f.rule] || f.rule),
        el("td", { class: "evidence" }, evidenceText(f)),
        el("td", { class: "evidence score" }, scoreText(f)),
        el("td", {}, FLAG_STATUS[f.status] || f.status),
        el("td", {}, el("button", { class: "secondary small", onclick: () => openFlag(f) }, "查看")))),
    );
    if (!items.length) $("flags").append(el("tr", {}, el("td", { colspan: 8, class: "muted" }, "暂无预警")));
  } catch (error) {
    show(errorText(error), "error");
  }
}

async function openFlag(flag) {
  selected = flag.id;
  $("flag-detail").hidden = false;
  $("flag-title").textContent = `#${flag.id} ${flag.merchant_name} · ${RULE_NAMES[flag.rule]} · ${flag.date}`;
  $("flag-evidence").textContent = `${evidenceText(flag)}。分值 ${scoreText(flag)}。`;
  $("flag-orders").replaceChildren();
  $("review-form").hidden = flag.status !== "open";
  $("flag-state").textContent = FLAG_STATE[flag.status] || "";
  $("review-note").value = "";
  for (const row of document.querySelectorAll("#flags tr[data-flag]")) {
    row.classList.toggle("selected", Number(row.dataset.flag) === flag.id);
  }
  try {
    const t = await api.json("GET", `/admin/risk/flags/${flag.id}/timeline`);
    draw("chart-days", t.days.map((d) => d.date.slice(5)), [
      { name: "核销", type: "bar", data: t.days.map((d) => d.redemptions) },
      { name: "撤销", type: "bar", data: t.days.map((d) => d.reversed) },
    ]);
    draw("chart-windows", t.windows.map((w) => dateTime(w.at).slice(-8, -3)), [
      { name: "核销", type: "bar", data: t.windows.map((w) => w.redemptions) },
    ]);
    showOrders(t.redemptions);
  } catch (error) {
    show(errorText(error), "error");
  }
}

// The evidence as the orders it names: when, how much, which voucher of which batch.
function showOrders(orders) {
  $("flag-orders").replaceChildren(
    el("tr", {}, ...["核销时间", "订单号", "订单金额", "使用门槛", "补贴", "券码", "批次", "状态"].map((h) => el("th", {}, h))),
    ...orders.map((o) => el("tr", { "data-redemption": o.id },
      el("td", {}, dateTime(o.redeemed_at)), el("td", { class: "mono" }, o.order_ref),
      el("td", {}, yuan(o.order_amount_fen)), el("td", {}, yuan(o.min_spend_fen)), el("td", {}, yuan(o.discount_fen)),
      el("td", { class: "mono" }, o.voucher_code), el("td", {}, o.batch_title),
      el("td", {}, o.status === "reversed" ? el("span", { class: "pill grey" }, "已撤销") : "已核销"))),
  );
}

async function draw(id, labels, series) {
  let echarts;
  try {
    echarts = await loadCharts();
  } catch (error) {
    show(error.message, "error");
    return;
  }
  charts[id] = charts[id] || echarts.init($(id));
  charts[id].setOption({
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 10, top: 30, bottom: 30 },
    xAxis: { type: "category", data: labels },
    yAxis: { type: "value", minInterval: 1 },
    series,
  }, true);
}

async function review(decision) {
  const note = $("review-note").value.trim();
  if (!note) {
    show("请填写复核意见", "error");
    return;
  }
  try {
    await api.json("POST", `/admin/risk/flags/${selected}/review`, { body: { decision, note } });
    show(decision === "confirm" ? "已确认，该商户暂停付款" : "已排除", "ok");
    $("flag-detail").hidden = true;
  } catch (error) {
    show(errorText(error), "error");
  }
  await Promise.all([loadFlags(), loadHolds(), loadMoney(), loadAudit()]);
}

$("confirm-flag").addEventListener("click", () => review("confirm"));
$("dismiss-flag").addEventListener("click", () => review("dismiss"));
$("flag-status").addEventListener("change", loadFlags);
downloadButtons(api, "flags", () => "/admin/risk/flags", (error) => show(errorText(error), "error"));

// --- holds -------------------------------------------------------------------------------

async function loadHolds() {
  try {
    const { items } = await api.json("GET", "/admin/risk/flags?status=confirmed");
    const holding = items.filter((f) => !f.released_at);
    $("holds").replaceChildren(
      el("tr", {}, ...["商户", "规则", "日期", "确认人", "追回补贴", "意见", ""].map((h) => el("th", {}, h))),
      ...holding.map((f) => {
        const clawback = el("input", { type: "checkbox", "aria-label": "追回补贴", style: "width:auto" });
        const note = el("input", { "aria-label": "解除意见", maxlength: 500, style: "width:12em" });
        return el("tr", { "data-hold": f.id },
          el("td", {}, f.merchant_name), el("td", {}, RULE_NAMES[f.rule]), el("td", {}, f.date),
          el("td", {}, f.reviewed_by), el("td", {}, clawback), el("td", {}, note),
          el("td", {}, el("button", { class: "secondary small", onclick: () => release(f, clawback.checked, note.value) }, "解除暂扣")));
      }),
    );
    if (!holding.length) $("holds").append(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "无暂扣")));
  } catch (error) {
    show(errorText(error), "error");
  }
}

async function release(flag, clawback, note) {
  if (!note.trim()) {
    show("请填写解除意见", "error");
    return;
  }
  try {
    const r = await api.json("POST", `/admin/risk/flags/${flag.id}/release`, { body: { clawback, note: note.trim() } });
    const clawed = clawback ? `，追回补贴 ${yuan(r.clawed_back_fen)}（${r.clawed_back_redemptions} 笔）` : "";
    show(`已解除${clawed}${r.still_held ? "（仍有其他暂扣）" : ""}`, "ok");
  } catch (error) {
    show(errorText(error), "error");
  }
  await Promise.all([loadFlags(), loadHolds(), loadMoney(), loadAudit()]);
}

// --- money: balances, bank files, returns, verify -------------------------------------------

const LEFT_OUT = { held: "暂扣", suspended: "已停用", no_account: "无账户", receivable: "应收未清" };
const CHECKS = {
  balanced: "借贷平衡",
  records: "余额与转账一致",
  cost: "成本与核销记录一致",
  payouts: "付款未透支",
  bank_files: "付款文件与转账一致",
  totals_match: "合计一致",
};
let merchants = new Map();
// One export click = one Idempotency-Key, kept for its retry after a lost answer (the server
// answers the same bank file, nothing moves twice); an answer of any kind ends it.
let exportKey = null;

async function loadMerchants() {
  const list = await api.json("GET", "/admin/merchants");
  merchants = new Map(list.map((m) => [m.id, m]));
}

const merchantName = (id) => (merchants.get(id) ? merchants.get(id).name : `商户 ${id}`);

async function loadMoney() {
  try {
    await loadMerchants(); // the names of the merchants the balances and bank files name
  } catch (error) {
    show(errorText(error), "error");
  }
  await Promise.all([loadBalances(), loadExports(), verifyLedger()]);
}

async function loadBalances() {
  try {
    const [balances, confirmed] = await Promise.all([
      api.json("GET", "/admin/ledger/balances"),
      api.json("GET", "/admin/risk/flags?status=confirmed"),
    ]);
    const held = new Set(confirmed.items.filter((f) => !f.released_at).map((f) => f.merchant_id));
    const per = new Map(); // merchant id -> {unsettled, payable}
    const total = { subsidy: 0, unsettled: 0, payable: 0, in_transit: 0, paid: 0 };
    const byCategory = Object.fromEntries(Object.keys(CATEGORY_NAMES).map((c) => [c, { subsidy: 0, unsettled: 0, payable: 0 }]));
    for (const b of balances.items) {
      if (b.kind === "subsidy") {
        total.subsidy -= b.balance_fen; // the festival's cost: a debit balance
        if (byCategory[b.category]) byCategory[b.category].subsidy -= b.balance_fen;
        continue;
      }
      total[b.kind] += b.balance_fen;
      if (b.merchant_id == null) continue;
      const m = per.get(b.merchant_id) || { unsettled: 0, payable: 0 };
      m[b.kind] += b.balance_fen;
      per.set(b.merchant_id, m);
      const category = merchants.get(b.merchant_id) && merchants.get(b.merchant_id).category;
      if (byCategory[category]) byCategory[category][b.kind] += b.balance_fen;
    }
    $("ledger-totals").replaceChildren(
      el("tr", {}, ...["品类", "补贴支出", "待结算", "应付（净）", "在途", "已付款"].map((h) => el("th", {}, h))),
      ...Object.entries(byCategory).map(([code, c]) => el("tr", { "data-category": code },
        el("td", {}, CATEGORY_NAMES[code]), el("td", {}, yuan(c.subsidy)), el("td", {}, yuan(c.unsettled)),
        el("td", {}, yuan(c.payable)), el("td", { class: "muted" }, "—"), el("td", { class: "muted" }, "—"))),
      el("tr", { class: "total", "data-category": "overall" },
        el("td", {}, "合计"), el("td", {}, yuan(total.subsidy)), el("td", {}, yuan(total.unsettled)),
        el("td", {}, yuan(total.payable)), el("td", {}, yuan(total.in_transit)), el("td", {}, yuan(total.paid))),
    );

    const standing = (id, payable) => {
      const m = merchants.get(id);
      if (payable <= 0) return el("span", { class: "muted" }, "—");
      if (m && m.status === "suspended") return el("span", { class: "pill grey" }, "已停用");
      if (held.has(id)) return el("span", { class: "pill" }, "暂扣");
      if (m && !m.account_no) return el("span", { class: "pill grey" }, "无账户");
      return el("span", { class: "pill ok" }, "下次付款");
    };
    const statementButton = (id) =>
      el("span", {},
        el("button", { class: "secondary small", onclick: () => download(`/admin/merchants/${id}/statement`, "csv") }, "对账单 CSV"), " ",
        el("button", { class: "secondary small", onclick: () => download(`/admin/merchants/${id}/statement`, "xlsx") }, "对账单 Excel"));
    const owed = [...per.entries()].filter(([, b]) => b.payable > 0 || b.unsettled !== 0)
      .sort((a, b) => b[1].payable - a[1].payable || a[0] - b[0]);
    $("payables").replaceChildren(
      el("tr", {}, ...["商户", "品类", "待结算", "应付", "付款状态", ""].map((h) => el("th", {}, h))),
      ...owed.map(([id, b]) => el("tr", { "data-merchant": id },
        el("td", {}, merchantName(id)), el("td", {}, CATEGORY_NAMES[merchants.get(id) && merchants.get(id).category] || "—"),
        el("td", {}, yuan(b.unsettled)), el("td", {}, b.payable > 0 ? yuan(b.payable) : yuan(0)),
        el("td", {}, standing(id, b.payable)), el("td", {}, statementButton(id)))),
    );
    if (!owed.length) $("payables").append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "没有应付或待结算的商户")));
    const owing = [...per.entries()].filter(([, b]) => b.payable < 0).sort((a, b) => a[1].payable - b[1].payable);
    $("receivables").replaceChildren(
      el("tr", {}, ...["商户", "品类", "应收", ""].map((h) => el("th", {}, h))),
      ...owing.map(([id, b]) => el("tr", { "data-merchant": id },
        el("td", {}, merchantName(id)), el("td", {}, CATEGORY_NAMES[merchants.get(id) && merchants.get(id).category] || "—"),
        el("td", { class: "error-text" }, yuan(-b.payable)), el("td", {}, statementButton(id)))),
    );
    if (!owing.length) $("receivables").append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "无应收")));
  } catch (error) {
    show(errorText(error), "error");
  }
}

$("balances-refresh").addEventListener("click", loadMoney);

const shortHash = (sha) => `${sha.slice(0, 12)}…`;

function leftOutText(left) {
  return left.map((l) => `${merchantName(l.merchant_id)}（${LEFT_OUT[l.reason] || l.reason} ${yuan(l.balance_fen)}）`).join("、");
}

async function loadExports() {
  try {
    const { items } = await api.json("GET", "/admin/payments/exports");
    $("exports").replaceChildren(
      el("tr", {}, ...["编号", "生成时间", "操作人", "笔数", "金额", "SHA-256", "已付", "失败", "在途", "未付商户", ""].map((h) => el("th", {}, h))),
      ...items.map((e) => el("tr", { "data-export": e.id, "data-sha256": e.sha256 },
        el("td", {}, `#${e.id}`), el("td", {}, dateTime(e.created_at)), el("td", {}, e.created_by),
        el("td", {}, e.rows), el("td", {}, yuan(e.total_fen)),
        el("td", { class: "mono", title: e.sha256 }, shortHash(e.sha256)),
        el("td", {}, e.paid), el("td", { class: e.failed ? "error-text" : "" }, e.failed), el("td", {}, yuan(e.in_transit_fen)),
        el("td", { title: leftOutText(e.left_out) }, e.left_out.length ? `${e.left_out.length} 家` : "—"),
        el("td", {}, el("button", { class: "secondary small", onclick: () => downloadBankFile(e) }, "下载")))),
    );
    if (!items.length) $("exports").append(el("tr", {}, el("td", { colspan: 11, class: "muted" }, "尚未生成付款文件")));
  } catch (error) {
    show(errorText(error), "error");
  }
}

async function sha256Hex(bytes) {
  if (!(window.crypto && crypto.subtle)) return null; // plain HTTP off localhost: no WebCrypto
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// The kept file, byte for byte (never decoded and re-encoded), checked against its SHA-256.
async function downloadBankFile(made) {
  try {
    const response = await api.request("GET", `/admin/payments/exports/${made.id}/file`, { accept: "text/csv" });
    const bytes = await response.arrayBuffer();
    const actual = await sha256Hex(bytes);
    const listed = response.headers.get("X-Content-SHA256") || made.sha256;
    if (actual && (actual !== made.sha256 || listed !== made.sha256)) {
      show(`付款文件 #${made.id} 下载内容与登记的 SHA-256 不符，请重新下载`, "error");
      return;
    }
    saveFile(`festival-bank-file-${made.id}.csv`, bytes);
    show(`已下载付款文件 #${made.id}${actual ? "（SHA-256 校验一致）" : ""}`, "ok");
  } catch (error) {
    show(errorText(error), "error");
  }
}

function showExport(made) {
  const left = made.left_out;
  $("export-result").replaceChildren(
    el("div", { class: "ok-text" },
      made.rows
        ? `付款文件 #${made.id} 已生成：${made.rows} 笔，合计 ${yuan(made.total_fen)}（SHA-256 ${shortHash(made.sha256)}）`
        : `付款文件 #${made.id} 已生成：没有可付款的商户（空文件）`,
      " ",
      made.rows ? el("button", { class: "small", id: "export-download", onclick: () => downloadBankFile(made) }, "下载此文件") : ""),
    left.length
      ? el("div", {}, el("h3", { class: "sub" }, `未付款商户 ${left.length} 家`),
        el("div", { class: "scroll" }, el("table", { id: "left-out" },
          el("tr", {}, ...["商户", "原因", "应付余额"].map((h) => el("th", {}, h))),
          ...left.map((l) => el("tr", { "data-merchant": l.merchant_id },
            el("td", {}, merchantName(l.merchant_id)), el("td", {}, LEFT_OUT[l.reason] || l.reason),
            el("td", {}, yuan(l.balance_fen)))))))
      : "",
  );
}

$("export").addEventListener("click", async () => {
  if (!exportKey) exportKey = newIdempotencyKey();
  $("export").disabled = true;
  try {
    await loadMerchants().catch(() => {}); // a merchant added since: its name in left_out
    const made = await api.json("POST", "/admin/payments/exports", { body: {}, headers: { "Idempotency-Key": exportKey } });
    exportKey = null;
    $("export").textContent = "生成付款文件";
    showExport(made);
    show(`付款文件 #${made.id} 已生成`, "ok");
  } catch (error) {
    if (error instanceof NetworkError) {
      // The file may have been made: the retry sends the same key and gets that file back.
      $("export").textContent = "重试生成付款文件";
      $("export-result").replaceChildren(el("div", { class: "error-text" },
        `${errorText(error)}。请点“重试生成付款文件”：重试使用同一请求编号，不会重复付款。`));
    } else {
      exportKey = null;
      $("export").textContent = "生成付款文件";
      $("export-result").replaceChildren(el("div", { class: "error-text" }, errorText(error)));
    }
  } finally {
    $("export").disabled = false;
  }
  await Promise.all([loadMoney(), loadAudit()]);
});

// The service names a return file's bad lines in English; the officer reads them in Chinese
// (amounts in 元). A problem not known here is shown as it came, so none is lost.
const LINE_PROBLEMS = [
  [/^unknown reference (\S+)\.$/, (m) => `付款编号 ${m[1]} 不在任何付款文件中`],
  [/^(\S+) was returned (paid|failed) before\.$/, (m) => `付款编号 ${m[1]} 已回盘过（${m[2] === "paid" ? "成功" : "失败"}）`],
  [/^amount ([\d.]+) does not match the payment's ([\d.]+)\.$/, (m) => `金额 ¥${m[1]} 与付款金额 ¥${m[2]} 不符`],
  [/^repeats line (\d+) \((.+)\)\.$/, (m) => `与第 ${m[1]} 行重复（${m[2]}）`],
  [/^reference '(.*)' is not a bank file reference\.$/, (m) => `“${m[1]}”不是付款编号`],
  [/^status '(.*)' is not paid or failed\.$/, (m) => `状态“${m[1]}”应为 paid（成功）或 failed（失败）`],
  [/^amount_yuan '(.*)' is not yuan with two decimals\.$/, (m) => `金额“${m[1]}”应为两位小数的元`],
  [/^Missing data for required field\.$/, () => "缺少此项"],
];

function problemText(problem) {
  for (const [pattern, say] of LINE_PROBLEMS) {
    const m = pattern.exec(problem);
    if (m) return say(m);
  }
  return problem;
}

function lineProblems(error) {
  const lines = error.details && error.details.lines ? Object.entries(error.details.lines) : [];
  return lines.map(([n, problems]) => `第 ${n} 行：${[].concat(problems).map(problemText).join("；")}`);
}

$("returns-file").addEventListener("change", async () => {
  const file = $("returns-file").files[0];
  if (!file) return;
  try {
    const r = await api.json("PUT", "/admin/payments/returns", { text: await file.text(), contentType: "text/csv" });
    $("returns-result").replaceChildren(
      el("div", { class: "ok-text" }, `已导入回盘 ${r.rows} 笔：成功 ${r.paid} 笔 ${yuan(r.paid_fen)}；失败 ${r.failed} 笔 ${yuan(r.failed_fen)}`),
      r.failed ? el("div", { class: "muted" }, "失败的金额已退回商户应付余额，下一个付款文件会以新的付款编号重新支付。") : "",
    );
    show(`已导入回盘 ${r.rows} 笔`, "ok");
  } catch (error) {
    const problems = lineProblems(error);
    const head = error.code === "already_returned"
      ? "这些付款的回盘已导入过，本次未导入任何一行"
      : error.code === "invalid_request" && problems.length
        ? "回盘文件与付款文件不符，本次未导入任何一行"
        : errorText(error);
    $("returns-result").replaceChildren(
      el("div", { class: "error-text", id: error.code === "already_returned" ? "already-returned" : null }, head),
      problems.length ? el("ul", { class: "problems" }, ...problems.map((p) => el("li", {}, p))) : "",
    );
    show(`${head}${problems.length ? `：第 ${Object.keys(error.details.lines).join("、")} 行` : ""}`, "error");
  }
  $("returns-file").value = "";
  await Promise.all([loadMoney(), loadAudit()]);
});

// verify answers 409 with its own body (not the error body) when the ledger does not hold.
async function verifyLedger() {
  let response;
  let body;
  try {
    response = await fetch("/api/v1/admin/ledger/verify", { headers: { Authorization: `Bearer ${api.token}` } });
    if (response.status === 401) {
      api.token = null;
      render();
      return;
    }
    body = await response.json();
  } catch (error) {
    $("verify-result").replaceChildren(el("div", { class: "error-text" }, new NetworkError(String(error)).text));
    return;
  }
  const at = el("span", { class: "muted" }, ` 核验于 ${dateTime(new Date().toISOString())}`);
  if (response.status !== 200 && response.status !== 409) {
    const e = body.error || {};
    $("verify-result").replaceChildren(el("div", { class: "error-text" }, new ApiError(response.status, e.code, e.message).text));
    return;
  }
  const checks = body.checks || {};
  const pills = Object.entries(CHECKS).filter(([name]) => name in checks).map(([name, label]) =>
    el("span", { class: checks[name] === "ok" ? "pill ok" : "pill" }, `${checks[name] === "ok" ? "✓" : "✗"} ${label}`));
  const t = checks.totals;
  const totals = t ? el("div", { class: "scroll" }, el("table", { id: "verify-totals" },
    el("tr", {}, ...["按记录重算的补贴成本", "补贴支出", "待结算", "应付", "在途", "已付款", "转账笔数"].map((h) => el("th", {}, h))),
    el("tr", {}, el("td", {}, yuan(t.cost_fen)), el("td", {}, yuan(t.subsidy_fen)), el("td", {}, yuan(t.unsettled_fen)),
      el("td", {}, yuan(t.payable_fen)), el("td", {}, yuan(t.in_transit_fen)), el("td", {}, yuan(t.paid_fen)),
      el("td", {}, t.transfers)))) : "";
  if (body.ok) {
    $("verify-result").replaceChildren(el("div", { id: "verify-status", class: "ok-text" }, el("strong", {}, "平衡 ✓"), at), el("p", {}, ...pills), totals);
  } else {
    $("verify-result").replaceChildren(
      el("div", { id: "verify-status", class: "error-text" }, el("strong", {}, `不平衡 ✗：${(body.problems || []).length} 个问题`), at),
      el("ul", { class: "problems" }, ...(body.problems || []).map((p) => el("li", {}, p))),
      el("p", {}, ...pills), totals,
    );
  }
}

$("verify").addEventListener("click", verifyLedger);

// --- audit trail -------------------------------------------------------------------------

function auditQuery() {
  const q = new URLSearchParams();
  for (const [key, id] of [["from", "audit-from"], ["to", "audit-to"], ["actor", "audit-actor"], ["action", "audit-action"]]) {
    const value = $(id).value.trim();
    if (value) q.set(key, value);
  }
  return q;
}

// A field's value as the bureau reads it: money in 元, times in festival time, words in Chinese.
function valueText(key, value) {
  if (value == null) return "—";
  if (key.endsWith("_fen") && typeof value === "number") return yuan(value);
  if (typeof value === "boolean") return value ? "是" : "否";
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) return dateTime(value);
  if (typeof value === "string") return VALUES[value] || value;
  if (Array.isArray(value)) {
    if (value.length && typeof value[0] === "object") return `${value.length} 项`;
    return value.length > 8 ? `${value.slice(0, 8).map((v) => valueText("", v)).join("、")} 等 ${value.length} 项` : value.map((v) => valueText("", v)).join("、") || "无";
  }
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${FIELDS[k] || k} ${valueText(k, v)}`).join("，");
  return String(value);
}

// Every changed field, one a line (issue 25: six of them, clipped to 60 characters).
function changes(entry) {
  const before = entry.before || {};
  const after = entry.after || {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]) && !["created_at", "updated_at"].includes(k));
  if (!(entry.before && entry.after)) {
    // Made or removed: the object's fields on one paragraph, not one line each.
    const whole = entry.after ? after : before;
    return el("span", {}, changed.map((k) => `${FIELDS[k] || k}：${valueText(k, whole[k])}`).join("；"));
  }
  return el("ul", { class: "changes" }, ...changed.map((k) => el("li", {},
    `${FIELDS[k] || k}：${valueText(k, before[k])} → ${valueText(k, after[k])}`)));
}

// The trail a page at a time, newest first: each page asks for the entries older than the
// last one shown (before_id); `pages` keeps where each page shown so far began.
const AUDIT_PAGE = 50;
let auditPages = [null];

async function loadAudit(page = 0) {
  try {
    const q = auditQuery();
    q.set("limit", String(AUDIT_PAGE + 1));
    if (page === 0) auditPages = [null];
    if (auditPages[page]) q.set("before_id", String(auditPages[page]));
    const { items } = await api.json("GET", `/admin/audit?${q}`);
    const shown = items.slice(0, AUDIT_PAGE);
    const more = items.length > AUDIT_PAGE;
    if (more) auditPages[page + 1] = shown[shown.length - 1].id;
    $("audit").replaceChildren(
      el("tr", {}, ...["时间", "操作人", "操作", "对象", "变更"].map((h) => el("th", {}, h))),
      ...shown.map((e) => el("tr", { "data-entry": e.id },
        el("td", {}, dateTime(e.at)), el("td", {}, e.actor), el("td", {}, ACTIONS[e.action] || e.action),
        el("td", {}, e.object), el("td", { class: "evidence" }, changes(e)))),
    );
    if (!shown.length) $("audit").append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "没有符合条件的记录")));
    $("audit-page").textContent = shown.length ? `第 ${page + 1} 页（每页 ${AUDIT_PAGE} 条）` : "";
    $("audit-prev").disabled = page === 0;
    $("audit-next").disabled = !more;
    $("audit-prev").onclick = () => loadAudit(page - 1);
    $("audit-next").onclick = () => loadAudit(page + 1);
  } catch (error) {
    show(errorText(error), "error");
  }
}

$("audit-search").addEventListener("click", () => loadAudit(0));
downloadButtons(api, "audit", () => `/admin/audit?${auditQuery()}`, (error) => show(errorText(error), "error"));

async function download(path, format) {
  try {
    await downloadTable(api, path, format);
  } catch (error) {
    show(errorText(error), "error");
  }
}

window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
render();
