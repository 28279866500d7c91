// 商户报名: a business applies to join the festival with a phone proved by an SMS code. The
// page checks what it can before sending (phone, code, the credit code's check character,
// the account number) and shows the service's refusals beside the fields they name.
import { Api, CATEGORY_NAMES, ERROR_TEXT, el, errorText, requestCode } from "/static/common.js";
import { position } from "/static/where.js";

const $ = (id) => document.getElementById(id);
const api = new Api("join", () => {});
Object.assign(ERROR_TEXT, {
  duplicate_application: "该统一社会信用代码已是参与商户，或已有待审核的报名",
  unauthorized: "验证码错误或已失效",
});
const STREETS = [
  "振兴街街道", "道德街街道", "西市场街道", "青年公园街道", "五里沟街道", "中大槐树街道", "营市街街道",
  "南辛庄街道", "段店北路街道", "张庄路街道", "匡山街道", "兴福街道", "吴家堡街道", "美里湖街道", "玉清湖街道",
];
const TEXT_FIELDS = ["name", "credit_code", "street", "address", "account_name", "account_no", "contact_phone", "code"];
// What each field must be, in plain words (shown with the service's own message).
const FIELD_TEXT = {
  name: "请填写商户名称（100字以内）",
  credit_code: "请填写正确的18位统一社会信用代码",
  category: "请选择经营品类",
  street: "请填写所在街道",
  address: "请填写经营地址",
  hours: "营业时间需为“开门—关门”，两者不能相同",
  lat: "位置无效，请重新定位",
  lng: "位置无效，请重新定位",
  account_name: "请填写开户名",
  account_no: "银行账号为10至30位数字",
  contact_phone: "请填写11位手机号",
  code: "请填写6位短信验证码",
};
let here = null;

$("category").replaceChildren(...Object.entries(CATEGORY_NAMES).map(([code, name]) => el("option", { value: code }, name)));
$("streets").replaceChildren(...STREETS.map((s) => el("option", { value: s })));

// GB 32100-2015: the 18th character checks the first 17 (as service/credit_code.py does).
const ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
function creditCodeValid(code) {
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(code) || !/^[0-9]{6}$/.test(code.slice(2, 8))) return false;
  const total = WEIGHTS.reduce((sum, w, i) => sum + ALPHABET.indexOf(code[i]) * w, 0);
  return ALPHABET[(31 - (total % 31)) % 31] === code[17];
}

function clearErrors() {
  $("form-error").textContent = "";
  for (const node of document.querySelectorAll(".field-error.shown")) node.remove();
  for (const node of document.querySelectorAll("[data-for]")) node.textContent = "";
  for (const node of document.querySelectorAll(".invalid")) node.classList.remove("invalid");
}

function fieldError(name, messages, own) {
  const field = name === "lng" ? "lat" : name; // one place for the position
  const text = own || FIELD_TEXT[field] || field;
  const detail = Array.isArray(messages) ? messages.join(" ") : "";
  const slot = document.querySelector(`[data-for="${field}"]`);
  const message = detail ? `${text}（${detail}）` : text;
  if (slot) {
    slot.textContent = message;
    return;
  }
  const input = $(field);
  if (!input) {
    $("form-error").append(el("div", {}, message));
    return;
  }
  input.classList.add("invalid");
  const hint = el("div", { class: "field-error shown", "data-field": field }, message);
  (input.closest(".row") || input).after(hint);
}

function body() {
  const data = Object.fromEntries(TEXT_FIELDS.map((f) => [f, $(f).value.trim()]));
  data.credit_code = data.credit_code.toUpperCase();
  data.category = $("category").value;
  if ($("opens").value || $("closes").value) data.hours = `${$("opens").value}-${$("closes").value}`;
  if (here) Object.assign(data, { lat: Number(here.lat.toFixed(6)), lng: Number(here.lng.toFixed(6)) });
  return data;
}

// What the page can tell before asking the service: field → problem.
function problems(data) {
  const found = {};
  for (const f of ["name", "street", "address", "account_name"]) if (!data[f]) found[f] = null;
  if (!creditCodeValid(data.credit_code)) found.credit_code = data.credit_code.length === 18 ? ["校验位不符"] : null;
  if (!/^[0-9]{10,30}$/.test(data.account_no)) found.account_no = null;
  if (!/^1[3-9][0-9]{9}$/.test(data.contact_phone)) found.contact_phone = null;
  if (!/^[0-9]{6}$/.test(data.code)) found.code = null;
  if (data.hours !== undefined && !/^\d\d:\d\d-\d\d:\d\d$/.test(data.hours)) found.hours = ["请同时填写开门和关门时间"];
  else if (data.hours && data.hours.slice(0, 5) === data.hours.slice(6)) found.hours = null;
  return found;
}

$("send-code").addEventListener("click", async () => {
  clearErrors();
  const phone = $("contact_phone").value.trim();
  if (!/^1[3-9][0-9]{9}$/.test(phone)) {
    fieldError("contact_phone");
    return;
  }
  await requestCode(api, phone, $("send-code"), $("form-error"));
});

$("locate").addEventListener("click", async () => {
  $("position").textContent = "定位中…";
  here = await position();
  $("position").textContent = here ? `已定位 ${here.lat.toFixed(5)}, ${here.lng.toFixed(5)}` : "无法获得位置（可不填）";
});

$("submit").addEventListener("click", async () => {
  clearErrors();
  const data = body();
  const found = problems(data);
  if (Object.keys(found).length) {
    for (const [field, messages] of Object.entries(found)) fieldError(field, messages);
    $("form-error").prepend(el("div", {}, "请按提示修改后再提交"));
    return;
  }
  $("submit").disabled = true;
  try {
    const made = await api.json("POST", "/merchant-applications", { body: data });
    $("done-id").textContent = String(made.id);
    $("form").hidden = true;
    $("done").hidden = false;
    window.scrollTo(0, 0);
  } catch (error) {
    // The page's own words for what it knows; the service's (English) message only otherwise.
    $("form-error").textContent = ERROR_TEXT[error.code] && error.code !== "invalid_request"
      ? ERROR_TEXT[error.code]
      : error.code === "invalid_request" ? "请按提示修改后再提交" : errorText(error);
    if (error.code === "invalid_request") {
      for (const [field, messages] of Object.entries(error.details || {})) fieldError(field, messages);
    } else if (error.code === "unauthorized") {
      const left = error.details && error.details.attempts_left;
      fieldError("code", left !== undefined ? [`还可再试 ${left} 次`] : ["请重新获取验证码"], "验证码错误或已失效");
    } else if (error.code === "duplicate_application") {
      fieldError("credit_code", null, "该信用代码已是参与商户，或已有待审核的报名");
    }
  } finally {
    $("submit").disabled = false;
  }
});
