// The bureau's money safety: cash-out flags with their evidence and the merchant's redemptions
// over time, review (confirm holds the merchant's settlement), holds and their release,
// bank files out and returns in with the reconciliation, and the audit trail.
import { dateTime, el, errorText, saveFile, show, signedInPage, today, yuan } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const { api, render, signIn } = signedInPage("bureau", () => refresh());
const charts = {};
const RULES = {
  repeat_pair: "同一人反复核销",
  threshold_hugging: "贴近门槛凑单",
  burst: "短时集中核销",
  reversal_churn: "频繁撤销",
};
const FLAG_STATUS = { open: "待复核", confirmed: "已确认", dismissed: "已排除" };
const ACTIONS = {
  "merchant.create": "新增商户", "merchant.update": "修改商户", "batch.create": "新建批次",
  "batch.update": "修改批次", "batch.recycle": "回收名额", "lottery.draw": "开奖",
  "budget.set": "调整预算", "person.suspend": "暂停个人", "person.lift": "恢复个人",
  "baselines.upload": "上传基期数据", "job.run": "手动运行任务", "risk.review": "复核预警",
  "risk.release": "解除暂扣", "payments.export": "导出银行文件", "payments.returns": "导入回盘",
  "job.backfill": "补算任务", "bureau_user.create": "新增商务局账号",
  "bureau_user.reset_password": "重置商务局账号密码",
};
let selected = null;

$("sign-in").addEventListener("click", async () => {
  const username = $("username").value.trim();
  const body = { username, password: $("password").value };
  if (await signIn("/auth/bureau", body, username)) $("password").value = "";
});

async function refresh() {
  if (!$("pay-date").value) $("pay-date").value = yesterday();
  $("audit-action").replaceChildren(
    el("option", { value: "" }, "全部"),
    ...Object.entries(ACTIONS).map(([code, name]) => el("option", { value: code }, name)),
  );
  await Promise.all([loadFlags(), loadHolds(), loadReconciliation(), loadAudit()]);
}

function yesterday() {
  const d = new Date(`${today()}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

// --- flags -------------------------------------------------------------------------------

function evidenceText(flag) {
  const e = flag.evidence;
  const parts = [`${e.redemption_ids.length} 笔核销`];
  if (flag.rule === "repeat_pair") parts.push(`${e.from} 至 ${e.to} 同一人 ${e.vouchers} 张`);
  if (flag.rule === "threshold_hugging") parts.push(`当日 ${e.redemptions} 笔中 ${e.hugging} 笔贴近门槛（${(e.share * 100).toFixed(0)}%）`);
  if (flag.rule === "burst") parts.push(`${dateTime(e.window_starts_at)} 起 ${e.window_minutes} 分钟 ${e.redemptions} 笔，${e.history ? `此前 7 天每 ${e.window_minutes} 分钟中位数 ${e.median}` : "此前 7 天无核销"}`);
  if (flag.rule === "reversal_churn") parts.push(`当日 ${e.redemptions} 笔中撤销 ${e.reversed} 笔`);
  if (e.discount_fen != null) parts.push(`涉及补贴 ${yuan(e.discount_fen)}`);
  return parts.join("；");
}

async function loadFlags() {
  try {
    const status = $("flag-status").value;
    const { items } = await api.json("GET", `/admin/risk/flags${status ? `?status=${status}` : ""}`);
    $("flags").replaceChildren(
      el("tr", {}, ...["日期", "商户", "规则", "证据", "分值", "状态", ""].map((h) => el("th", {}, h))),
      ...items.map((f) => el("tr", { "data-flag": f.id, class: selected === f.id ? "selected" : "" },
        el("td", {}, f.date),
        el("td", {}, f.merchant_name),
        el("td", {}, RULES[f.rule] || f.rule),
        el("td", { class: "evidence" }, evidenceText(f)),
        el("td", {}, f.score.toFixed(2)),
        el("td", {}, FLAG_STATUS[f.status] || f.status),
        el("td", {}, el("button", { class: "secondary small", onclick: () => openFlag(f) }, "查看")))),
    );
    if (!items.length) $("flags").append(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "暂无预警")));
  } catch (error) {
    show(errorText(error), "error");
  }
}

async function openFlag(flag) {
  selected = flag.id;
  $("flag-detail").hidden = false;
  $("flag-title").textContent = `${flag.merchant_name} · ${RULES[flag.rule]} · ${flag.date}`;
  $("flag-evidence").textContent = `${evidenceText(flag)}。核销编号：${flag.evidence.redemption_ids.join(", ")}`;
  $("review-form").hidden = flag.status !== "open";
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
  } catch (error) {
    show(errorText(error), "error");
  }
}

function draw(id, labels, series) {
  if (!window.echarts) return;
  charts[id] = charts[id] || window.echarts.init($(id));
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
    const flag = await api.json("POST", `/admin/risk/flags/${selected}/review`, { body: { decision, note } });
    show(decision === "confirm" ? `已确认，暂扣结算单 ${flag.lines_held} 张` : "已排除", "ok");
    $("flag-detail").hidden = true;
  } catch (error) {
    show(errorText(error), "error");
  }
  await Promise.all([loadFlags(), loadHolds(), loadReconciliation(), loadAudit()]);
}

$("confirm-flag").addEventListener("click", () => review("confirm"));
$("dismiss-flag").addEventListener("click", () => review("dismiss"));
$("flag-status").addEventListener("change", loadFlags);
$("flags-csv").addEventListener("click", () => download("/admin/risk/flags?format=csv", "festival-risk-flags.csv"));

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
          el("td", {}, f.merchant_name), el("td", {}, RULES[f.rule]), el("td", {}, f.date),
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
    show(`已解除：放行结算单 ${r.lines_released} 张${clawback ? `，追回补贴 ${yuan(r.clawed_back_fen)}` : ""}`, "ok");
  } catch (error) {
    show(errorText(error), "error");
  }
  await Promise.all([loadFlags(), loadHolds(), loadReconciliation(), loadAudit()]);
}

// --- payments ----------------------------------------------------------------------------

async function loadReconciliation() {
  const day = $("pay-date").value;
  try {
    const r = await api.json("GET", `/admin/payments/reconciliation?date=${day}`);
    const rows = [
      ["结算合计", r.settled_fen], ["按核销重算", r.redemptions_fen], ["待支付", r.pending_fen],
      ["暂扣", r.held_fen], ["已导出", r.exported_fen], ["已支付", r.paid_fen],
      ["支付失败", r.failed_fen], ["在途", r.in_flight_fen],
    ];
    $("reconciliation").replaceChildren(
      el("tr", {}, el("th", {}, `${day}（${r.lines} 张结算单）`), el("th", {}, "金额")),
      ...rows.map(([name, fen]) => el("tr", {}, el("td", {}, name), el("td", {}, yuan(fen)))),
      el("tr", { id: "balanced" }, el("td", {}, "对账"),
        el("td", { class: r.balanced ? "ok-text" : "error-text" }, r.balanced ? "✓ 平衡" : "✗ 不平衡")),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}

$("pay-date").addEventListener("change", loadReconciliation);

$("export").addEventListener("click", async () => {
  const day = $("pay-date").value;
  try {
    const response = await api.request("POST", "/admin/payments/exports", { body: { date: day } });
    const text = await response.text();
    saveFile(`festival-payments-${day}.csv`, text);
    const lines = text.trim().split(/\r?\n/).length - 1;
    const left = response.headers.get("X-Left-Out");
    $("pay-result").textContent = `已导出 ${lines} 笔${left ? `；未导出商户：${left}` : ""}`;
  } catch (error) {
    show(errorText(error), "error");
  }
  await Promise.all([loadReconciliation(), loadAudit()]);
});

$("returns-file").addEventListener("change", async () => {
  const file = $("returns-file").files[0];
  if (!file) return;
  try {
    const r = await api.json("PUT", "/admin/payments/returns", { text: await file.text(), contentType: "text/csv" });
    $("pay-result").textContent = `已导入回盘 ${r.rows} 笔`;
  } catch (error) {
    const lines = error.details && error.details.lines ? Object.entries(error.details.lines) : [];
    show(`${errorText(error)}${lines.length ? `：第 ${lines.map(([n]) => n).join("、")} 行` : ""}`, "error");
  }
  $("returns-file").value = "";
  await Promise.all([loadReconciliation(), loadAudit()]);
});

// --- audit trail -------------------------------------------------------------------------

function auditQuery() {
  const q = new URLSearchParams();
  for (const [key, id] of [["from", "audit-from"], ["to", "audit-to"], ["actor", "audit-actor"], ["action", "audit-action"]]) {
    const value = $(id).value.trim();
    if (value) q.set(key, value);
  }
  return q;
}

function changes(entry) {
  const before = entry.before || {};
  const after = entry.after || {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]) && !k.endsWith("_at"));
  return changed.slice(0, 6).map((k) => {
    const show_ = (v) => (v == null ? "—" : typeof v === "object" ? JSON.stringify(v).slice(0, 60) : String(v));
    return entry.before ? `${k}: ${show_(before[k])} → ${show_(after[k])}` : `${k}: ${show_(after[k])}`;
  }).join("；");
}

async function loadAudit() {
  try {
    const q = auditQuery();
    q.set("limit", "200");
    const { items } = await api.json("GET", `/admin/audit?${q}`);
    $("audit").replaceChildren(
      el("tr", {}, ...["时间", "操作人", "操作", "对象", "变更"].map((h) => el("th", {}, h))),
      ...items.map((e) => el("tr", { "data-entry": e.id },
        el("td", {}, dateTime(e.at)), el("td", {}, e.actor), el("td", {}, ACTIONS[e.action] || e.action),
        el("td", {}, e.object), el("td", { class: "evidence" }, changes(e)))),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}

$("audit-search").addEventListener("click", loadAudit);
$("audit-csv").addEventListener("click", () => {
  const q = auditQuery();
  q.set("format", "csv");
  download(`/admin/audit?${q}`, "festival-audit.csv");
});

async function download(path, name) {
  try {
    const response = await api.request("GET", path, { accept: "text/csv" });
    saveFile(name, await response.text());
  } catch (error) {
    show(errorText(error), "error");
  }
}

window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
render();
