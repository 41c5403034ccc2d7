// Shared by the dashboard's pages: the session and the header, asking the API, formatting, and small SVG
// charts (no external library). Every URL is relative: central may be served under a proxy's prefix.
"use strict";

const STATE_NAMES = {fault: "故障", offline: "离线", degraded: "告警", maintenance: "维护中", ok: "正常", unknown: "未知"};
const ROLE_NAMES = {viewer: "查看员 viewer", operator: "操作员 operator", admin: "管理员 admin"};
const PAGES = ["", "device", "usage", "cases", "case", "audit"];  // what `next` may name after a login

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// Who is logged in (GET api/session), asked once per page; the CSRF token stays in memory only.
let sessionPromise = null;
function currentSession(fresh = false) {
  if (!sessionPromise || fresh) {
    sessionPromise = request("api/session").catch(error => { sessionPromise = null; throw error; });
  }
  return sessionPromise;
}

function may(me, role) {
  const rank = {viewer: 1, operator: 2, admin: 3};
  return (rank[me.role] || 0) >= rank[role];
}

// This page as a relative `next` for the login page: "device?id=bj-dc-0001", "" for the overview.
function herePath() {
  return location.pathname.split("/").pop() + location.search;
}

function toLogin() {
  const next = herePath();
  location.assign("login" + (next ? "?next=" + encodeURIComponent(next) : ""));
}

async function request(path, body) {
  const options = {credentials: "same-origin", referrerPolicy: "same-origin", headers: {Accept: "application/json"}};
  if (body !== undefined) {
    const me = await currentSession();
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRF-Token"] = me.csrf_token;
    options.body = JSON.stringify(body);
  }
  let response;
  try { response = await fetch(path, options); }
  catch (error) { throw new ApiError(0, "无法连接中心 central cannot be reached"); }
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, "请重新登录 please log in again");
  }
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || `${response.status} ${response.statusText}`);
  return data;
}

// GET with no body, POST (JSON, with the CSRF token) with one. A 401 goes to the login page.
async function api(path, body) {
  try { return await request(path, body); }
  catch (error) {
    // The CSRF token can change (logged in again in another tab): ask for it again, once.
    if (body !== undefined && error.status === 403 && /csrf/i.test(error.message)) {
      await currentSession(true);
      return request(path, body);
    }
    throw error;
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") node.style.cssText = value;  // CSSOM from a script: allowed by the CSP
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function stateBadge(state) {
  return el("span", {class: `state c-${STATE_NAMES[state] ? state : "unknown"}`, "data-state": state}, STATE_NAMES[state] || state);
}

function when(unix) {
  if (unix === null || unix === undefined) return "—";
  return new Date(unix * 1000).toLocaleString("zh-CN", {hour12: false});
}

function day(unix) {
  if (unix === null || unix === undefined) return "—";
  return isoDay(new Date(unix * 1000));
}

function isoDay(date) {
  const pad = n => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function param(name) {
  return new URLSearchParams(location.search).get(name) || "";
}

function query(values) {
  const found = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== "" && value !== null && value !== undefined) found.set(key, value);
  const text = found.toString();
  return text ? "?" + text : "";
}

// An empty table says so, across all its columns.
function emptyRow(columns, text) {
  return el("tr", {class: "empty"}, el("td", {colspan: columns, class: "empty"}, text));
}

// A line under the header for what went wrong (the page keeps what it showed last).
function showProblem(error) {
  let box = document.getElementById("problem");
  if (!box) {
    box = el("div", {id: "problem", class: "problem", role: "alert"});
    document.querySelector("main").prepend(box);
  }
  box.hidden = !error;
  if (error) box.textContent = error.message || String(error);
}

// The header every page shares: title, links (the audit only for admins), who is logged in, log out.
function buildHeader(me, here) {
  const header = document.querySelector("header");
  const title = header.dataset.title || "";
  const links = [["./", "fleet", "总览 Fleet"], ["usage", "usage", "使用与评价 Usage"], ["cases", "cases", "办件 Cases"]];
  if (may(me, "admin")) links.push(["audit", "audit", "审计 Audit"]);
  const logout = el("button", {type: "button", id: "logout", onclick: async () => {
    logout.disabled = true;
    try { await api("api/logout", {}); } catch (error) { /* logged out already, or central away: go anyway */ }
    location.assign("login");
  }}, "退出 Log out");
  const regions = me.regions.length ? "地区 " + me.regions.join("、") : "全部地区 all regions";
  header.replaceChildren(
    el("h1", {}, "政务自助终端" + (title ? " · " + title : "")),
    el("nav", {}, links.map(([href, key, name]) => el("a", {href, class: key === here ? "here" : null, "data-nav": key}, name))),
    el("div", {class: "who"},
       el("span", {}, el("b", {id: "user-name"}, me.username), " · ", el("span", {id: "user-role", "data-role": me.role}, ROLE_NAMES[me.role] || me.role),
          " · ", el("span", {class: "small", title: "管辖地区 regions"}, regions)),
       logout));
}

// Every page but the login page starts here: who is logged in (or off to the login page), the header.
async function startPage(here) {
  let me;
  try { me = await currentSession(); }
  catch (error) { if (error.status !== 401) showProblem(error); throw error; }
  buildHeader(me, here);
  document.body.dataset.role = me.role;
  return me;
}

// Run `show` now and every `seconds`; a failure is said on the page, the next success clears it.
function every(seconds, show) {
  let busy = false;
  const run = async (always = false) => {
    if (busy || (document.hidden && !always)) return;  // a tab in the background asks nothing
    busy = true;
    try { await show(); showProblem(null); }
    catch (error) { if (error.status !== 401) showProblem(error); }
    finally { busy = false; }
  };
  run(true);
  return setInterval(run, seconds * 1000);
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

// Horizontal bars: [{label, value, color?, title?}, ...].
function barChart(rows, {color = "#0b57d0", width = 420, labelWidth = 150, format = v => v} = {}) {
  const rowHeight = 22;
  const box = svg("svg", {width, height: Math.max(rows.length, 1) * rowHeight + 4,
                          viewBox: `0 0 ${width} ${Math.max(rows.length, 1) * rowHeight + 4}`, role: "img"});
  if (!rows.length) { box.append(svg("text", {x: 4, y: 16}, "暂无数据 no data")); return box; }
  const most = Math.max(...rows.map(r => r.value), 1), room = width - labelWidth - 70;
  const fits = Math.floor(labelWidth / 11.5);  // CJK characters of 11 px
  rows.forEach(({label, value, color: barColor, title}, i) => {
    const y = i * rowHeight + 2, text = String(label);
    const row = svg("g", {});
    row.append(svg("title", {}, title || `${text}: ${format(value)}`));
    row.append(svg("text", {x: 0, y: y + 15}, text.length > fits ? text.slice(0, fits - 1) + "…" : text));
    row.append(svg("rect", {x: labelWidth, y, height: rowHeight - 6, rx: 2, fill: barColor || color,
                            width: Math.max(1, (value / most) * room)}));
    row.append(svg("text", {x: labelWidth + (value / most) * room + 6, y: y + 14}, format(value)));
    box.append(row);
  });
  return box;
}

// Stacked columns per day: days × series.
function columnChart(days, series, {width = 860, height = 200} = {}) {
  const box = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`, role: "img"});
  if (!days.length) { box.append(svg("text", {x: 10, y: height / 2}, "暂无数据 no data")); return box; }
  const [left, bottom, top] = [40, 40, 16];
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const most = Math.max(...totals, 1), slot = (width - left) / days.length;
  days.forEach((name, i) => {
    let y = height - bottom;
    for (const s of series) {
      const h = ((s.values[i] || 0) / most) * (height - bottom - top);
      y -= h;
      box.append(svg("rect", {x: left + i * slot + 4, y, width: Math.max(2, slot - 8), height: h, fill: s.color}));
    }
    box.append(svg("text", {x: left + i * slot + 4, y: height - bottom + 14}, name.slice(5)));
    box.append(svg("text", {x: left + i * slot + 4, y: y - 3}, totals[i]));
  });
  series.forEach((s, i) => {
    box.append(svg("rect", {x: left + i * 120, y: height - 16, width: 10, height: 10, fill: s.color}));
    box.append(svg("text", {x: left + i * 120 + 14, y: height - 7}, s.name));
  });
  return box;
}
