// Shared by the three pages: the API client, money in fen, safe DOM building, messages.
// Tokens live in sessionStorage only (never in URLs); a 401 sends the user back to sign in.

// What the service says of itself, read once when a page loads: the categories in display
// order (GET /categories) and the time zone of its business days (GET /about).
async function reference() {
  try {
    const [categories, about] = await Promise.all(
      ["/api/v1/categories", "/api/v1/about"].map(async (path) => {
        const response = await fetch(path);
        if (!response.ok) throw new Error(`${path}: ${response.status}`);
        return response.json();
      }),
    );
    return { categories, about };
  } catch (error) {
    document.body.textContent = "服务暂时不可用，请稍后刷新页面。";
    throw error;
  }
}
const { categories, about } = await reference();

export const CATEGORY_NAMES = Object.fromEntries(categories.map((c) => [c.code, c.name_zh]));
// The risk rules' names as the bureau reads them (the API answers their codes).
export const RULE_NAMES = {
  repeat_pair: "同一人反复核销",
  threshold_hugging: "贴近门槛凑单",
  burst: "短时集中核销",
  reversal_churn: "频繁撤销",
};
export const TIME_ZONE = about.time_zone;
export const BASELINE_YEAR = about.baseline_year;

// A drill (演练, API.md "Drill clock"): the festival's clock runs ahead of real time. Every
// page says so in a banner and takes "now" and "today" from the drill's clock, read again
// every few seconds, so a move of the clock shows without a reload.
export const DRILL = about.drill === true;
const DRILL_LOOK_MS = 5000;
let drillAhead = DRILL ? Date.parse(about.now) - Date.now() : 0;

export function festivalNow() {
  return new Date(Date.now() + drillAhead);
}

function drillBanner() {
  const banner = document.createElement("div");
  banner.id = "drill-banner";
  banner.className = "drill-banner";
  banner.setAttribute("role", "status");
  const shown = () => {
    const at = festivalNow().toLocaleString("sv-SE", { timeZone: TIME_ZONE }).slice(0, 16);
    banner.textContent = `演练模式 · 演练时间 ${at}`;
  };
  shown();
  document.body.prepend(banner);
  setInterval(async () => {
    try {
      const response = await fetch("/api/v1/about");
      if (response.ok) drillAhead = Date.parse((await response.json()).now) - Date.now();
    } catch {
      // Offline for a moment: the last offset stands.
    }
    shown();
  }, DRILL_LOOK_MS);
}
if (DRILL) drillBanner();

// Plain Chinese for each error code of the API (service/errors.py ErrorCode). What a person
// reads is built from the error's `code` and `details` only, never from the server's English
// `message`, and money in it is in 元 (issue 25).
export const ERROR_TEXT = {
  invalid_request: "输入有误",
  implausible: "金额明显不合常理，请核对",
  unauthorized: "请重新登录",
  forbidden: "没有权限",
  not_found: "未找到",
  method_not_allowed: "不支持该操作",
  sold_out: "已抢光",
  limit_reached: "已达到每人领取上限",
  not_open: "尚未开始或已暂停",
  closed: "已结束",
  already_redeemed: "该券已使用",
  expired: "该券已过期",
  not_redeemed: "该笔核销已撤销",
  reversal_window_passed: "只能撤销当天的核销",
  merchant_not_eligible: "该券不能在本店使用",
  merchant_inactive: "商户已暂停参与活动",
  below_min_spend: "未达到使用门槛",
  idempotency_key_reused: "重复的请求编号",
  lottery_batch: "该批次为摇号发放，请报名",
  not_lottery: "该批次先到先得，请直接领取",
  over_budget: "超出该品类预算",
  merchant_cap_reached: "本店今日补贴已达上限",
  already_drawn: "已开奖",
  conflict: "与当前状态冲突",
  job_running: "任务正在运行",
  already_reviewed: "该预警已处理",
  duplicate_application: "该统一社会信用代码已是参与商户，或已有待审核的报名",
  flag_provisional: "该预警尚未定论，暂不能处理",
  flag_withdrawn: "该预警已撤回",
  already_returned: "该笔款项已退回",
  already_clawed_back: "该笔补贴已追回",
  day_not_over: "该日尚未结束，不能结算",
  clock_backwards: "演练时间只能往后调，不能回拨",
  payload_too_large: "内容过大",
  unsupported_media_type: "不支持的内容格式",
  rate_limited: "操作太频繁，请稍后再试",
  unavailable: "服务繁忙，请稍后再试",
  internal_error: "服务出错了",
};

// The names of the fields an `invalid_request` names in its details, as a person calls them.
export const FIELD_TEXT = {
  phone: "手机号",
  code: "券码",
  codes: "券码",
  qr: "二维码",
  order_amount_fen: "消费金额",
  order_ref: "订单号",
  metadata: "备注",
  sales_fen: "营业额",
  date: "日期",
  from: "开始日期",
  to: "结束日期",
  name: "姓名",
  merchant_id: "商户编号",
  api_key: "密钥",
  reason: "原因",
  lines: "文件内容",
  csv: "文件内容",
  "Idempotency-Key": "请求编号",
};

// The extra words an error's details give, in Chinese with money in 元; "" when none.
function detailText(code, details) {
  const d = details || {};
  const money = (name) => (Number.isInteger(d[name]) ? yuan(d[name]) : null);
  switch (code) {
    case "below_min_spend":
      if (money("min_spend_fen") == null) return "";
      return money("order_amount_fen") == null
        ? `需消费满 ${money("min_spend_fen")}`
        : `需消费满 ${money("min_spend_fen")}，本单 ${money("order_amount_fen")}`;
    case "merchant_cap_reached":
      return money("daily_subsidy_cap_fen") == null
        ? ""
        : `每日上限 ${money("daily_subsidy_cap_fen")}，今日已用 ${money("paid_today_fen") ?? "—"}`;
    case "over_budget":
      return money("available_fen") == null ? "" : `尚余 ${money("available_fen")}`;
    case "limit_reached":
      return Number.isInteger(d.per_resident_limit) ? `每人限领 ${d.per_resident_limit} 张` : "";
    case "not_open":
      return d.claim_starts_at ? `开始时间 ${dateTime(d.claim_starts_at)}` : "";
    case "rate_limited":
      return Number.isInteger(d.retry_after_seconds) ? `请 ${d.retry_after_seconds} 秒后再试` : "";
    case "day_not_over":
    case "conflict":
      return typeof d.date === "string" && /^\d{4}-\d{2}-\d{2}$/.test(d.date) ? `日期 ${d.date}` : "";
    case "invalid_request":
    case "implausible": {
      const named = [...new Set(Object.keys(d).map((k) => FIELD_TEXT[k]).filter(Boolean))];
      return named.length ? `请检查${named.join("、")}` : "";
    }
    default:
      return "";
  }
}

export function errorMessage(code, details) {
  // The one limit_reached that is not a resident's: a merchant's cashier accounts.
  if (code === "limit_reached" && details && Number.isInteger(details.max_cashiers)) {
    return `收银员账号已达上限（最多 ${details.max_cashiers} 个，请先移除一个）`;
  }
  const plain = ERROR_TEXT[code] || "请求失败";
  const more = detailText(code, details);
  return more ? `${plain}（${more}）` : plain;
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
  // Chinese only: the server's `message` (English, for developers) stays in the console.
  get text() {
    return errorMessage(this.code, this.details);
  }
}

export class NetworkError extends Error {
  get text() {
    return "网络异常，请检查网络后重试";
  }
}

export class Api {
  constructor(name, onSignedOut) {
    this.key = `festival.${name}.token`;
    this.onSignedOut = onSignedOut;
  }
  get token() {
    return sessionStorage.getItem(this.key);
  }
  set token(value) {
    if (value) sessionStorage.setItem(this.key, value);
    else sessionStorage.removeItem(this.key);
  }
  // `body` goes as JSON; `text` as it is, with its `contentType` (a CSV upload).
  async request(method, path, { body, text, contentType, headers = {}, accept } = {}) {
    const init = { method, headers: { ...headers } };
    if (this.token) init.headers.Authorization = `Bearer ${this.token}`;
    if (accept) init.headers.Accept = accept;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    } else if (text !== undefined) {
      init.headers["Content-Type"] = contentType;
      init.body = text;
    }
    let response;
    try {
      response = await fetch(`/api/v1${path}`, init);
    } catch (error) {
      throw new NetworkError(String(error));
    }
    if (response.status === 401 && this.token) {
      this.token = null;
      this.onSignedOut();
    }
    if (!response.ok) {
      let error = {};
      try {
        error = (await response.json()).error || {};
      } catch {
        error = { code: "internal_error", message: response.statusText };
      }
      throw new ApiError(response.status, error.code, error.message, error.details);
    }
    return response;
  }
  async json(method, path, options) {
    const response = await this.request(method, path, options);
    return response.status === 204 ? null : response.json();
  }
}

// Money: integer fen in, text out; yuan text in, integer fen out. No floating point.
export function yuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  const whole = Math.floor(abs / 100).toLocaleString("zh-CN");
  return `${sign}¥${whole}.${String(abs % 100).padStart(2, "0")}`;
}

export function parseYuan(text) {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
}

// DOM built from text, never from HTML strings: nothing the API returns can inject markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else if (value !== false && value != null) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(message, kind = "info") {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(show.timer);
  show.timer = setTimeout(() => (box.hidden = true), kind === "error" ? 6000 : 3000);
}

// Asks for an SMS login code for `phone` and counts `button` down until another may be sent
// (the service's resend_after); a refusal is written into `errorBox`.
export async function requestCode(api, phone, button, errorBox) {
  try {
    const sent = await api.json("POST", "/auth/otp", { body: { phone } });
    show("验证码已发送", "ok");
    let wait = sent.resend_after;
    button.disabled = true;
    const tick = setInterval(() => {
      button.textContent = wait > 0 ? `${wait}秒后重发` : "获取验证码";
      if (wait-- <= 0) {
        clearInterval(tick);
        button.disabled = false;
      }
    }, 1000);
  } catch (error) {
    errorBox.textContent = errorText(error);
  }
}

// What a person reads for a failure: ApiError and NetworkError word themselves; anything else
// (a bug in the page) gets a plain sentence, its English in the console for developers.
export function errorText(error) {
  if (error && error.text) return error.text;
  console.error(error);
  return "页面出错了，请刷新后重试";
}

export function dateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString("zh-CN", { timeZone: TIME_ZONE, hour12: false });
}

export function today() {
  return festivalNow().toLocaleDateString("sv-SE", { timeZone: TIME_ZONE });
}

// One Idempotency-Key per tap or checkout attempt, reused on its retries. Random from
// getRandomValues, which (unlike randomUUID) also works on a page served over plain HTTP.
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function saveFile(name, bytes, type = "text/csv;charset=utf-8") {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// The API's downloads (?format=csv or xlsx, service/csvout.py): one list of rows, as CSV (with
// the byte order mark that makes Excel and WPS read its Chinese as UTF-8) or as an Excel
// workbook. Saved byte for byte (response.text() would drop the BOM) under the service's name.
export const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const DOWNLOAD_TYPES = { csv: "text/csv", xlsx: XLSX };

export async function downloadTable(api, path, format) {
  const url = new URL(path, "http://x");
  url.searchParams.set("format", format);
  const response = await api.request("GET", url.pathname + url.search, { accept: DOWNLOAD_TYPES[format] });
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  saveFile(named ? named[1] : `download.${format}`, await response.arrayBuffer(), DOWNLOAD_TYPES[format]);
}

// A pair of buttons, 下载 CSV and 下载 Excel, for a download whose address `path()` gives.
export function downloadButtons(api, id, path, onError) {
  for (const format of ["csv", "xlsx"]) {
    const button = document.getElementById(`${id}-${format}`);
    button.addEventListener("click", async () => {
      try {
        await downloadTable(api, path(), format);
      } catch (error) {
        onError(error);
      }
    });
  }
}

// The sign-in shell every page shares: the login section or the app, who is signed in,
// signing in through an API login, signing out. `onShown` loads the app's data.
export function signedInPage(name, onShown) {
  const $ = (id) => document.getElementById(id);
  const whoKey = `festival.${name}.who`;
  const api = new Api(name, () => render());
  function render() {
    const signedIn = Boolean(api.token);
    $("login").hidden = signedIn;
    $("app").hidden = !signedIn;
    $("who").textContent = signedIn ? sessionStorage.getItem(whoKey) || "" : "";
    if (signedIn) onShown();
  }
  // `refused(error)` words a refused login for this form (a wrong code is not "请重新登录").
  async function signIn(path, body, who, refused = () => null) {
    $("login-error").textContent = "";
    try {
      const login = await api.json("POST", path, { body });
      api.token = login.access_token;
      sessionStorage.setItem(whoKey, who);
      render();
      return true;
    } catch (error) {
      $("login-error").textContent = refused(error) || errorText(error);
      return false;
    }
  }
  $("sign-out").addEventListener("click", () => {
    api.token = null;
    render();
  });
  return { api, render, signIn };
}

// A sign-in form's own checks before anything is sent: the first field left empty or
// malformed gets its message and aria-invalid, and the caller sends nothing.
export function checkFields(checks) {
  const box = document.getElementById("login-error");
  box.textContent = "";
  for (const { id } of checks) document.getElementById(id).removeAttribute("aria-invalid");
  for (const { id, test, text } of checks) {
    const field = document.getElementById(id);
    if (!test(field.value.trim())) {
      field.setAttribute("aria-invalid", "true");
      box.textContent = text;
      field.focus();
      return false;
    }
  }
  return true;
}
