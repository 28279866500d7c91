// Recomputes a lottery draw from its public record (GET /api/v1/batches/{id}/draw) in the
// browser, as `festival lottery verify` does: the seed matches the commitment published at
// creation, the entries are in the order HMAC-SHA256(seed, entry_id) gives, and the winners
// are the first `drawn_quantity` of that order. SHA-256 is written out here because
// crypto.subtle exists only on HTTPS or localhost, and the bureau may open the page on the
// intranet over plain HTTP.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const rotr = (x, n) => (x >>> n) | (x << (32 - n));

const INITIAL = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const w = new Uint32Array(64);

// One 64-byte block into the state `h` (8 words).
function compress(h, view, offset) {
  for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + 4 * i);
  for (let i = 16; i < 64; i++) {
    const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
    const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
  }
  let [a, b, c, d, e, f, g, k] = h;
  for (let i = 0; i < 64; i++) {
    const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
    k = g; g = f; f = e; e = (d + t1) >>> 0;
    d = c; c = b; b = a; a = (t1 + t2) >>> 0;
  }
  h[0] = (h[0] + a) >>> 0; h[1] = (h[1] + b) >>> 0; h[2] = (h[2] + c) >>> 0; h[3] = (h[3] + d) >>> 0;
  h[4] = (h[4] + e) >>> 0; h[5] = (h[5] + f) >>> 0; h[6] = (h[6] + g) >>> 0; h[7] = (h[7] + k) >>> 0;
}

// The digest of (what `state` has absorbed: `before` bytes, whole blocks) + `bytes`.
function finish(state, before, bytes) {
  const length = before + bytes.length;
  const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  const h = Uint32Array.from(state);
  for (let offset = 0; offset < padded.length; offset += 64) compress(h, view, offset);
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  h.forEach((v, i) => outView.setUint32(4 * i, v));
  return out;
}

export const sha256 = (bytes) => finish(INITIAL, 0, bytes);

// HMAC-SHA256 (RFC 2104) for a key of at most 64 bytes (the seed is 32): the padded keys
// are one block each, absorbed once, so each entry costs two compressions.
function hmacOf(key) {
  const states = [0x36, 0x5c].map((pad) => {
    const block = new Uint8Array(64).fill(pad);
    key.forEach((b, i) => { block[i] ^= b; });
    const h = Uint32Array.from(INITIAL);
    compress(h, new DataView(block.buffer), 0);
    return h;
  });
  return (message) => finish(states[1], 64, finish(states[0], 64, message));
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
export function hex(bytes) {
  let text = "";
  for (const b of bytes) text += HEX[b];
  return text;
}

function fromHex(text) {
  if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) return null;
  return Uint8Array.from(text.match(/../g) || [], (pair) => parseInt(pair, 16));
}

// What is wrong with a draw record: an empty list when it checks out.
export function verifyRecord(record) {
  if (record.status !== "drawn") return ["尚未开奖"];
  const seed = fromHex(record.seed);
  if (seed === null || seed.length > 64) return ["种子格式不正确"];
  const problems = [];
  if (hex(sha256(seed)) !== record.seed_commitment) problems.push("种子与创建时公布的承诺值不符");
  const ids = record.entry_ids || [];
  if (new Set(ids).size !== ids.length || ids.length !== record.entries) {
    problems.push("报名编号有重复，或与报名人数不符");
  }
  const hmac = hmacOf(seed);
  const encoder = new TextEncoder();
  const keyed = ids.map((id) => [hex(hmac(encoder.encode(id))), id]);
  keyed.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  const ranked = keyed.map(([, id]) => id);
  const first = ranked.findIndex((id, i) => id !== ids[i]);
  if (first >= 0) problems.push(`排序与 HMAC-SHA256(种子, 报名编号) 不符（第 ${first + 1} 位）`);
  const expected = ranked.slice(0, Math.min(record.drawn_quantity, ranked.length));
  const winners = record.winner_entry_ids || [];
  if (winners.length !== expected.length || winners.some((id, i) => id !== expected[i])) {
    problems.push(`中签者不是排序的前 ${expected.length} 位`);
  }
  return problems;
}
