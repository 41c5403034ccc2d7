// Finding cases: by receipt number (16 digits, spaces allowed; or an older receipt's event id) or case number, item, booth, status and the day received. The search is in
// the page's address (a plain GET form), so it can be bookmarked and the back button returns to it.
"use strict";

const STATUS_COLORS = {"已受理": "accent", "审核中": "maintenance", "待补正": "degraded", "已办结": "ok", "已退回": "offline", "不予受理": "fault"};

function statusBadge(status) {
  return el("span", {class: `status c-${STATUS_COLORS[status] || "unknown"}`, "data-status": status}, status);
}

(async () => {
  await startPage("cases");
  const fields = ["q", "item", "device", "status", "since", "until"];
  const wanted = Object.fromEntries(fields.map(name => [name, param(name)]));
  const choose = (select, value, label) => {
    if (value && ![...select.options].some(o => o.value === value)) select.append(el("option", {value}, label || value));
  };

  // A period that ends before it starts matches nothing: said as such, not as "no case matches".
  const reversed = Boolean(wanted.since && wanted.until && wanted.since > wanted.until);
  const [searched, everything, fleet] = await Promise.all([
    reversed ? null : api("api/cases" + query(wanted)),
    Object.values(wanted).some(Boolean) ? api("api/cases").catch(() => null) : null,
    api("api/fleet").catch(() => null),
  ]);
  const found = searched || {cases: [], statuses: everything ? everything.statuses : [], limit: 0, more: false};
  // The item and booth choices: what the cases and the fleet name (items by their names).
  const items = new Map();
  for (const c of [...(everything || found).cases, ...found.cases]) items.set(c.item, c.item_name);
  const itemSelect = document.getElementById("item");
  for (const [code, name] of [...items].sort((a, b) => a[1].localeCompare(b[1], "zh-CN"))) choose(itemSelect, code, `${name}（${code}）`);
  choose(itemSelect, wanted.item);
  const deviceSelect = document.getElementById("device");
  for (const d of fleet ? fleet.devices.map(d => d.device).sort() : []) choose(deviceSelect, d);
  choose(deviceSelect, wanted.device);
  const statusSelect = document.getElementById("status");
  for (const s of found.statuses) choose(statusSelect, s);
  for (const name of fields) document.getElementById(name).value = wanted[name];
  document.getElementById("search").addEventListener("submit", event => {  // no empty fields in the address
    event.preventDefault();
    location.assign("cases" + query(Object.fromEntries(fields.map(name => [name, document.getElementById(name).value.trim()]))));
  });

  const filtered = Object.values(wanted).some(Boolean);
  const backwards = "受理日期的开始晚于结束，请调换两个日期。The “since” day is after the “until” day: swap them.";
  document.getElementById("summary").className = reversed ? "bad" : "muted";
  for (const name of ["since", "until"]) document.getElementById(name).classList.toggle("bad-input", reversed);
  document.getElementById("summary").textContent = reversed ? backwards : found.more
    ? `显示最新的 ${found.limit} 件，还有更多：请缩小查询范围。Showing the newest ${found.limit}; there are more — narrow the search.`
    : `共 ${found.cases.length} 件${filtered ? "符合条件" : ""} · ${found.cases.length} case(s)${filtered ? " match" : ""}`;
  const body = document.querySelector("#cases tbody");
  body.replaceChildren(...found.cases.map(c => {
    const href = "case?no=" + encodeURIComponent(c.case_no);
    return el("tr", {class: "link", "data-case": c.case_no, onclick: event => { if (event.target.tagName !== "A") location.assign(href); }},
      el("td", {class: "nowrap"}, el("a", {href}, c.case_no)),
      el("td", {class: "small muted nowrap"}, c.number ? c.number.replace(/(.{4})(?=.)/g, "$1 ") : c.receipt),
      el("td", {}, c.item_name, " ", el("span", {class: "muted small"}, c.item)),
      el("td", {class: "nowrap"}, c.department || "—"),
      el("td", {class: "nowrap"}, c.device),
      el("td", {}, statusBadge(c.status), c.personal_erased ? el("div", {class: "muted small"}, "个人信息已删除 erased") : null),
      el("td", {class: "nowrap"}, when(c.opened_at)),
      el("td", {class: "nowrap"}, when(c.updated_at), c.updated_by ? el("div", {class: "muted small"}, c.updated_by) : null));
  }));
  if (!found.cases.length) body.append(emptyRow(8, reversed ? backwards : filtered ? "没有符合条件的办件 no case matches this search"
                                                            : "还没有办件：终端上提交的申请会出现在这里。No cases yet: applications filed at booths appear here."));
})().catch(error => { if (error.status !== 401) showProblem(error); });
