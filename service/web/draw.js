// The public record of a lottery draw (开奖记录（可复核）, GET /api/v1/batches/{id}/draw) for a
// person: the commitment, the seed, the winners, the signed-in resident's place in the ranking,
// and a button that recomputes the draw in this browser (lottery-verify.js); the JSON a tap away.
import { Api, ApiError, dateTime, el, errorText } from "/static/common.js";
import { verifyRecord } from "/static/lottery-verify.js";

const $ = (id) => document.getElementById(id);
const FIRST_WINNERS = 20;
// The resident page's session (sessionStorage), if any: only to find the caller's own entry.
const resident = new Api("resident", () => {});
const batchId = Number(new URLSearchParams(location.search).get("batch"));

async function publicJson(path) {
  const response = await fetch(`/api/v1${path}`);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.error && body.error.code, "", body.error && body.error.details);
  return body;
}

function line(label, value) {
  return el("div", { class: "fact" }, el("span", { class: "muted" }, `${label}：`), value);
}

function showWinners(ids, all) {
  const shown = all ? ids : ids.slice(0, FIRST_WINNERS);
  $("winners").replaceChildren(...shown.map((id) => el("li", { class: "mono" }, id)));
  if (!ids.length) $("winners").replaceChildren(el("li", { class: "muted" }, "暂无"));
  $("winners-more").hidden = all || ids.length <= FIRST_WINNERS;
  $("winners-more").textContent = `显示全部 ${ids.length} 个`;
}

async function mine(record) {
  if (!resident.token) return;
  try {
    const entry = (await resident.json("GET", "/me/entries")).find((e) => e.batch_id === batchId);
    if (!entry) return;
    const place = (record.entry_ids || []).indexOf(entry.entry_id) + 1;
    const result = { won: "中签", lost: "未中签", pending: "待开奖" }[entry.status] || "";
    $("mine").replaceChildren(
      line("我的报名编号", el("span", { class: "mono" }, entry.entry_id)),
      place > 0
        ? el("p", { class: entry.status === "won" ? "ok-text big-line" : "big-line", id: "my-rank" },
          `我的报名排第 ${place} 位（共 ${record.entries} 人，前 ${record.drawn_quantity} 位中签）：${result}`)
        : el("p", { id: "my-rank" }, `尚未开奖，开奖后可看到排名`),
    );
    $("mine-card").hidden = false;
  } catch {
    // Signed out or offline: the public record stands without the caller's place.
  }
}

async function load() {
  if (!Number.isInteger(batchId) || batchId <= 0) {
    $("summary").replaceChildren(el("p", { class: "error-text" }, "链接不完整：缺少批次编号"));
    return;
  }
  $("json").href = `/api/v1/batches/${batchId}/draw`;
  try {
    const [batch, record] = await Promise.all([publicJson(`/batches/${batchId}`), publicJson(`/batches/${batchId}/draw`)]);
    const drawn = record.status === "drawn";
    $("draw-title").textContent = batch.title;
    $("summary").replaceChildren(
      line("状态", drawn ? "已开奖" : "尚未开奖"),
      line("报名人数", `${record.entries} 人`),
      drawn ? line("名额", `${record.drawn_quantity} 张`) : null,
      drawn ? line("开奖时间", dateTime(record.drawn_at)) : line("开奖时间", dateTime(batch.draw_at)),
    );
    $("commitment").textContent = record.seed_commitment;
    $("seed").textContent = record.seed || "开奖后公布";
    const winners = record.winner_entry_ids || [];
    showWinners(winners, false);
    $("winners-more").onclick = () => showWinners(winners, true);
    $("verify").disabled = !drawn;
    $("verify").onclick = () => {
      const problems = verifyRecord(record);
      $("verdict").replaceChildren(
        problems.length
          ? el("div", { class: "error-text" }, "✗ 复核不一致：", el("ul", { class: "problems" }, problems.map((p) => el("li", {}, p))))
          : el("p", { class: "ok-text", id: "verified" },
            `✓ 复核通过：种子与承诺值相符，${record.entries} 个报名编号的排序和前 ${winners.length} 位中签者都与公布的一致。`),
      );
    };
    await mine(record);
  } catch (error) {
    $("summary").replaceChildren(el("p", { class: "error-text" }, errorText(error)));
  }
}

load();
