// Where to spend (哪里能用): the public merchant directory, nearest first when the browser may
// know where the resident is, else by 街道. A voucher's 可用商户 lists where it is accepted
// (its batch: its category, and the batch's own merchant list when it has one); 附近 lists
// everyone, by category. The directory needs no token and holds nothing personal.
import { ApiError, CATEGORY_NAMES, TIME_ZONE, el, errorText, festivalNow } from "/static/common.js";

// The resident's position, asked once (the browser remembers the answer): {lat, lng}, or null
// when refused, unavailable or slow. Never sent anywhere but the directory's `near`.
let where = undefined;
export function position() {
  if (where !== undefined) return Promise.resolve(where);
  if (!navigator.geolocation) return Promise.resolve((where = null));
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => resolve((where = { lat: p.coords.latitude, lng: p.coords.longitude })),
      () => resolve((where = null)),
      { enableHighAccuracy: false, timeout: 8000, maximumAge: 300000 },
    );
  });
}

function distance(metres) {
  if (metres == null) return null;
  return metres < 1000 ? `${metres} 米` : `${(metres / 1000).toFixed(1)} 公里`;
}

const minutes = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

// The minute of the festival's day now (its time zone, the drill's clock in a drill).
function minuteOfDay() {
  return minutes(festivalNow().toLocaleTimeString("sv-SE", { timeZone: TIME_ZONE, hour12: false }));
}

// Open now, by its hours (as the server's open_now judges: 22:00-02:00 passes midnight).
function openNow(hours, m) {
  if (!hours) return null;
  const [opens, closes] = [minutes(hours.slice(0, 5)), minutes(hours.slice(6))];
  return opens < closes ? m >= opens && m < closes : m >= opens || m < closes;
}

function merchantCard(m, now) {
  const open = openNow(m.hours, now);
  const far = distance(m.distance_m);
  return el("div", { class: "card place", "data-merchant": m.id },
    el("div", { class: "place-head" },
      el("h3", {}, m.name),
      far ? el("span", { class: "distance" }, far) : null),
    el("span", { class: "pill" }, CATEGORY_NAMES[m.category]),
    m.street ? el("span", { class: "pill grey" }, m.street) : null,
    open === null ? null : el("span", { class: open ? "pill ok" : "pill grey" }, open ? "营业中" : "休息中"),
    el("div", { class: "muted" }, m.address),
    m.hours ? el("div", { class: "muted" }, `营业时间 ${m.hours}`) : null);
}

// The directory's merchants for `query` (URLSearchParams) in `box`, nearest first when the
// position is known, page by page with 加载更多.
export async function showMerchants(box, query) {
  box.replaceChildren(el("div", { class: "muted" }, "正在查找…"));
  const here = await position();
  if (here) query.set("near", `${here.lat.toFixed(6)},${here.lng.toFixed(6)}`);
  const order = el("p", { class: "muted", "data-order": here ? "near" : "street" },
    here ? "按距离由近到远排列" : "未获得位置，按街道排列（允许定位后可按距离排列）");
  const list = el("div", { class: "places" });
  const more = el("button", { class: "secondary", hidden: true, style: "width:100%" }, "加载更多");
  box.replaceChildren(order, list, more);
  async function page(cursor) {
    if (cursor) query.set("cursor", cursor);
    more.disabled = true;
    try {
      const response = await fetch(`/api/v1/merchants?${query}`);
      const body = await response.json();
      if (!response.ok) throw new ApiError(response.status, body.error && body.error.code, "", body.error && body.error.details);
      const now = minuteOfDay();
      list.append(...body.items.map((m) => merchantCard(m, now)));
      if (!list.children.length) list.append(el("div", { class: "card muted" }, "暂无符合条件的商户"));
      more.hidden = !body.next_cursor;
      more.onclick = () => page(body.next_cursor);
    } catch (error) {
      list.append(el("div", { class: "card error-text" }, `商户列表加载失败：${errorText(error)}`));
    } finally {
      more.disabled = false;
    }
  }
  await page(null);
}
