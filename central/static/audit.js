// The audit log (administrators only): who did what, to which booth, case, follow-up or account, when and from where.
"use strict";

const ACTION_NAMES = {
  login: "登录 log in", login_failed: "登录失败 failed login", logout: "退出 log out", command: "远程命令 command",
  case_status: "办件状态 case status", case_opened: "查看办件 case opened", follow_up_closed: "差评回访 follow-up closed",
  export: "导出台账 ledger export", user_added: "新增用户 user added", user_disabled: "停用用户 user disabled",
  user_enabled: "启用用户 user enabled", user_password: "修改密码 password changed",
  personal_data_erased: "删除个人信息 personal data erased",
  assist_take: "帮办接单 assist taken", assist_close: "帮办结束 assist closed",
  assist_phone_viewed: "查看回拨电话 call-back number viewed",
  release_added: "新增版本 release added", rollout_started: "开始推送 rollout started", rollout_paused: "暂停推送 rollout paused",
  rollout_resumed: "继续推送 rollout resumed", rollout_halted: "停止推送 rollout halted",
};

const LOGIN_REASONS = {unknown_user: "用户名不存在", wrong_password: "密码错误", locked: "账号已暂时锁定", disabled: "账号已停用"};
const SECTION_NAMES = {all: "全部四表", usage: "使用统计", ratings: "好差评", cases: "办件", assists: "帮办代办"};
const ROLE_WORDS = {viewer: "查看员", operator: "操作员", admin: "管理员"};

function regionsWords(regions) {
  return Array.isArray(regions) && regions.length ? "地区 " + regions.join("、") : "全部地区";
}

// An audit line's details in words, by action; what has no words yet is shown as key: value.
function describe(action, details) {
  if (!details || typeof details !== "object") return "";
  const d = {...details}, parts = [];
  const take = key => { const value = d[key]; delete d[key]; return value; };
  if (action === "login_failed") {
    const reason = take("reason"), row = take("in_a_row");
    if (reason !== undefined) parts.push(LOGIN_REASONS[reason] || reason);
    if (row) parts.push(`连续第 ${row} 次`);
  } else if (action === "case_opened") {
    const masked = take("masked");
    if (masked !== undefined) parts.push(masked ? "已脱敏 masked" : "完整 full");
  } else if (action === "export") {
    const format = take("format"), section = take("section"), regions = take("regions");
    if (format) parts.push(String(format).toUpperCase() + (section ? " · " + (SECTION_NAMES[section] || section) : ""));
    if (regions !== undefined) parts.push(regionsWords(regions));
  } else if (action === "command") {
    const name = take("name"), args = take("args"), id = take("id");
    if (name) parts.push(commandName(name, args) + (name !== "maintenance" && args && Object.keys(args).length ? " " + JSON.stringify(args) : ""));
    if (id) parts.push(`编号 id ${id}`);
  } else if (action === "case_status") {
    const from = take("from"), to = take("to"), note = take("note");
    if (from || to) parts.push(`${from || "—"} → ${to || "—"}`);
    if (note) parts.push(`说明：${note}`);
  } else if (action === "follow_up_closed") {
    const note = take("note");
    if (note) parts.push(`回访情况：${note}`);
  } else if (action === "user_added") {
    const name = take("username"), role = take("role"), regions = take("regions");
    if (name) parts.push(name);
    if (role) parts.push(ROLE_WORDS[role] || role);
    if (regions !== undefined) parts.push(regionsWords(regions));
  } else if (action === "assist_take" || action === "assist_close" || action === "assist_phone_viewed") {
    const device = take("device"), mode = take("mode"), within = take("call_back_within_min");
    const outcome = take("outcome"), note = take("note");
    take("request");  // the booth's event id: the target's number names the request
    if (device) parts.push(`终端 ${device}`);
    if (mode) parts.push(ASSIST_MODES[mode] || mode);
    if (within) parts.push(`${within} 分钟内回电`);
    if (outcome) parts.push(`结果：${ASSIST_OUTCOMES[outcome] || outcome}`);
    if (note) parts.push(`备注：${note}`);
  } else if (action === "release_added") {
    const platform = take("platform"), sequence = take("sequence"), files = take("files"), bytes = take("bytes");
    if (platform) parts.push(platform);
    if (sequence) parts.push(`序号 sequence ${sequence}`);
    if (files) parts.push(`${files} 个文件` + (bytes ? ` ${(bytes / 2 ** 20).toFixed(1)} MB` : ""));
  } else if (action.startsWith("rollout_")) {
    const version = take("version"), platform = take("platform"), booths = take("booths"), waves = take("waves");
    const halt = take("halt_above_pct"), reason = take("reason"), withdrawn = take("withdrawn"), target = take("target");
    const from = take("from"), failed = take("failed"), wave = take("wave");
    take("booths_failed");  // booth by booth: the Releases page lists them
    if (version) parts.push(`版本 ${version}` + (platform ? ` ${platform}` : ""));
    if (target) parts.push(targetWords(target));
    if (booths !== undefined) parts.push(failed !== undefined ? `第 ${wave} 批 ${booths} 台中 ${failed} 台回退` : `${booths} 台终端`);
    if (Array.isArray(waves)) parts.push(`分批 ${waves.join("/")} %`);
    if (halt !== undefined) parts.push(`回退超过 ${halt}% 自动停止`);
    if (from) parts.push(`原为 ${ROLLOUT_STATES[from] || from}`);
    if (reason && failed === undefined) parts.push(`原因：${reason}`);
    if (withdrawn) parts.push(`撤回 ${withdrawn} 台的推送`);
  } else if (action === "personal_data_erased") {
    const count = take("cases"), numbers = take("case_numbers"), appointments = take("appointments");
    const letters = take("dead_letters"), days = take("days");
    if (count !== undefined) parts.push(`办件 ${count} 件`);
    if (appointments) parts.push(`预约 ${appointments} 条`);
    if (letters) parts.push(`未记录消息 ${letters} 条`);
    if (days) parts.push(`保存期限 ${days} 天`);
    if (Array.isArray(numbers) && numbers.length) parts.push(numbers.slice(0, 5).join("、") + (numbers.length > 5 ? " …" : ""));
  }
  for (const [key, value] of Object.entries(d)) {
    parts.push(`${key}: ${typeof value === "object" && value !== null ? JSON.stringify(value) : value}`);
  }
  return parts.join(" · ");
}

function target(line) {
  if (!line.target) return "—";
  if (line.action === "command") return el("a", {href: "device?id=" + encodeURIComponent(line.target)}, line.target);
  if (line.action === "case_status" || line.action === "case_opened") return el("a", {href: "case?no=" + encodeURIComponent(line.target)}, line.target);
  if (line.action === "follow_up_closed") return `差评回访 #${line.target}`;
  if (line.action.startsWith("assist_")) return el("a", {href: "assists"}, `帮办求助 #${line.target}`);
  if (line.action.startsWith("rollout_")) return el("a", {href: "releases#rollout-" + line.target}, `推送 #${line.target}`);
  if (line.action === "release_added") return el("a", {href: "releases"}, `版本 ${line.target}`);
  return line.target;
}

(async () => {
  const me = await startPage("audit");
  const wanted = {actor: param("actor"), action: param("action"), limit: param("limit") || "200"};
  const actionSelect = document.getElementById("action");
  for (const [key, name] of Object.entries(ACTION_NAMES)) actionSelect.append(el("option", {value: key}, name));
  if (wanted.action && !ACTION_NAMES[wanted.action]) actionSelect.append(el("option", {value: wanted.action}, wanted.action));
  for (const name of ["actor", "action", "limit"]) document.getElementById(name).value = wanted[name];
  document.getElementById("search").addEventListener("submit", event => {
    event.preventDefault();
    const values = Object.fromEntries(["actor", "action", "limit"].map(name => [name, document.getElementById(name).value.trim()]));
    if (values.limit === "200") values.limit = "";
    location.assign("audit" + query(values));
  });
  const body = document.querySelector("#audit tbody");
  if (!may(me, "admin")) {
    document.getElementById("search").hidden = true;
    body.replaceChildren(emptyRow(7, "审计日志只有管理员可以查看。The audit log is for administrators only."));
    return;
  }
  const lines = await api("api/audit" + query(wanted));
  const filtered = wanted.actor || wanted.action;
  document.getElementById("summary").textContent = `最新的 ${lines.length} 条${filtered ? "（已筛选）" : ""} · the newest ${lines.length} line(s)` +
    (filtered ? " matching" : "");
  body.replaceChildren(...lines.map(line => el("tr", {"data-audit": line.id, "data-action": line.action, class: line.ok ? null : "bad"},
    el("td", {class: "nowrap"}, when(line.at)), el("td", {class: "nowrap", "data-actor": line.actor}, line.actor),
    el("td", {class: "nowrap muted"}, line.address || "—"), el("td", {class: "nowrap"}, ACTION_NAMES[line.action] || line.action),
    el("td", {class: "nowrap"}, target(line)), el("td", {class: "nowrap"}, line.ok ? "✓" : "✗ 失败 failed"),
    el("td", {class: "small details"}, describe(line.action, line.details)))));
  if (!lines.length) body.append(emptyRow(7, filtered ? "没有符合条件的记录 no line matches" : "审计日志还是空的 the audit log is empty"));
})().catch(error => {
  if (error.status === 403) {
    document.querySelector("#audit tbody").replaceChildren(emptyRow(7, "审计日志只有管理员可以查看。The audit log is for administrators only."));
  } else if (error.status !== 401) showProblem(error);
});
