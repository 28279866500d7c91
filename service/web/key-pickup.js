// 领取密钥 on the cashier page: an approved applicant (or a merchant that lost its key) gets a
// fresh owner api key with an SMS code to its contact phone (POST /auth/merchant-key). The key
// is shown once, never stored by the page, and can sign in at once.
import { Api, ERROR_TEXT, errorText, show } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const api = new Api("key-pickup", () => {});
const KEY_ERRORS = { ...ERROR_TEXT, unauthorized: "商户编号、手机号或验证码不对" };
const text = (error) => (error && error.code ? `${KEY_ERRORS[error.code] || "请求失败"}（${error.message}）` : errorText(error));

$("key-open").addEventListener("click", () => {
  $("key-box").hidden = !$("key-box").hidden;
  if (!$("key-box").hidden) $("key-merchant-id").value ||= $("merchant-id").value;
});

$("key-send-code").addEventListener("click", async () => {
  $("key-error").textContent = "";
  const phone = $("key-phone").value.trim();
  if (!/^1[3-9][0-9]{9}$/.test(phone)) {
    $("key-error").textContent = "请填写11位手机号";
    return;
  }
  try {
    await api.json("POST", "/auth/otp", { body: { phone } });
    show("验证码已发送", "ok");
  } catch (error) {
    $("key-error").textContent = text(error);
  }
});

$("key-issue").addEventListener("click", async () => {
  $("key-error").textContent = "";
  const body = {
    merchant_id: Number($("key-merchant-id").value.trim()),
    phone: $("key-phone").value.trim(),
    code: $("key-code").value.trim(),
  };
  if (!Number.isInteger(body.merchant_id) || body.merchant_id <= 0 || !/^[0-9]{6}$/.test(body.code)) {
    $("key-error").textContent = "请填写商户编号和6位验证码";
    return;
  }
  try {
    const issued = await api.json("POST", "/auth/merchant-key", { body });
    $("key-value").textContent = issued.api_key;
    $("key-result").hidden = false;
    $("key-code").value = "";
  } catch (error) {
    $("key-error").textContent = text(error);
  }
});

$("key-use").addEventListener("click", () => {
  $("merchant-id").value = $("key-merchant-id").value.trim();
  $("api-key").value = $("key-value").textContent;
  $("key-value").textContent = "";
  $("key-result").hidden = true;
  $("key-box").hidden = true;
  $("sign-in").click();
});
