// Lighthouse's accessibility audit of the residents' page as a signed-in resident sees it: the
// batches, the wallet, the lottery entries and the QR dialog. Lighthouse's own navigation
// cannot sign in, so Puppeteer (pinned beside lighthouse in package.json) opens the page with
// the token in sessionStorage and the text size pre-set in localStorage, and Lighthouse audits
// each view as it stands (snapshot mode).
//
//   CHROME_PATH=/usr/bin/chromium node tests/support/lighthouse_views.mjs BASE TOKEN large|standard
//
// prints {view: {score, failing: [{id, title, items}]}} as JSON.
import { snapshot } from "lighthouse";
import puppeteer from "puppeteer-core";

const [base, token, mode] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
  defaultViewport: { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
});

const config = {
  extends: "lighthouse:default",
  settings: {
    onlyCategories: ["accessibility"],
    formFactor: "mobile",
    screenEmulation: { disabled: true }, // the page's own 390 × 844 phone viewport
  },
};

function failing(lhr) {
  return Object.values(lhr.audits)
    .filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode !== "informative")
    .map((a) => ({
      id: a.id,
      title: a.title,
      items: ((a.details && a.details.items) || [])
        .slice(0, 5)
        .map((i) => (i.node ? `${i.node.selector}: ${i.node.explanation || ""}` : JSON.stringify(i))),
    }));
}

try {
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(
    (t, large) => {
      sessionStorage.setItem("festival.resident.token", t);
      sessionStorage.setItem("festival.resident.who", "139****5678");
      localStorage.setItem("festival.largeText", large ? "1" : "0");
    },
    token,
    mode === "large",
  );
  const results = {};
  const audit = async (view) => {
    const { lhr } = await snapshot(page, { config });
    results[view] = { score: lhr.categories.accessibility.score, failing: failing(lhr) };
  };
  await page.goto(`${base}/`, { waitUntil: "networkidle0" });
  const large = await page.evaluate(() => document.documentElement.classList.contains("large-text"));
  if (large !== (mode === "large")) throw new Error(`the page is not in ${mode} mode`);
  await page.waitForSelector("#batches .card");
  await audit("batches");
  await page.click("#tab-entries");
  await page.waitForSelector("#entries .voucher a");
  await audit("entries");
  await page.click("#tab-wallet");
  await page.waitForSelector("#wallet .voucher button");
  await audit("wallet");
  await page.click("#wallet .voucher button");
  await page.waitForFunction(() => document.getElementById("qr-image").naturalWidth > 0);
  await audit("qr dialog");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#qr-modal", { hidden: true });
  // 合并使用: the wallet's dining vouchers picked (the auto one cannot join them), and their
  // one QR code.
  // Closing the dialog reloads the wallet: tick the boxes as they stand until both are in.
  await page.waitForFunction(() => {
    for (const box of document.querySelectorAll("#wallet [data-category='dining'] [data-pick]")) {
      if (!box.checked && !box.disabled) box.click();
    }
    return !document.getElementById("together").disabled;
  });
  await page.click("#together");
  await page.waitForFunction(() => document.getElementById("qr-image").naturalWidth > 0
    && !document.getElementById("qr-together").hidden);
  await audit("together dialog");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#qr-modal", { hidden: true });
  // Un-tick them again (the wallet reloaded meanwhile), so the sticky bar leaves the page.
  await page.waitForFunction(() => {
    for (const box of document.querySelectorAll("#wallet [data-pick]")) if (box.checked) box.click();
    return document.getElementById("together-bar").hidden;
  });
  await page.click("#wallet .voucher button.secondary");
  await page.waitForSelector("#places .place, #places .card");
  await audit("places");
  await page.keyboard.press("Escape");
  await page.click("#tab-nearby");
  await page.waitForSelector("#nearby .place, #nearby .card");
  await audit("nearby");
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
}
