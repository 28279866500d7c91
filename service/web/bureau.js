// The bureau's dashboard: festival-to-date totals, daily charts, merchants, settlements, jobs.
import { CATEGORY_NAMES, csv, dateTime, el, errorText, saveFile, show, signedInPage, today, yuan } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const { api, render, signIn } = signedInPage("bureau", () => refresh());
const CATEGORIES = Object.keys(CATEGORY_NAMES);
const charts = {};
let merchants = [];
let jobs = [];
let range = null;
let totals = [];

$("sign-in").addEventListener("click", async () => {
  const username = $("username").value.trim();
  const body = { username, password: $("password").value };
  if (await signIn("/auth/bureau", body, username)) $("password").value = "";
});

async function refresh() {
  await Promise.all([loadSummary(), loadMerchants(), loadJobs()]);
  await Promise.all([loadDaily(), loadSettlements()]);
}

const ratio = (v) => (v == null ? "—" : v.toFixed(2));
const percent = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);

async function loadSummary() {
  try {
    const summary = await api.json("GET", "/stats/summary");
    range = summary.from && summary.to ? { from: summary.from, to: summary.to } : null;
    $("as-of").textContent = summary.computed_at ? `截至 ${dateTime(summary.computed_at)}` : "";
    const row = (name, part, key) =>
      el("tr", { "data-category": key },
        el("td", {}, name), el("td", {}, part.vouchers_claimed), el("td", {}, part.vouchers_redeemed),
        el("td", {}, yuan(part.subsidy_fen)), el("td", {}, yuan(part.sales_fen)),
        el("td", {}, ratio(part.leverage)), el("td", {}, percent(part.redemption_rate)),
        el("td", {}, ratio(part.recovery_index)));
    totals = [...summary.categories, { category: "overall", ...summary.overall }];
    $("totals").replaceChildren(
      el("tr", {}, ...["品类", "领券", "核销", "财政补贴", "拉动消费", "拉动比", "核销率", "恢复指数"].map((h) => el("th", {}, h))),
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

async function loadDaily() {
  try {
    const { items } = await api.json("GET", dailyQuery());
    const dates = [...new Set(items.map((r) => r.date))].sort();
    $("range").textContent = dates.length ? `${dates[0]} 至 ${dates[dates.length - 1]}` : "暂无数据";
    const series = (field, scale = 1) =>
      CATEGORIES.map((category) => {
        const byDate = new Map(items.filter((r) => r.category === category).map((r) => [r.date, r[field]]));
        return {
          name: CATEGORY_NAMES[category],
          type: "line",
          showSymbol: dates.length <= 40,
          data: dates.map((d) => (byDate.get(d) == null ? null : byDate.get(d) / scale)),
        };
      });
    draw("chart-subsidy", dates, series("subsidy_fen", 100));
    draw("chart-sales", dates, series("sales_fen", 100));
    draw("chart-leverage", dates, series("leverage"));
    draw("chart-recovery", dates, series("recovery_index"));
  } catch (error) {
    show(errorText(error), "error");
  }
}

function draw(id, dates, series) {
  if (!window.echarts) return;
  charts[id] = charts[id] || window.echarts.init($(id));
  charts[id].setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 64, right: 16, top: 56, bottom: 28 },
    xAxis: { type: "category", data: dates },
    yAxis: { type: "value" },
    series,
  }, true);
}
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

async function loadMerchants() {
  try {
    merchants = await api.json("GET", "/admin/merchants");
    $("merchants").replaceChildren(
      el("tr", {}, ...["编号", "商户", "品类", "地址", "联系电话", "状态"].map((h) => el("th", { class: "text" }, h))),
      ...merchants.map((m) =>
        el("tr", {},
          el("td", {}, m.id), el("td", { class: "text" }, m.name),
          el("td", { class: "text" }, CATEGORY_NAMES[m.category]), el("td", { class: "text" }, m.address),
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
          el("td", {}, l.status === "settled" ? "已结算" : "待结算"))),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}
$("settlement-date").addEventListener("change", loadSettlements);

async function loadJobs() {
  try {
    jobs = await api.json("GET", "/admin/jobs");
    $("jobs").replaceChildren(
      el("tr", {}, ...["任务", "计划", "下次运行", "上次运行", "结果", "行数", ""].map((h) => el("th", { class: "text" }, h))),
      ...jobs.map((j) =>
        el("tr", {},
          el("td", { class: "text" }, j.name), el("td", { class: "text" }, j.schedule),
          el("td", { class: "text" }, dateTime(j.next_run_at)),
          el("td", { class: "text" }, j.last_run ? `${j.last_run.period} · ${dateTime(j.last_run.finished_at)}` : "—"),
          el("td", { class: "text" }, j.running ? "运行中" : j.last_run ? (j.last_run.status === "succeeded" ? "成功" : `失败：${j.last_run.error}`) : "—"),
          el("td", { class: "text" }, j.last_run && j.last_run.rows != null ? j.last_run.rows : ""),
          el("td", {}, el("button", { class: "secondary small", onclick: () => runJob(j.name) }, "立即运行")))),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}

async function runJob(name) {
  try {
    await api.json("POST", `/admin/jobs/${name}/runs`, { body: {} });
    show(`已开始运行 ${name}`, "ok");
    setTimeout(loadJobs, 1500);
  } catch (error) {
    show(errorText(error), "error");
  }
}

async function downloadFromApi(path, name) {
  try {
    const response = await api.request("GET", path, { accept: "text/csv" });
    saveFile(name, await response.text());
  } catch (error) {
    show(errorText(error), "error");
  }
}

$("daily-csv").addEventListener("click", () => downloadFromApi(dailyQuery("format=csv"), "festival-daily.csv"));
$("settlements-csv").addEventListener("click", () =>
  downloadFromApi(`/admin/settlements?date=${$("settlement-date").value}&format=csv`, `settlement-${$("settlement-date").value}.csv`));
$("merchants-csv").addEventListener("click", () => downloadFromApi("/admin/merchants?format=csv", "merchants.csv"));
$("totals-csv").addEventListener("click", () =>
  saveFile("festival-summary.csv", csv(["category", "vouchers_claimed", "vouchers_redeemed", "vouchers_expired",
    "redemptions_reversed", "subsidy_fen", "sales_fen", "leverage", "redemption_rate", "baseline_sales_fen",
    "recovery_index"], totals)));
$("jobs-csv").addEventListener("click", () =>
  saveFile("jobs.csv", csv(["name", "schedule", "next_run_at", "period", "status", "rows", "finished_at", "error"],
    jobs.map((j) => ({ ...j, ...(j.last_run || {}) })))));

render();
