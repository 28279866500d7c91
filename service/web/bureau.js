// The bureau's dashboard: festival-to-date totals, daily charts, budgets, lottery draws (each
// recomputed in the browser), recycling, merchants and their applications (报名审核),
// settlements, the SMS outbox, jobs.
import { CATEGORY_NAMES, TIME_ZONE, dateTime, downloadButtons, el, errorText, festivalNow, parseYuan, show, signedInPage, today, yuan } from "/static/common.js";
import { loadCharts } from "/static/charts.js";
import { verifyRecord } from "/static/lottery-verify.js";
import { loadApplications } from "/static/bureau-applications.js";

const $ = (id) => document.getElementById(id);
const { api, render, signIn } = signedInPage("bureau", () => refresh());
const CATEGORIES = Object.keys(CATEGORY_NAMES);
const charts = {};
let merchants = [];
let jobs = [];
let range = null;
let totals = [];
let batches = [];
// Records up to this many entries are fetched and recomputed as the page loads; bigger ones
// on a click (a million entry ids is tens of megabytes).
const VERIFY_ON_LOAD = 200_000;
const SETTLEMENT_STATUS = {
  unsettled: "待结算", settled: "已结算（计入应付）",
};

$("sign-in").addEventListener("click", async () => {
  const username = $("username").value.trim();
  const body = { username, password: $("password").value };
  if (await signIn("/auth/bureau", body, username)) $("password").value = "";
});

async function refresh() {
  await Promise.all([
    loadSummary(), loadMerchants(), loadJobs(), loadBudget(), loadBatches(),
    loadApplications(api, { onDecided: loadMerchants }), loadMessages(),
  ]);
  await Promise.all([loadDaily(), loadSettlements(), loadRecovery()]);
}

// --- budget ------------------------------------------------------------------------------

async function loadBudget() {
  try {
    const { items } = await api.json("GET", "/admin/budget");
    $("budget").replaceChildren(
      el("tr", {}, ...["品类", "预算", "已承诺", "已支出", "可用", "使用率", "调整预算（元）"].map((h) => el("th", {}, h))),
      ...items.map((line) => {
        const input = el("input", { inputmode: "decimal", style: "width:9em", "aria-label": `${CATEGORY_NAMES[line.category]}预算` });
        const used = line.budget_fen ? (line.committed_fen + line.spent_fen) / line.budget_fen : null;
        return el("tr", { "data-category": line.category },
          el("td", {}, CATEGORY_NAMES[line.category]),
          el("td", {}, line.budget_fen == null ? "不限" : yuan(line.budget_fen)),
          el("td", {}, yuan(line.committed_fen)), el("td", {}, yuan(line.spent_fen)),
          el("td", {}, line.available_fen == null ? "不限" : yuan(line.available_fen)),
          el("td", {}, used == null ? "—" : `${(used * 100).toFixed(1)}%`),
          el("td", {}, el("span", { style: "display:flex;gap:6px;justify-content:flex-end" }, input,
            el("button", { class: "secondary small", onclick: () => setBudget(line.category, input.value) }, "保存"))));
      }),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}

async function setBudget(category, text) {
  const fen = parseYuan(text);
  if (fen === null) {
    show("请输入金额（元，最多两位小数）", "error");
    return;
  }
  try {
    await api.json("PUT", "/admin/budget", { body: { category, budget_fen: fen } });
    show(`${CATEGORY_NAMES[category]}预算已调整为 ${yuan(fen)}`, "ok");
  } catch (error) {
    show(errorText(error), "error");
  }
  loadBudget();
}

// --- batches: lottery draws and recycling --------------------------------------------------

async function loadBatches() {
  try {
    batches = await api.json("GET", "/batches");
    fillRecycleForm();
    await loadDraws();
  } catch (error) {
    show(errorText(error), "error");
  }
}

function drawStatus(batch) {
  if (batch.drawn_at) return "已开奖";
  if (batch.status === "scheduled") return "未开始报名";
  if (new Date(batch.draw_at) <= festivalNow()) return "待开奖（已到时间）";
  return batch.status === "closed" ? "报名结束，待开奖" : "报名中";
}

async function loadDraws() {
  const lotteries = batches.filter((b) => b.mode === "lottery").sort((a, b) => (a.draw_at < b.draw_at ? 1 : -1));
  const rows = await Promise.all(lotteries.map(drawRow));
  $("draws").replaceChildren(
    el("tr", {}, ...["批次", "开奖时间", "状态", "种子承诺值", "报名", "中签", "复核", ""].map((h) => el("th", { class: "text" }, h))),
    ...(rows.length ? rows : [el("tr", {}, el("td", { class: "text muted", colspan: 8 }, "暂无摇号批次"))]),
  );
}

async function drawRow(batch) {
  const check = el("td", { class: "text", "data-verify": "" });
  let record = null;
  try {
    record = await api.json("GET", `/batches/${batch.id}/draw`);
  } catch (error) {
    check.textContent = errorText(error);
  }
  const actions = el("td", { class: "text" },
    el("a", { href: `/api/v1/batches/${batch.id}/draw`, target: "_blank", rel: "noopener" }, "开奖记录"));
  if (!batch.drawn_at && new Date(batch.draw_at) <= festivalNow()) {
    actions.append(" ", el("button", { class: "small", onclick: () => drawNow(batch) }, "立即开奖"));
  }
  if (record && record.status === "drawn") {
    if (record.entries <= VERIFY_ON_LOAD) showVerification(check, record);
    else check.append(el("button", { class: "secondary small", onclick: () => verifyLater(check, batch.id) }, "复核"));
  } else if (record) {
    check.textContent = "开奖后可复核";
  }
  return el("tr", { "data-batch": batch.id },
    el("td", { class: "text" }, batch.title),
    el("td", { class: "text" }, dateTime(batch.draw_at)),
    el("td", { class: "text" }, drawStatus(batch)),
    el("td", { class: "text", title: batch.seed_commitment }, el("code", {}, `${batch.seed_commitment.slice(0, 16)}…`)),
    el("td", {}, record ? record.entries : "—"),
    el("td", {}, record && record.winner_entry_ids ? record.winner_entry_ids.length : "—"),
    check, actions);
}

function showVerification(cell, record) {
  const problems = verifyRecord(record);
  cell.replaceChildren(problems.length
    ? el("span", { class: "error-text" }, `✗ 复核不通过：${problems.join("；")}`)
    : el("span", { class: "ok-text" }, "✓ 复核通过"));
}

async function verifyLater(cell, batchId) {
  cell.textContent = "复核中…";
  try {
    showVerification(cell, await api.json("GET", `/batches/${batchId}/draw`));
  } catch (error) {
    cell.textContent = errorText(error);
  }
}

async function drawNow(batch) {
  try {
    const record = await api.json("POST", `/admin/batches/${batch.id}/draw`);
    show(`已开奖：${record.entries} 人报名，${record.winner_entry_ids.length} 人中签`, "ok");
  } catch (error) {
    show(errorText(error), "error");
  }
  loadBatches();
  loadBudget();
}

// Ended: a first-come batch whose window closed, or a drawn lottery.
const ended = (b) => (b.mode === "lottery" ? Boolean(b.drawn_at) : b.status === "closed");
// Still to give out: a first-come batch not yet closed, or a lottery not yet drawn.
const giving = (b) => (b.mode === "lottery" ? !b.drawn_at : b.status === "open" || b.status === "scheduled");
const batchLabel = (b) => `#${b.id} ${b.title}`;

function fillRecycleForm() {
  const chosen = $("recycle-source").value;
  const sources = batches.filter(ended).sort((a, b) => (a.claim_ends_at < b.claim_ends_at ? 1 : -1));
  $("recycle-source").replaceChildren(...sources.map((b) => el("option", { value: b.id }, batchLabel(b))));
  if (sources.some((b) => String(b.id) === chosen)) $("recycle-source").value = chosen;
  fillRecycleTargets();
}

function fillRecycleTargets() {
  const source = batches.find((b) => String(b.id) === $("recycle-source").value);
  const targets = source
    ? batches.filter((b) => b.id !== source.id && giving(b) && b.category === source.category && b.face_value_fen === source.face_value_fen)
    : [];
  $("recycle-target").replaceChildren(
    ...(targets.length
      ? targets.map((b) => el("option", { value: b.id }, batchLabel(b)))
      : [el("option", { value: "" }, "没有同品类、同面值、尚未结束的批次")]),
  );
  $("recycle").disabled = !targets.length;
}
$("recycle-source").addEventListener("change", fillRecycleTargets);

$("recycle").addEventListener("click", async () => {
  const source = Number($("recycle-source").value);
  const target = Number($("recycle-target").value);
  $("recycle-result").textContent = "";
  try {
    const moved = await api.json("POST", `/admin/batches/${source}/recycle`, { body: { into_batch_id: target } });
    $("recycle-result").textContent =
      `已回收 ${moved.moved} 张到 #${target}（未领取 ${moved.unclaimed} 张，过期未用 ${moved.expired} 张）`;
    show("回收完成", "ok");
  } catch (error) {
    show(errorText(error), "error");
  }
  loadBatches();
  loadBudget();
});

const ratio = (v) => (v == null ? "—" : v.toFixed(2));
const percent = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);

// 活动累计（含今日） is as of now, festival time (the drill clock's now in a drill; issue 25:
// it said the demo's last computation, 2020/6/8). While the festival runs, a computation
// older than the intraday refresh's few minutes is said too: the numbers lag.
function asOfText(summary) {
  const now = festivalNow();
  const text = `截至 ${dateTime(now.toISOString())}`;
  const computed = summary.computed_at ? Date.parse(summary.computed_at) : null;
  const running = summary.to && summary.to >= today();
  if (running && computed != null && now - computed > 15 * 60 * 1000) return `${text}（统计于 ${dateTime(summary.computed_at)}，可能滞后）`;
  return text;
}

async function loadSummary() {
  try {
    const summary = await api.json("GET", "/stats/summary");
    range = summary.from && summary.to ? { from: summary.from, to: summary.to } : null;
    $("as-of").textContent = asOfText(summary);
    const row = (name, part, key) =>
      el("tr", { "data-category": key },
        el("td", {}, name), el("td", {}, part.vouchers_claimed), el("td", {}, part.vouchers_redeemed),
        el("td", {}, yuan(part.subsidy_fen)), el("td", {}, yuan(part.sales_fen)),
        el("td", {}, ratio(part.leverage)), el("td", {}, percent(part.redemption_rate)),
        el("td", {}, ratio(part.recovery_index)), el("td", {}, part.vouchers_recycled));
    totals = [...summary.categories, { category: "overall", ...summary.overall }];
    $("totals").replaceChildren(
      el("tr", {}, ...["品类", "领券", "核销", "财政补贴", "带券订单", "拉动比（订单÷补贴）", "核销率", "带券订单÷基期", "回收名额"].map((h) => el("th", {}, h))),
      ...summary.categories.map((c) => row(CATEGORY_NAMES[c.category], c, c.category)),
      row("合计", summary.overall, "overall"),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}

function dailyQuery(extra = "") {
  if (!range) return `/stats/daily${extra ? `?${extra}` : ""}`;
  // At most a year at a time: the end of the festival as computed so far.
  const to = range.to;
  const from = range.from > shiftDays(to, -365) ? range.from : shiftDays(to, -365);
  return `/stats/daily?from=${from}&to=${to}${extra ? `&${extra}` : ""}`;
}

function shiftDays(iso, days) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

// One small chart per category, each on its own scale (cars would flatten the rest).
function smallMultiples(container, prefix) {
  if (!$(container).children.length) {
    $(container).replaceChildren(...CATEGORIES.map((c) =>
      el("div", {}, el("h3", { class: "muted" }, CATEGORY_NAMES[c]), el("div", { class: "chart", id: `${prefix}-${c}` }))));
  }
}

async function loadDaily() {
  try {
    const { items } = await api.json("GET", dailyQuery());
    const dates = [...new Set(items.map((r) => r.date))].sort();
    $("range").textContent = dates.length ? `${dates[0]} 至 ${dates[dates.length - 1]}` : "暂无数据";
    smallMultiples("daily-charts", "chart-daily");
    for (const category of CATEGORIES) {
      const byDate = new Map(items.filter((r) => r.category === category).map((r) => [r.date, r]));
      const pick = (field) => dates.map((d) => (byDate.has(d) ? byDate.get(d)[field] / 100 : null));
      draw(`chart-daily-${category}`, dates, [
        { name: "带券订单（元）", type: "bar", data: pick("sales_fen") },
        { name: "财政补贴（元）", type: "line", showSymbol: false, data: pick("subsidy_fen") },
      ]);
    }
  } catch (error) {
    show(errorText(error), "error");
  }
}

async function loadRecovery() {
  try {
    const { items, totals: recoveryTotals } = await api.json("GET", "/stats/recovery");
    const dates = [...new Set(items.map((r) => r.date))].sort();
    $("recovery-range").textContent = dates.length ? `${dates[0]} 至 ${dates[dates.length - 1]}` : "暂无营业额数据";
    const leverage = new Map(totals.map((t) => [t.category, t.leverage]));
    const interval = (t) => (t.ci_low == null ? "—" : `${signed(t.ci_low)} ～ ${signed(t.ci_high)}`);
    $("recovery-totals").replaceChildren(
      el("tr", {}, ...["品类", "参与商户恢复指数", "对照商户恢复指数", "增量（双重差分）", "95%区间", "增量消费", "拉动比（带券订单 ÷ 补贴）", "报送商户（参与/对照）"].map((h) => el("th", {}, h))),
      ...recoveryTotals.map((t) => el("tr", { "data-category": t.category },
        el("td", {}, CATEGORY_NAMES[t.category]), el("td", {}, ratio(t.participants_index)),
        el("td", {}, ratio(t.comparison_index)), el("td", {}, t.incremental_index == null ? "—" : signed(t.incremental_index)),
        el("td", {}, interval(t)), el("td", {}, t.incremental_sales_fen == null ? "—" : yuan(t.incremental_sales_fen)),
        el("td", {}, ratio(leverage.get(t.category))),
        el("td", {}, `${t.merchants_reporting} / ${t.comparison_reporting}`))),
    );
    smallMultiples("recovery-charts", "chart-recovery");
    for (const category of CATEGORIES) {
      const rows = new Map(items.filter((r) => r.category === category).map((r) => [r.date, r]));
      const at = (d, f) => (rows.get(d) ? rows.get(d)[f] : null);
      const low = dates.map((d) => (at(d, "ci_low") == null ? null : at(d, "comparison_index") + at(d, "ci_low")));
      const high = dates.map((d) => (at(d, "ci_high") == null ? null : at(d, "comparison_index") + at(d, "ci_high")));
      draw(`chart-recovery-${category}`, dates, [
        // The band: comparison + the increment's interval, stacked as a floor and a width.
        { name: "区间下沿", type: "line", stack: "band", symbol: "none", lineStyle: { opacity: 0 }, data: low, tooltip: { show: false } },
        { name: "95%区间", type: "line", stack: "band", symbol: "none", lineStyle: { opacity: 0 },
          areaStyle: { color: "rgba(200,16,46,0.15)" }, data: high.map((h, i) => (h == null || low[i] == null ? null : h - low[i])) },
        { name: "参与商户", type: "line", symbol: "none", color: "#c8102e", data: dates.map((d) => at(d, "participants_index")) },
        { name: "对照商户", type: "line", symbol: "none", color: "#6b7280", data: dates.map((d) => at(d, "comparison_index")) },
      ], { legend: ["参与商户", "对照商户", "95%区间"] });
    }
  } catch (error) {
    show(errorText(error), "error");
  }
}

function signed(v) {
  return `${v >= 0 ? "+" : ""}${v.toFixed(3)}`;
}

async function draw(id, dates, series, { legend } = {}) {
  let echarts;
  try {
    echarts = await loadCharts();
  } catch (error) {
    show(error.message, "error");
    return;
  }
  charts[id] = charts[id] || echarts.init($(id));
  charts[id].setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0, data: legend },
    grid: { left: 64, right: 16, top: 40, bottom: 28 },
    xAxis: { type: "category", data: dates.map((d) => d.slice(5)) },
    yAxis: { type: "value", scale: true },
    series,
  }, true);
}
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

async function loadMerchants() {
  try {
    merchants = await api.json("GET", "/admin/merchants");
    $("merchants").replaceChildren(
      el("tr", {}, ...["编号", "商户", "品类", "街道", "地址", "营业时间", "联系电话", "状态"].map((h) => el("th", { class: "text" }, h))),
      ...merchants.map((m) =>
        el("tr", {},
          el("td", {}, m.id), el("td", { class: "text" }, m.name),
          el("td", { class: "text" }, CATEGORY_NAMES[m.category]), el("td", { class: "text" }, m.street || "—"),
          el("td", { class: "text" }, m.address), el("td", { class: "text" }, m.hours || "—"),
          el("td", { class: "text" }, m.contact_phone),
          el("td", { class: "text" }, m.status === "active" ? "参与中" : "已暂停"))),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}

async function loadSettlements() {
  const input = $("settlement-date");
  if (!input.value) input.value = range ? range.from : today();
  try {
    const { items } = await api.json("GET", `/admin/settlements?date=${input.value}`);
    $("settlements").replaceChildren(
      el("tr", {}, ...["商户", "笔数", "补贴", "调整", "应付", "状态"].map((h) => el("th", {}, h))),
      ...items.map((l) =>
        el("tr", {},
          el("td", {}, l.merchant_name), el("td", {}, l.redemptions), el("td", {}, yuan(l.subsidy_fen)),
          el("td", {}, yuan(l.adjustments_fen)), el("td", {}, yuan(l.net_fen)),
          el("td", {}, SETTLEMENT_STATUS[l.status] || l.status))),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}
$("settlement-date").addEventListener("change", loadSettlements);

// The jobs as the bureau says them (issue 25: English names and cron strings).
const JOB_NAMES = {
  daily_rollup: ["每日汇总", "汇总昨天（及前两天）的数据，先清理过期券"],
  settlement: ["日终结算", "按商户结算昨天的核销"],
  risk_scan: ["套现风险扫描", "按四条规则扫描昨天的核销，生成套现预警"],
  recovery: ["消费恢复测算", "与对照商户比较，测算昨天及活动至今的消费恢复"],
  intraday_refresh: ["日内刷新", "刷新今天截至目前的数据和套现预警"],
  expiry_sweep: ["过期券清理", "把已过有效期的券标为已过期"],
  lottery_draw: ["摇号开奖", "为到了开奖时间的摇号批次开奖（每批一次）"],
  send_messages: ["短信发送", "生成到期提醒并发送短信（21:00 至次日 08:00 不发）"],
  housekeeping: ["系统清理", "清理过期的限流记录、幂等键和高频任务的运行记录"],
};
const jobName = (name) => (JOB_NAMES[name] ? JOB_NAMES[name][0] : name);

// A crontab of the festival's time zone in words: "5 0 * * *" is 每天 00:05.
function scheduleText(cron) {
  const [minute, hour, day, month, weekday] = cron.trim().split(/\s+/);
  if (day !== "*" || month !== "*" || weekday !== "*") return `按计划（${cron}）`;
  if (/^\d+$/.test(minute) && /^\d+$/.test(hour)) return `每天 ${hour.padStart(2, "0")}:${minute.padStart(2, "0")}`;
  if (hour !== "*") return `按计划（${cron}）`;
  if (minute === "*") return "每分钟";
  let match = /^\*\/(\d+)$/.exec(minute);
  if (match) return `每 ${match[1]} 分钟`;
  match = /^(\d+)-59\/(\d+)$/.exec(minute);
  if (match) return `每 ${match[2]} 分钟（每小时第 ${match[1]} 分起）`;
  if (/^\d+$/.test(minute)) return `每小时第 ${minute} 分`;
  return `按计划（${cron}）`;
}

async function loadJobs() {
  try {
    jobs = await api.json("GET", "/admin/jobs");
    $("jobs").replaceChildren(
      el("tr", {}, ...["任务", "计划", "下次运行", "上次运行", "结果", "行数", ""].map((h) => el("th", { class: "text" }, h))),
      ...jobs.map((j) =>
        el("tr", { "data-job": j.name },
          el("td", { class: "text wrap", title: JOB_NAMES[j.name] ? JOB_NAMES[j.name][1] : j.description },
            jobName(j.name), el("div", { class: "muted" }, JOB_NAMES[j.name] ? JOB_NAMES[j.name][1] : "")),
          el("td", { class: "text", title: `${j.schedule}（${TIME_ZONE}）` }, scheduleText(j.schedule)),
          el("td", { class: "text" }, dateTime(j.next_run_at)),
          el("td", { class: "text" }, j.last_run ? `${j.last_run.period} · ${dateTime(j.last_run.finished_at)}` : "—"),
          el("td", { class: "text", title: j.last_run && j.last_run.error ? j.last_run.error : "" },
            j.running ? "运行中" : j.last_run ? (j.last_run.status === "succeeded" ? "成功" : "失败（详情见下载的任务表）") : "—"),
          el("td", { class: "text" }, j.last_run && j.last_run.rows != null ? j.last_run.rows : ""),
          el("td", {}, el("button", { class: "secondary small", onclick: () => runJob(j.name) }, "立即运行")))),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}

// --- the SMS outbox ------------------------------------------------------------------------

const MESSAGE_STATUS = { queued: "待发送", sending: "发送中", sent: "已发送", failed: "失败", skipped: "未发送" };
const MESSAGE_KIND = { lottery_result: "摇号结果", expiry_reminder: "到期提醒", application_decision: "报名审核" };
const SKIP_REASON = { no_phone: "无手机号", opted_out: "已关闭提醒", daily_cap: "超出每日2条" };
let messagesBefore = null;

async function loadMessages(more = false) {
  const query = new URLSearchParams({ limit: "50" });
  if ($("messages-status").value) query.set("status", $("messages-status").value);
  if ($("messages-kind").value) query.set("kind", $("messages-kind").value);
  if (more && messagesBefore) query.set("before_id", messagesBefore);
  try {
    const page = await api.json("GET", `/admin/messages?${query}`);
    const { counts } = page;
    $("messages-counts").textContent = `共 ${counts.total} 条：` +
      Object.entries(counts.by_status).map(([s, n]) => `${MESSAGE_STATUS[s]} ${n}`).join("，");
    const rows = page.items.map((m) =>
      el("tr", {},
        el("td", { class: "text" }, dateTime(m.created_at)),
        el("td", { class: "text" }, MESSAGE_KIND[m.kind]),
        el("td", { class: "text" }, m.phone),
        el("td", { class: "text" }, m.text),
        el("td", { class: "text" },
          m.status === "skipped" ? `未发送（${SKIP_REASON[m.skip_reason] || m.skip_reason}）` : MESSAGE_STATUS[m.status]),
        el("td", {}, m.attempts),
        el("td", { class: "text" }, m.sent_at ? dateTime(m.sent_at) : m.last_error || ""),
        el("td", { class: "text" }, m.provider_message_id || "")));
    const header = el("tr", {},
      ...["创建", "类型", "手机号", "内容", "状态", "尝试", "发送时间 / 错误", "回执编号"].map((h) => el("th", { class: "text" }, h)));
    if (more) $("messages").append(...rows);
    else $("messages").replaceChildren(header, ...rows);
    messagesBefore = page.next_before_id;
    $("messages-more").hidden = messagesBefore === null;
  } catch (error) {
    show(errorText(error), "error");
  }
}
$("messages-status").addEventListener("change", () => loadMessages());
$("messages-kind").addEventListener("change", () => loadMessages());
$("messages-more").addEventListener("click", () => loadMessages(true));

async function runJob(name) {
  try {
    await api.json("POST", `/admin/jobs/${name}/runs`, { body: {} });
    show(`已开始运行：${jobName(name)}`, "ok");
    setTimeout(loadJobs, 1500);
  } catch (error) {
    show(errorText(error), "error");
  }
}

// Each table as CSV or Excel, from the service (the same rows either way).
const failed = (error) => show(errorText(error), "error");
downloadButtons(api, "daily", () => dailyQuery(), failed);
downloadButtons(api, "recovery", () => "/stats/recovery", failed);
downloadButtons(api, "settlements", () => `/admin/settlements?date=${$("settlement-date").value}`, failed);
downloadButtons(api, "merchants", () => "/admin/merchants", failed);
downloadButtons(api, "budget", () => "/admin/budget", failed);
downloadButtons(api, "totals", () => "/stats/summary", failed);
downloadButtons(api, "jobs", () => "/admin/jobs", failed);

render();
