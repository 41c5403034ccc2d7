// The desk's clock, in a worker: a background tab's own timers are slowed by the browser (after a few minutes
// to once a minute), a worker's are not, so the desk keeps asking every few seconds and a new request still
// chimes while the operator works in another tab. It only says "now"; the page does the asking.
"use strict";

let timer = null;
onmessage = event => {
  clearInterval(timer);
  const ms = Number(event.data) || 2000;
  timer = setInterval(() => postMessage("tick"), ms);
};
