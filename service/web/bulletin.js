// The daily bulletin (消费节简报) for the district leadership: the day's headline numbers,
// recovery against comparison merchants with its interval, a small chart per category, the
// day's top merchants, open risk flags and the budget left. Printable on A4 (bulletin.css).
import { BASELINE_YEAR, CATEGORY_NAMES, RULE_NAMES, dateTime, el, errorText, show, signedInPage, today, yuan } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const { api, render, signIn } = signedInPage("bureau", () => load());
const CATEGORIES = Object.keys(CATEGORY_NAMES);
const charts = {};
const MAX_RANGE_DAYS = 366; // what one stats request may span (API.md)

$("sign-in").addEventListener("click", async () => {
  const username = $("username").value.trim();
  const body = { username, password: $("password").value };
  if (await signIn("/auth/bureau", body, username)) $("password").value = "";
});
$("print").addEventListener("click", () => window.print());
$("day").addEventListener("change", () => {
  const url = new URL(location.href);
  url.searchParams.set("date", $("day").value);
  history.replaceState(null, "", url);
  load();
});

async function theDay(summary) {
  const asked = new URLSearchParams(location.search).get("date");
  if (/^\d{4}-\d{2}-\d{2}$/.test(asked || "")) return asked;
  // The last day with redemptions up to yesterday: yesterday while the festival runs, its
  // last busy day once it is over (an empty day's bulletin helps nobody).
  const yesterday = shift(today(), -1);
  const to = summary.to && summary.to < yesterday ? summary.to : yesterday;
  if (!summary.from || summary.from > to) return to;
  const earliest = shift(to, -(MAX_RANGE_DAYS - 1));
  const from = summary.from > earliest ? summary.from : earliest;
  const { items } = await api.json("GET", `/stats/daily?from=${from}&to=${to}`);
  const busy = items.filter((r) => r.vouchers_redeemed > 0).map((r) => r.date).sort();
  return busy.length ? busy[busy.length - 1] : to;
}

function shift(iso, days) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

const ratio = (v) => (v == null ? "—" : v.toFixed(2));
const signed = (v) => (v == null ? "—" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`);
const wan = (fen) => (fen == null ? "—" : `${(fen / 1_000_000).toFixed(1)} 万元`);

async function load() {
  try {
    const summary = await api.json("GET", "/stats/summary");
    const day = await theDay(summary);
    $("day").value = day;
    document.title = `春暖槐荫消费节简报 ${day}`;
    const [daily, recovery, top, flags, budget] = await Promise.all([
      api.json("GET", `/stats/daily?from=${day}&to=${day}`),
      api.json("GET", `/stats/recovery?to=${day}`),
      api.json("GET", `/stats/merchants?date=${day}`),
      api.json("GET", "/admin/risk/flags?status=open&limit=200"),
      api.json("GET", "/admin/budget"),
    ]);
    headline(day, daily.items, summary);
    recoveryTable(recovery);
    recoveryCharts(recovery.items);
    topMerchants(top.items);
    openFlags(flags.items);
    budgetLeft(budget.items);
    $("footer").textContent = `数据截至 ${dateTime(summary.computed_at)}；营业额来自商户日结与税务、银联数据。本简报由消费券系统生成。`;
  } catch (error) {
    show(errorText(error), "error");
  }
}

function headline(day, rows, summary) {
  const sum = (f) => rows.reduce((t, r) => t + (r[f] || 0), 0);
  const subsidy = sum("subsidy_fen");
  const sales = sum("sales_fen");
  $("subtitle").textContent = `${day}（活动累计 ${summary.from || "—"} 至 ${summary.to || "—"}）`;
  const box = (label, value) => el("div", {}, el("b", {}, value), label);
  $("headline").replaceChildren(
    box("当日核销（张）", sum("vouchers_redeemed").toLocaleString("zh-CN")),
    box("当日财政补贴", yuan(subsidy)),
    box("当日带券订单", yuan(sales)),
    box("累计拉动比（带券订单÷补贴）", ratio(summary.overall.leverage)),
  );
}

function recoveryTable({ totals }) {
  const reporting = totals.reduce((t, r) => t + r.merchants_reporting, 0);
  const comparison = totals.reduce((t, r) => t + r.comparison_reporting, 0);
  $("recovery-note").textContent =
    `恢复指数 = 营业额 ÷ ${BASELINE_YEAR}年同周同星期营业额。参与商户 ${reporting} 家、对照商户（未参加消费节）${comparison} 家报送了营业额；二者之差为消费节带来的增量，区间为按商户重抽样的95%置信区间。无数据处不作估计。`;
  $("recovery").replaceChildren(
    el("tr", {}, ...["品类", "参与商户", "对照商户", "增量", "95%区间", "增量营业额"].map((h) => el("th", {}, h))),
    ...totals.map((t) => el("tr", { "data-category": t.category },
      el("td", {}, CATEGORY_NAMES[t.category]), el("td", {}, ratio(t.participants_index)),
      el("td", {}, ratio(t.comparison_index)), el("td", {}, signed(t.incremental_index)),
      el("td", {}, t.ci_low == null ? "—" : `${signed(t.ci_low)} ～ ${signed(t.ci_high)}`),
      el("td", {}, wan(t.incremental_sales_fen)))),
  );
}

function recoveryCharts(items) {
  const dates = [...new Set(items.map((r) => r.date))].sort();
  if (!$("charts").children.length) {
    $("charts").replaceChildren(...CATEGORIES.map((c) =>
      el("div", {}, el("div", { class: "note" }, `${CATEGORY_NAMES[c]}：恢复指数`), el("div", { class: "mini", id: `mini-${c}` }))));
  }
  if (!window.echarts) return;
  for (const c of CATEGORIES) {
    const rows = new Map(items.filter((r) => r.category === c).map((r) => [r.date, r]));
    const at = (d, f) => (rows.get(d) ? rows.get(d)[f] : null);
    const low = dates.map((d) => (at(d, "ci_low") == null ? null : at(d, "comparison_index") + at(d, "ci_low")));
    const width = dates.map((d, i) => (at(d, "ci_high") == null || low[i] == null ? null : at(d, "ci_high") - at(d, "ci_low")));
    charts[c] = charts[c] || window.echarts.init($(`mini-${c}`), null, { renderer: "canvas" });
    charts[c].setOption({
      animation: false,
      legend: { top: 0, data: ["参与商户", "对照商户"], textStyle: { fontSize: 9 } },
      grid: { left: 34, right: 6, top: 22, bottom: 18 },
      xAxis: { type: "category", data: dates.map((d) => d.slice(5)), axisLabel: { fontSize: 8 } },
      yAxis: { type: "value", scale: true, axisLabel: { fontSize: 8 } },
      series: [
        { type: "line", stack: "band", symbol: "none", lineStyle: { opacity: 0 }, data: low },
        { type: "line", stack: "band", symbol: "none", lineStyle: { opacity: 0 }, areaStyle: { color: "rgba(200,16,46,0.15)" }, data: width },
        { name: "参与商户", type: "line", symbol: "none", color: "#c8102e", data: dates.map((d) => at(d, "participants_index")) },
        { name: "对照商户", type: "line", symbol: "none", color: "#6b7280", data: dates.map((d) => at(d, "comparison_index")) },
      ],
    }, true);
  }
}

function topMerchants(rows) {
  const best = [...rows].sort((a, b) => b.sales_fen - a.sales_fen).slice(0, 5);
  $("top").replaceChildren(
    el("tr", {}, ...["商户", "品类", "核销（张）", "补贴", "带券订单"].map((h) => el("th", {}, h))),
    ...best.map((m) => el("tr", {}, el("td", {}, m.merchant_name), el("td", {}, CATEGORY_NAMES[m.category]),
      el("td", {}, m.vouchers_redeemed), el("td", {}, yuan(m.subsidy_fen)), el("td", {}, yuan(m.sales_fen)))),
  );
  if (!best.length) $("top").append(el("tr", {}, el("td", { colspan: 5 }, "当日无核销")));
}

function openFlags(flags) {
  const byRule = new Map();
  for (const f of flags) byRule.set(f.rule, (byRule.get(f.rule) || 0) + 1);
  $("flags").replaceChildren(
    el("tr", {}, el("th", {}, "规则"), el("th", {}, "待复核")),
    ...[...byRule].map(([rule, n]) => el("tr", {}, el("td", {}, RULE_NAMES[rule] || rule), el("td", {}, n))),
    el("tr", {}, el("td", {}, "合计"), el("td", {}, flags.length)),
  );
}

function budgetLeft(lines) {
  $("budget").replaceChildren(
    el("tr", {}, ...["品类", "预算", "可用"].map((h) => el("th", {}, h))),
    ...lines.map((l) => el("tr", {}, el("td", {}, CATEGORY_NAMES[l.category]),
      el("td", {}, l.budget_fen == null ? "不限" : wan(l.budget_fen)),
      el("td", {}, l.available_fen == null ? "不限" : wan(l.available_fen)))),
  );
}

window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
window.addEventListener("beforeprint", () => Object.values(charts).forEach((c) => c.resize()));
render();
