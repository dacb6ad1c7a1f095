"use strict";
// Line charts drawn as SVG by the page itself (no library). Values are numbers or null (gap).
window.Charts = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 600, H = 220, L = 46, R = 10, T = 10, B = 24;

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const key of Object.keys(attrs || {})) node.setAttribute(key, String(attrs[key]));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // Top of the axis: four equal steps of 1, 2 or 5 × 10^n, so counts get whole-number ticks.
  function niceMax(value) {
    if (value <= 0) return 4;
    const quarter = value / 4;
    const power = Math.pow(10, Math.floor(Math.log10(quarter)));
    for (const step of [1, 2, 5, 10]) if (step * power >= quarter && step * power >= 1) return 4 * step * power;
    return 40 * power;
  }
  // Redraws `svg` with `series` ([{label, color, values}]) over seconds starting at `fromSec`.
  function draw(svg, series, fromSec, formatTick, summary) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", summary);
    svg.appendChild(el("title", {}, summary));
    const count = series.length ? series[0].values.length : 0;
    let max = 0, total = 0;
    for (const s of series) for (const v of s.values) if (v !== null) { max = Math.max(max, v); total += v; }
    const top = niceMax(max);
    svg.dataset.total = String(total);
    svg.dataset.max = String(max);
    const x = (i) => L + (count <= 1 ? 0 : (i * (W - L - R)) / (count - 1));
    const y = (v) => T + (H - T - B) * (1 - v / top);
    for (let k = 0; k <= 4; k++) {
      const v = (top * k) / 4;
      svg.appendChild(el("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.appendChild(el("text", { class: "axis", x: L - 6, y: y(v) + 4, "text-anchor": "end" }, formatTick(v)));
    }
    const every = count >= 120 ? 60 : 10; // time ticks on whole minutes (or tens of seconds)
    for (let i = 0; i < count; i++) {
      if ((fromSec + i) % every !== 0 || x(i) < L + 24 || x(i) > W - R - 24) continue;
      svg.appendChild(el("text", { class: "axis", x: x(i), y: H - 6, "text-anchor": "middle" }, I18N.clock((fromSec + i) * 1000)));
    }
    for (const s of series) {
      let d = "", pen = false;
      s.values.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
      });
      if (d) svg.appendChild(el("path", { d, stroke: s.color, "data-series": s.name }));
    }
  }
  function legend(container, series) {
    while (container.firstChild) container.removeChild(container.firstChild);
    for (const s of series) {
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = s.color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s.label));
      container.appendChild(item);
    }
  }
  const colors = { granted: "#177245", sold_out: "#b3261e", limit_reached: "#8a5a00", rate_limited: "#7b3fb3",
    paused: "#5b6475", not_started: "#1f5fbf", ended: "#333", not_eligible: "#d0731b", remaining: "#1f5fbf" };
  return { draw, legend, colors, svg: () => el("svg", { class: "chart" }) };
})();
