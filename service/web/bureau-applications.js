// 商户报名审核 on the bureau's dashboard: the applications by status (pending first), and for
// each pending one a note and 通过 / 驳回. Approval creates the merchant; the answer carries the
// SMS text the applicant is sent, shown here so the reviewer knows what was said.
import { CATEGORY_NAMES, ERROR_TEXT, dateTime, el, errorText, show } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const STATUS_TEXT = { submitted: "待审核", approved: "已通过", rejected: "已驳回" };
let current = { api: null, onDecided: () => {} };

export async function loadApplications(api, { onDecided } = {}) {
  current = { api, onDecided: onDecided || (() => {}) };
  const status = $("applications-status").value;
  try {
    const { items } = await api.json("GET", `/admin/merchant-applications${status ? `?status=${status}` : ""}`);
    const head = ["编号", "商户", "地点 · 营业时间", "联系手机 · 收款账户", "提交时间", "审核"];
    $("applications").replaceChildren(
      el("tr", {}, ...head.map((h) => el("th", { class: "text" }, h))),
      ...(items.length ? items.map(row) : [el("tr", {}, el("td", { class: "text muted", colspan: head.length }, "暂无报名"))]),
    );
  } catch (error) {
    show(errorText(error), "error");
  }
}
$("applications-status").addEventListener("change", () => current.api && loadApplications(current.api, current));

function row(a) {
  let decision;
  if (a.status === "submitted") {
    const note = el("input", { placeholder: "审核意见（必填）", class: "note", "aria-label": `报名${a.id}审核意见` });
    decision = el("td", { class: "text wrap" },
      note,
      el("span", { style: "display:flex;gap:6px;margin-top:6px" },
        el("button", { class: "small", onclick: () => decide(a, "approve", note) }, "通过"),
        el("button", { class: "secondary small", onclick: () => decide(a, "reject", note) }, "驳回")));
  } else {
    decision = el("td", { class: "text wrap" },
      el("span", { class: a.status === "approved" ? "pill ok" : "pill grey" }, STATUS_TEXT[a.status]),
      a.merchant_id ? `商户编号 ${a.merchant_id}` : null,
      el("div", { class: "muted" }, `${a.reviewed_by || ""} ${dateTime(a.reviewed_at)}`),
      el("div", { class: "muted" }, a.note || ""));
  }
  return el("tr", { "data-application": a.id },
    el("td", {}, a.id),
    el("td", { class: "text wrap" },
      el("strong", {}, a.name), " ", el("span", { class: "pill" }, CATEGORY_NAMES[a.category]),
      el("div", { class: "mono muted" }, a.credit_code)),
    el("td", { class: "text wrap" },
      `${a.street} · ${a.address}`,
      el("div", { class: "muted" }, `营业时间 ${a.hours || "未填"}${a.lat == null ? " · 未定位" : ""}`)),
    el("td", { class: "text wrap" }, a.contact_phone, el("div", { class: "muted" }, `${a.account_name} ${a.account_no}`)),
    el("td", { class: "text" }, dateTime(a.submitted_at)),
    decision);
}

async function decide(application, decision, input) {
  const note = input.value.trim();
  if (!note) {
    input.classList.add("invalid");
    show("请填写审核意见", "error");
    return;
  }
  try {
    const decided = await current.api.json("POST", `/admin/merchant-applications/${application.id}/review`, {
      body: { decision, note },
    });
    const what = decided.status === "approved" ? `已通过，商户编号 ${decided.merchant_id}` : "已驳回";
    show(`${application.name}：${what}`, "ok");
    $("applications-result").textContent = `${application.name}：${what}。发给报名手机的短信：${decided.message}`;
  } catch (error) {
    const text = error.code === "already_reviewed" ? "该报名已审核过（可能他人刚刚处理）" : errorText(error);
    show(text, "error");
  }
  await loadApplications(current.api, current);
  current.onDecided();
}

Object.assign(ERROR_TEXT, { duplicate_application: "已有同一统一社会信用代码的商户" });
