// Shared by the dashboard's pages: fetching, formatting, and small SVG charts (no external library).
"use strict";

const STATE_NAMES = {fault: "故障", offline: "离线", degraded: "告警", maintenance: "维护中", ok: "正常", unknown: "未知"};

async function api(path, body) {
  const options = body === undefined ? {} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function stateBadge(state) {
  return el("span", {class: "state", style: `--c: var(--${state})`, "data-state": state}, STATE_NAMES[state] || state);
}

function when(unix) {
  if (unix === null || unix === undefined) return "—";
  return new Date(unix * 1000).toLocaleString("zh-CN", {hour12: false});
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// A line chart of one series over time; gaps (null) break the line.
function lineChart(times, values, {unit = "", color = "#0b57d0", width = 420, height = 160} = {}) {
  const box = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`, role: "img"});
  const points = times.map((t, i) => [t, values[i]]).filter(p => p[1] !== null && p[1] !== undefined);
  if (!points.length) { box.append(svg("text", {x: 10, y: height / 2}, "暂无数据 no data")); return box; }
  const [left, right, top, bottom] = [44, 10, 10, 24];
  const t0 = Math.min(...points.map(p => p[0])), t1 = Math.max(...points.map(p => p[0]));
  let v0 = Math.min(...points.map(p => p[1])), v1 = Math.max(...points.map(p => p[1]));
  if (v0 === v1) { v0 -= 1; v1 += 1; }
  const x = t => left + (t1 === t0 ? 0 : (t - t0) / (t1 - t0)) * (width - left - right);
  const y = v => top + (1 - (v - v0) / (v1 - v0)) * (height - top - bottom);
  for (const v of [v0, (v0 + v1) / 2, v1]) {
    box.append(svg("line", {x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#e4e7eb"}));
    box.append(svg("text", {x: 2, y: y(v) + 4}, `${+v.toFixed(1)}${unit}`));
  }
  box.append(svg("text", {x: left, y: height - 6}, new Date(t0 * 1000).toLocaleTimeString("zh-CN", {hour12: false})));
  box.append(svg("text", {x: width - right - 50, y: height - 6}, new Date(t1 * 1000).toLocaleTimeString("zh-CN", {hour12: false})));
  box.append(svg("polyline", {fill: "none", stroke: color, "stroke-width": 2,
                              points: points.map(p => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ")}));
  return box;
}

// Horizontal bars: [[label, value], ...].
function barChart(rows, {color = "#0b57d0", width = 420, format = v => v} = {}) {
  const rowHeight = 22, labelWidth = 150;
  const box = svg("svg", {width, height: Math.max(rows.length, 1) * rowHeight + 4, role: "img"});
  if (!rows.length) { box.append(svg("text", {x: 4, y: 16}, "暂无数据 no data")); return box; }
  const most = Math.max(...rows.map(r => r[1]), 1);
  rows.forEach(([label, value, barColor], i) => {
    const y = i * rowHeight + 2;
    box.append(svg("text", {x: 0, y: y + 15}, String(label).slice(0, 14)));
    box.append(svg("rect", {x: labelWidth, y, height: rowHeight - 6, rx: 2, fill: barColor || color,
                            width: Math.max(1, (value / most) * (width - labelWidth - 60))}));
    box.append(svg("text", {x: labelWidth + (value / most) * (width - labelWidth - 60) + 6, y: y + 14}, format(value)));
  });
  return box;
}

// Stacked columns per day: days × series.
function columnChart(days, series, {width = 860, height = 200} = {}) {
  const box = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`, role: "img"});
  if (!days.length) { box.append(svg("text", {x: 10, y: height / 2}, "暂无数据 no data")); return box; }
  const [left, bottom, top] = [40, 40, 10];
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const most = Math.max(...totals, 1), slot = (width - left) / days.length;
  days.forEach((day, i) => {
    let y = height - bottom;
    for (const s of series) {
      const h = ((s.values[i] || 0) / most) * (height - bottom - top);
      y -= h;
      box.append(svg("rect", {x: left + i * slot + 4, y, width: Math.max(2, slot - 8), height: h, fill: s.color}));
    }
    box.append(svg("text", {x: left + i * slot + 4, y: height - bottom + 14}, day.slice(5)));
    box.append(svg("text", {x: left + i * slot + 4, y: y - 3}, totals[i]));
  });
  series.forEach((s, i) => {
    box.append(svg("rect", {x: left + i * 120, y: height - 16, width: 10, height: 10, fill: s.color}));
    box.append(svg("text", {x: left + i * 120 + 14, y: height - 7}, s.name));
  });
  return box;
}
