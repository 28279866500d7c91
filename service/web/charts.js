// ECharts (about 1 MiB) is fetched the first time a chart is drawn, after sign-in, so the
// sign-in page stays light. One script tag however many charts ask at once.
let loading = null;

export function loadCharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  loading = loading || new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/static/vendor/echarts.min.js";
    script.onload = () => resolve(window.echarts);
    script.onerror = () => {
      loading = null;
      script.remove();
      reject(new Error("图表组件加载失败，请刷新重试"));
    };
    document.head.append(script);
  });
  return loading;
}
