// 大字模式 (large text, 适老化) of the residents' page: a class on <html> that raises the root
// font size, so everything sized in rem (text, buttons, inputs, spacing) grows with it. A
// classic script in <head>, run before the page paints (no flash of small text); the choice is
// kept in localStorage, and `?large=1` / `?large=0` sets it (a link a family member can send).
(() => {
  const KEY = "festival.largeText";
  const root = document.documentElement;
  const read = () => {
    try {
      return localStorage.getItem(KEY) === "1";
    } catch {
      return false; // storage blocked: the standard size
    }
  };
  const keep = (on) => {
    try {
      localStorage.setItem(KEY, on ? "1" : "0");
    } catch {
      // Not kept past this page, but still applied.
    }
  };
  const asked = new URLSearchParams(location.search).get("large");
  let on = read();
  if (asked === "1" || asked === "0") {
    on = asked === "1";
    keep(on);
  }
  root.classList.toggle("large-text", on);
  // The switch in the header (#text-size): its label says what a tap does (an action, not a
  // pressed state, which a label that changes would contradict).
  const label = (button) => {
    button.textContent = root.classList.contains("large-text") ? "标准字号" : "大字模式";
  };
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("text-size");
    if (!button) return;
    label(button);
    button.addEventListener("click", () => {
      const large = !root.classList.contains("large-text");
      root.classList.toggle("large-text", large);
      keep(large);
      label(button);
    });
  });
})();
