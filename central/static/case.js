// One case: its numbers, item, status and history; the applicant (masked for viewers, gone once erased);
// operators and admins move its status on with a note the citizen sees at the booth.
"use strict";

const STATUS_COLORS = {"已受理": "accent", "审核中": "maintenance", "待补正": "degraded", "已办结": "ok", "已退回": "offline", "不予受理": "fault"};

function facts(target, rows) {
  target.replaceChildren(...rows.flatMap(([name, value, id]) => [el("dt", {}, name), el("dd", {id}, value ?? "—")]));
}

// a case number, or the receipt's: the 16 digits a citizen reads out (spaces allowed), or an older receipt's event id
const CASE_NO = /^[0-9]{12}$/, RECEIPT = /^([0-9]{16}|[0-9A-HJKMNP-TV-Z]{26})$/i;

function groupsOfFour(number) { return number.replace(/(.{4})(?=.)/g, "$1 "); }

(async () => {
  const me = await startPage("cases");
  const given = param("no").trim(), asked = /^[0-9 ]+$/.test(given) ? given.replace(/ /g, "") : given;
  const operator = may(me, "operator");

  let current = null;

  function missing(text) {
    document.getElementById("title").replaceChildren(text, " ", el("a", {href: "cases", class: "small"}, "去办件查询 search the cases"));
    document.getElementById("title").setAttribute("data-missing", "");
  }

  // Asked once: every opening of a case is an audit line, so the page does not poll.
  async function load() {
    if (!asked) { missing("没有指定办件。No case was given."); return; }
    if (!CASE_NO.test(asked) && !RECEIPT.test(asked)) {
      missing(`“${asked.slice(0, 40)}”不是办件编号（12 位数字）或受理编号（16 位数字，旧回执 26 位）。Not a case number (12 digits) or a receipt number (16 digits; 26 characters on older receipts).`);
      return;
    }
    try { current = await api("api/cases/" + encodeURIComponent(CASE_NO.test(asked) ? asked : asked.toUpperCase())); }
    catch (error) {
      if (error.status !== 404 && error.status !== 422) throw error;
      missing(`没有办件 ${asked}，或它不在您管辖的地区。No such case in your regions.`);
      return;
    }
    show(current);
    const draft = operator ? drafts.take("case:" + current.case_no) : null;
    if (draft) {  // typed before the session ended, kept through the login page
      if ([...document.getElementById("new-status").options].some(o => o.value === draft.status)) {
        document.getElementById("new-status").value = draft.status;
      }
      document.getElementById("status-note").value = draft.note || "";
      const message = document.getElementById("status-message");
      message.className = "message small warn";
      message.textContent = "未保存的修改已恢复，请点“保存”。Your unsaved change is back: press Save.";
    }
  }

  function show(c) {
    document.title = `${c.case_no} · 办件详情`;
    document.getElementById("title").replaceChildren(`${c.case_no} · ${c.item_name} `,
      el("span", {class: `status c-${STATUS_COLORS[c.status] || "unknown"}`, id: "case-status"}, c.status));
    facts(document.getElementById("facts"), [
      ["办件编号 Case", c.case_no], ["受理编号 Receipt", c.number ? groupsOfFour(c.number) : c.receipt],
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
    const change = {status: document.getElementById("new-status").value, note: document.getElementById("status-note").value.trim()};
    try {
      const done = await api(`api/cases/${encodeURIComponent(current.case_no)}/status`, change);
      message.className = "message small good";
      message.textContent = `已保存：${done.status}。Saved.`;
      current = {...current, ...done, updated_by: me.username};
      show(current);
    } catch (error) {
      if (error.status === 401) drafts.save("case:" + current.case_no, change);  // the form keeps it too
      message.className = "message small bad";
      message.replaceChildren(...notDone(error, ["保存", "saved"]));
    } finally { button.disabled = false; }
  });

  await load();
})().catch(error => { if (error.status !== 401) showProblem(error); });
