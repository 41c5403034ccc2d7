// One case: its numbers, item, status and history; the applicant (masked for viewers, gone once erased);
// operators and admins move its status on with a note the citizen sees at the booth.
"use strict";

const STATUS_COLORS = {"已受理": "accent", "审核中": "maintenance", "待补正": "degraded", "已办结": "ok", "已退回": "offline", "不予受理": "fault"};

function facts(target, rows) {
  target.replaceChildren(...rows.flatMap(([name, value, id]) => [el("dt", {}, name), el("dd", {id}, value ?? "—")]));
}

(async () => {
  const me = await startPage("cases");
  const caseNo = param("no");
  const operator = may(me, "operator");

  let current = null;

  // Asked once: every opening of a case is an audit line, so the page does not poll.
  async function load() {
    try { current = await api("api/cases/" + encodeURIComponent(caseNo)); }
    catch (error) {
      if (error.status !== 404 && error.status !== 422) throw error;
      document.getElementById("title").textContent = `没有办件 ${caseNo || "(none)"}，或它不在您管辖的地区。No such case in your regions.`;
      document.getElementById("title").setAttribute("data-missing", "");
      return;
    }
    show(current);
  }

  function show(c) {
    document.title = `${c.case_no} · 办件详情`;
    document.getElementById("title").replaceChildren(`${c.case_no} · ${c.item_name} `,
      el("span", {class: `status c-${STATUS_COLORS[c.status] || "unknown"}`, id: "case-status"}, c.status));
    facts(document.getElementById("facts"), [
      ["办件编号 Case", c.case_no], ["受理编号 Receipt", c.receipt],
      ["事项 Item", [c.item_name, " ", el("span", {class: "muted small"}, c.item)]], ["部门 Department", c.department],
      ["终端 Booth", el("a", {href: "device?id=" + encodeURIComponent(c.device)}, c.device)], ["地区 Region", c.region],
      ["状态 Status", c.status], ["说明 Note", c.note || "—", "case-note"],
      ["受理 Received", when(c.opened_at)],
      ["更新 Updated", [when(c.updated_at), c.updated_by ? ` · ${c.updated_by}` : " · 中心 central"]],
      ["办结 Closed", c.closed_at ? when(c.closed_at) : "未办结 open"],
    ]);
    document.getElementById("masked-note").hidden = !(c.masked && c.applicant);
    document.getElementById("erased-note").hidden = c.applicant !== null;
    const person = document.getElementById("applicant");
    person.hidden = c.applicant === null;
    if (c.applicant) facts(person, [["姓名 Name", c.applicant.name, "applicant-name"], ["证件号码 ID number", c.applicant.id_number, "applicant-id"],
                                    ["电话 Phone", c.applicant.phone]]);
    const form = document.getElementById("form");
    document.getElementById("form-title").hidden = form.hidden = !(c.form && c.form.length);
    if (c.form) facts(form, c.form.map(f => [f.label === f.key ? f.key : `${f.label}`, f.value]));
    document.getElementById("details").hidden = false;
    const statusPanel = document.getElementById("status-panel");
    statusPanel.hidden = !operator;
    if (operator) {
      const select = document.getElementById("new-status");
      if (!select.options.length) {
        select.replaceChildren(...c.statuses.map(s => el("option", {value: s}, s)));
        select.value = c.status;
        document.getElementById("status-note").value = c.note || "";
      }
    }
  }

  document.getElementById("status-form").addEventListener("submit", async event => {
    event.preventDefault();
    const button = document.getElementById("status-save"), message = document.getElementById("status-message");
    button.disabled = true;
    message.className = "message small muted";
    message.textContent = "保存中 saving…";
    try {
      const done = await api(`api/cases/${encodeURIComponent(caseNo)}/status`,
                             {status: document.getElementById("new-status").value, note: document.getElementById("status-note").value.trim()});
      message.className = "message small good";
      message.textContent = `已保存：${done.status}。Saved.`;
      current = {...current, ...done, updated_by: me.username};
      show(current);
    } catch (error) {
      message.className = "message small bad";
      message.textContent = "未保存 not saved: " + error.message;
    } finally { button.disabled = false; }
  });

  await load();
})().catch(error => { if (error.status !== 401) showProblem(error); });
