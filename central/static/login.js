// The login page: a form posting JSON to api/login, errors in plain words, then on to `next` (a page of
// central's only: a relative page name such as "device?id=bj-dc-0001", never another site).
"use strict";

const KNOWN_PAGES = ["", "device", "assists", "usage", "cases", "case", "audit"];

// Where to go after logging in: `next` if it names one of central's pages, relative; the overview otherwise.
function safeNext(next) {
  if (!next || /[\\\s]/.test(next)) return "./";
  const match = /^([a-z]*)(\?[^#]*)?$/.exec(next);
  if (!match || !KNOWN_PAGES.includes(match[1])) return "./";
  const target = new URL(match[1] || "./", location.href);
  if (target.origin !== location.origin) return "./";
  return (match[1] || "./") + (match[2] || "");
}

function say(text) {
  const box = document.getElementById("login-error");
  box.hidden = !text;
  box.textContent = text || "";
}

function minutes(seconds) {
  return Math.max(1, Math.ceil(seconds / 60));
}

async function logIn(event) {
  event.preventDefault();
  const username = document.getElementById("username").value.trim();
  const password = document.getElementById("password").value;
  if (!username || !password) { say("请输入用户名和密码。Enter your user name and password."); return; }
  const button = document.getElementById("submit");
  button.disabled = true;
  say("");
  try {
    const response = await fetch("api/login", {
      method: "POST", credentials: "same-origin", referrerPolicy: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json"},
      body: JSON.stringify({username, password}),
    });
    if (response.ok) {
      location.assign(safeNext(new URLSearchParams(location.search).get("next")));
      return;
    }
    let detail = "";
    try { detail = (await response.json()).error || ""; } catch (error) { detail = ""; }
    if (response.status === 401) {  // central may say how many tries are left: as given
      say(/[\u4e00-\u9fff]/.test(detail) ? detail : "用户名或密码不对，请再试一次。Wrong user name or password: please try again.");
      document.getElementById("password").value = "";
      document.getElementById("password").focus();
    } else if (response.status === 403) {
      say("账号已停用，请联系管理员。This account is disabled: please ask an administrator.");
    } else if (response.status === 429) {
      const wait = Number(response.headers.get("Retry-After")) || 900;
      say(`登录失败次数太多，账号已暂时锁定，请 ${minutes(wait)} 分钟后再试，或请管理员帮助。` +
          `Too many failed logins: the account is locked for ${minutes(wait)} min. Try again later or ask an administrator.`);
    } else {
      say(`现在无法登录（${response.status}）。Central could not log you in now${detail ? ": " + detail : ""}.`);
    }
  } catch (error) {
    say("无法连接中心，请检查网络后再试。Central cannot be reached: check the network and try again.");
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", logIn);
  const asked = new URLSearchParams(location.search);
  const expired = asked.get("reason") === "expired";  // sent here by a page whose session ended
  document.getElementById("login-expired").hidden = !expired;
  document.getElementById("login-next").hidden = expired || !asked.get("next");
});
