// Shared by the dashboard's pages: the session and the header, asking the API, formatting, and small SVG
// charts (no external library). Every URL is relative: central may be served under a proxy's prefix.
"use strict";

const STATE_NAMES = {fault: "故障", offline: "离线", degraded: "告警", maintenance: "维护中", ok: "正常", unknown: "未知"};
const ROLE_NAMES = {viewer: "查看员 viewer", operator: "操作员 operator", admin: "管理员 admin"};
const PAGES = ["", "device", "assists", "usage", "cases", "case", "releases", "audit"];  // what `next` may name after a login

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

// The login page, back here afterwards; `reason=expired` has it say why (the session ended meanwhile).
function loginHref() {
  return "login" + query({next: herePath(), reason: "expired"});
}

// When the session has ended. A change that was being saved is not lost: the page stays, says so where
// the change was made, and keeps what was typed (also as a draft, for the way back from the login page).
const EXPIRED = "登录已过期，请重新登录 your session ended";
let sessionEnded = false;
const keepers = [];  // functions: true while the page holds something typed and not saved (stay then)
function keepWhileTyping(unsaved) { keepers.push(unsaved); }

function toLogin() {
  if (sessionEnded || keepers.some(unsaved => unsaved())) { sessionEnded = true; return false; }
  location.assign(loginHref());
  return true;
}

// Typed and not saved, kept in this tab across the visit to the login page (sessionStorage: this tab only).
const drafts = {
  save(key, value) { try { sessionStorage.setItem("draft:" + key, JSON.stringify(value)); } catch (error) { /* private mode */ } },
  take(key) {
    try {
      const text = sessionStorage.getItem("draft:" + key);
      sessionStorage.removeItem("draft:" + key);
      return text ? JSON.parse(text) : null;
    } catch (error) { return null; }
  },
};

// What a failed change says in place: `done` names it, e.g. ["保存", "saved"]. A 401 says the session
// ended, with a link to log in again (what was typed stays on the page).
function notDone(error, [zh, en]) {
  if (error.status === 401) {
    return [`未${zh}：登录已过期，请重新登录后再${zh} not ${en}: your session ended · `,
            el("a", {href: loginHref(), class: "relogin"}, "重新登录 log in again")];
  }
  return [`未${zh} not ${en}: ${error.message}`];
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
    // A save (POST) never leaves the page: it says so where the change was made (notDone).
    if (body !== undefined) sessionEnded = true;
    const leaving = body === undefined && toLogin();
    throw Object.assign(new ApiError(401, EXPIRED), {leaving});
  }
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || `${response.status} ${response.statusText}`);
  return data;
}

// GET with no body, POST (JSON, with the CSRF token) with one. A GET answered 401 goes to the login page
// (unless something typed would be lost); a POST answered 401 stays (see notDone).
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

// -- codes in words ---------------------------------------------------------------------------------------------
// A booth's drivers report `state:reason` (the overview's printer and card reader columns, alert codes
// `{driver}_{reason}`): shown in words, the code itself only in a tooltip, or small and grey if unknown.
const DRIVER_NAMES = {printer: "打印机", card_reader: "读卡器", leds: "指示灯", scanner: "扫码器"};
const DRIVER_STATES = {ok: "正常", degraded: "告警", fault: "故障", absent: "未连接"};
const REASON_NAMES = {
  ok: ["正常", "ok"], not_opened: ["启动中", "starting"], paper_end: ["缺纸", "out of paper"],
  paper_near_end: ["纸将用尽", "paper low"], cover_open: ["机盖打开", "cover open"], cutter_error: ["切纸刀故障", "cutter error"],
  offline: ["脱机", "offline"], port_missing: ["未连接", "not connected"], no_response: ["无响应", "no response"],
  timeout: ["超时", "timed out"], protocol_error: ["通信出错", "protocol error"], overheated: ["过热", "overheated"],
  not_fitted: ["未安装", "not fitted"], not_accepting: ["不接收数据", "takes no data"], port_lost: ["连接中断", "connection lost"],
  no_answer: ["未确认打印", "no confirmation"],
};

function codeTag(code) {
  return el("span", {class: "code"}, code);
}

// "fault:paper_end" → {text: "故障：缺纸", level: "bad", ...}; "-" → no report.
function driverHealth(code) {
  if (!code || code === "-") return {text: "—", level: "muted", gloss: "no report yet 未报告", unknown: null};
  const [state, reason = ""] = String(code).split(":");
  if (state === "ok") return {text: "正常", level: "", gloss: "ok", unknown: null};
  const level = state === "degraded" ? "warn" : reason === "not_opened" ? "muted" : "bad";
  const known = REASON_NAMES[reason];
  if (!known) return {text: DRIVER_STATES[state] || "故障", level, gloss: code, unknown: code};
  const text = state === "fault" && reason !== "not_opened" ? `故障：${known[0]}` : known[0];
  return {text, level, gloss: `${state}: ${known[1]} (${code})`, unknown: null};
}

function healthCell(code, attrs = {}) {
  const h = driverHealth(code);
  return el("td", {...attrs, class: [attrs.class, h.level].filter(Boolean).join(" "), title: h.gloss, "data-health": code},
            h.text, h.unknown ? codeTag(h.unknown) : null);
}

const SEVERITY_NAMES = {error: "严重", warning: "警告", info: "提示"};
const ALERT_NAMES = {
  outbox_backlog: "待发事件积压", outbox_full: "待发事件已满", clock_unsynced: "终端时钟未同步",
  under_voltage: "终端电源电压不足", sd_card_errors: "SD 卡出错，请尽快更换", disk_low: "磁盘空间不足",
  offline: "终端离线", heartbeat_overdue: "没有按时收到心跳", admin_pin_lockout: "管理员密码输错多次，已暂时锁定",
  catalog_rejected: "事项目录更新被拒绝", catalog_invalid: "事项目录无法使用", printer_recovered: "打印机已恢复",
  assist_escalated: "帮办求助超时无人接单",
  booth_code_conflict: "终端编码与另一台终端重复，受理编号无法按编号查询", receipt_number_reused: "受理编号重复（状态数据库是否更换过？）",
};

// An alert's code in a sentence: {text, unknown} (unknown: the code, when there are no words for it).
function alertName(code) {
  if (ALERT_NAMES[code]) return {text: ALERT_NAMES[code], unknown: null};
  for (const [driver, name] of Object.entries(DRIVER_NAMES)) {
    if (!String(code).startsWith(driver + "_")) continue;
    const reason = REASON_NAMES[code.slice(driver.length + 1)];
    return reason ? {text: name + reason[0], unknown: null} : {text: name + "故障", unknown: code};
  }
  return {text: "告警", unknown: code};
}

// Remote commands by name (maintenance: by its `on`).
const COMMAND_NAMES = {
  ping: "连通测试 ping", status: "状态 status", "print-test": "打印测试页 print test", "led-test": "指示灯测试 LED test",
  "reload-catalog": "重新加载事项 reload catalogue", "retry-set-aside": "重发搁置事件 retry set-aside",
  reboot: "重启终端 reboot", restart: "重启程序 restart",
};
function commandName(name, args) {
  if (name === "maintenance") return args && args.on === false ? "退出维护 maintenance off" : "进入维护 maintenance on";
  return COMMAND_NAMES[name] || name;
}

// Seconds since, in words: "24 分钟前"; null: "从未".
function ago(seconds) {
  if (seconds === null || seconds === undefined || seconds === "") return "从未";
  const s = Math.max(0, Math.round(Number(seconds)));
  if (s < 5) return "刚刚";
  if (s < 60) return `${s} 秒前`;
  if (s < 3600) return `${Math.floor(s / 60)} 分钟前`;
  if (s < 86_400) return `${Math.floor(s / 3600)} 小时前`;
  return `${Math.floor(s / 86_400)} 天前`;
}

// The API's short ages ("90 min", "40 s", "-") in words.
function shortAge(text) {
  const match = /^(\d+) (min|s)$/.exec(String(text));
  if (!match) return text === "-" || text === null || text === undefined ? "—" : String(text);
  return match[1] + (match[2] === "min" ? " 分钟" : " 秒");
}

// A fleet row's heartbeat age in seconds (null: never).
function heartbeatAge(row) {
  if (row.heartbeat_age_s !== undefined) return row.heartbeat_age_s;
  const match = /^(\d+) s ago$/.exec(row.heartbeat || "");
  return match ? Number(match[1]) : null;
}

// A time of day, with the date only when it is not today: "16:19", "11-28 09:05".
function shortWhen(unix) {
  if (unix === null || unix === undefined) return "—";
  const date = new Date(unix * 1000), now = new Date();
  const time = date.toLocaleTimeString("zh-CN", {hour12: false, hour: "2-digit", minute: "2-digit"});
  if (isoDay(date) === isoDay(now)) return time;
  return (date.getFullYear() === now.getFullYear() ? isoDay(date).slice(5) : isoDay(date)) + " " + time;
}

// An ISO timestamp with its offset (events' `created`) as unix seconds; null if unreadable.
function unixOf(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms / 1000;
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
  if (!error) return;
  if (error.status === 401) {
    box.replaceChildren(EXPIRED + "。页面上填写的内容还在 what you typed is still here · ",
                        el("a", {href: loginHref(), class: "relogin"}, "重新登录 log in again"));
  } else box.textContent = error.message || String(error);
}

// The header every page shares: title, links (the audit only for admins), who is logged in, log out.
function buildHeader(me, here) {
  const header = document.querySelector("header");
  const title = header.dataset.title || "";
  const links = [["./", "fleet", "总览 Fleet"], ["assists", "assists", "帮办代办 Assist"], ["usage", "usage", "使用与评价 Usage"],
                 ["cases", "cases", "办件 Cases"], ["releases", "releases", "发布 Releases"]];
  if (may(me, "admin")) links.push(["audit", "audit", "审计 Audit"]);
  const logout = el("button", {type: "button", id: "logout", onclick: async () => {
    logout.disabled = true;
    try { await api("api/logout", {}); } catch (error) { /* logged out already, or central away: go anyway */ }
    location.assign("login");
  }}, "退出 Log out");
  const regions = me.regions.length ? "地区 " + me.regions.join("、") : "全部地区 all regions";
  header.replaceChildren(
    el("h1", {}, "政务自助终端" + (title ? " · " + title : "")),
    el("nav", {}, links.map(([href, key, name]) => el("a", {href, class: key === here ? "here" : null, "data-nav": key}, name,
      key === "assists" ? el("span", {class: "badge", id: "assist-badge", hidden: true}) : null))),
    el("div", {class: "who"},
       el("span", {}, el("b", {id: "user-name"}, me.username), " · ",
          el("span", {id: "user-role", "data-role": me.role, title: regions}, ROLE_NAMES[me.role] || me.role),
          // an admin sees every region, always (central.accounts): said in the role's tooltip, the line stays short
          me.role === "admin" ? null : [" · ", el("span", {class: "small", title: "管辖地区 regions"}, regions)]),
       logout));
}

// Every page but the login page starts here: who is logged in (or off to the login page), the header.
async function startPage(here) {
  let me;
  try { me = await currentSession(); }
  catch (error) { if (error.status !== 401) showProblem(error); throw error; }
  buildHeader(me, here);
  document.body.dataset.role = me.role;
  if (here !== "assists") watchAssists();  // the desk keeps its own badge, every 2 s
  return me;
}

// -- 帮办代办 (assist requests): words shared by the desk, the overview and the usage page --------------------------
const ASSIST_MODES = {on_site: "到机旁", call_back: "电话回拨"};
// The outcomes' words are central.assist_desk.OUTCOME_NAMES, exactly (the 台账 says them too; a test compares).
const ASSIST_OUTCOMES = {helped_on_site: "现场帮办", called_back: "已回电", no_answer: "未接通", citizen_gone: "群众已离开"};
const SCREEN_NAMES = {
  home: "首页", browse: "浏览事项", department: "部门事项", search: "搜索", guide: "办事指南", help: "帮助", do_here: "在此办理",
  identify: "刷身份证", apply: "填写申请", receipt: "受理回执", rate: "评价", bundle: "一件事", book: "预约", progress: "办件进度",
};

// The nav's badge: requests no one has taken yet, red when any waited past the escalation time.
function assistBadge(open, escalated) {
  const badge = document.getElementById("assist-badge");
  if (!badge) return;
  badge.hidden = !open;
  badge.textContent = open > 99 ? "99+" : String(open);
  badge.classList.toggle("hot", escalated > 0);
  badge.dataset.open = open;
  badge.dataset.escalated = escalated;
  badge.title = `待接单 ${open} 条` + (escalated ? `，其中 ${escalated} 条已超时` : "") + ` · ${open} waiting, ${escalated} overdue`;
  badge.parentElement.setAttribute("aria-label", `帮办代办 Assist: ${badge.title}`);
}

// Every page but the desk asks for the counts every 10 s. Quietly: this never leaves the page nor says a
// problem (the page's own requests do that); a tab in the background asks nothing.
function watchAssists() {
  const ask = async () => {
    if (document.hidden) return;
    try {
      const response = await fetch("api/assists", {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (!response.ok) return;
      const data = await response.json();
      const waiting = data.open.filter(a => a.state === "open");
      assistBadge(waiting.length, waiting.filter(a => a.escalated).length);
    } catch (error) { /* central away: the page's own requests say so */ }
  };
  setInterval(ask, 10_000);
  document.addEventListener("visibilitychange", ask);
  ask();
}

// -- software releases: words shared by the Releases page and the audit page ------------------------------------------
const ROLLOUT_STATES = {running: "推送中", paused: "已暂停", halted: "已停止", completed: "已完成"};

// A rollout's booths in words: a region ({"region": "110102"}), a share of one ("percent"), or named booths.
function targetWords(target) {
  if (!target) return "";
  if (Array.isArray(target.devices)) {
    const shown = target.devices.slice(0, 3).join("、");
    return `指定终端 ${shown}` + (target.devices.length > 3 ? ` 等 ${target.devices.length} 台` : "");
  }
  return `地区 ${target.region}` + (target.percent ? ` 的 ${target.percent}%` : " 全部");
}

// Seconds as a duration in words: "45 秒", "3 分 05 秒", "2 小时 04 分".
function duration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return `${s} 秒`;
  if (s < 3600) return `${Math.floor(s / 60)} 分 ${String(s % 60).padStart(2, "0")} 秒`;
  return `${Math.floor(s / 3600)} 小时 ${String(Math.floor(s / 60) % 60).padStart(2, "0")} 分`;
}

// Run `show` now and every `seconds`; a failure is said on the page, the next success clears it. Returns
// `now`: run again at once (a filter changed) and restart the interval, so a page never asks twice in one
// interval, nor two answers race (a run asked while one is under way follows it).
function every(seconds, show) {
  let busy = false, again = false, timer = null;
  const run = async (always = false) => {
    if (document.hidden && !always) return;  // a tab in the background asks nothing
    if (busy) { again = again || always; return; }
    busy = true;
    try { await show(); showProblem(null); }
    catch (error) { if (!error.leaving) showProblem(error); }
    finally { busy = false; if (again) { again = false; now(); } }
  };
  const now = () => {
    clearInterval(timer);
    timer = setInterval(run, seconds * 1000);
    run(true);
  };
  document.addEventListener("visibilitychange", () => { if (!document.hidden) now(); });
  now();
  return now;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// A line chart of one series over time; gaps (null) break the line. `floor`: the axis never goes below it
// (counts: 0); `whole`: only whole numbers on the axis (counts).
function lineChart(times, values, {unit = "", color = "#0b57d0", width = 420, height = 160, floor = null, whole = false} = {}) {
  const box = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`, role: "img"});
  const points = times.map((t, i) => [t, values[i]]).filter(p => p[1] !== null && p[1] !== undefined);
  if (!points.length) { box.append(svg("text", {x: 10, y: height / 2}, "暂无数据 no data")); return box; }
  const [left, right, top, bottom] = [44, 10, 10, 24];
  const t0 = Math.min(...points.map(p => p[0])), t1 = Math.max(...points.map(p => p[0]));
  let v0 = Math.min(...points.map(p => p[1])), v1 = Math.max(...points.map(p => p[1]));
  if (v0 === v1) { v0 -= 1; v1 += 1; }
  if (floor !== null) { v0 = Math.max(v0, floor); v1 = Math.max(v1, v0 + 1); }
  const x = t => left + (t1 === t0 ? 0 : (t - t0) / (t1 - t0)) * (width - left - right);
  const y = v => top + (1 - (v - v0) / (v1 - v0)) * (height - top - bottom);
  for (const v of [v0, (v0 + v1) / 2, v1]) {
    box.append(svg("line", {x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#e4e7eb"}));
    if (!whole || Number.isInteger(v)) box.append(svg("text", {x: 2, y: y(v) + 4}, `${+v.toFixed(1)}${unit}`));
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
