// Fetches the queue's state on a steady beat from a dedicated worker: browsers slow down or stop
// timers in a background tab, but not in a worker, so an emergency still raises the title count,
// the notification and the sound while the advocate is in another tab.
"use strict";
var url = null;
var every = 5000;
function tick() {
  if (!url) { return; }
  fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" }, cache: "no-store" })
    .then(function (response) {
      if (response.status === 401) { self.postMessage({ signedOut: true }); return null; }
      return response.ok ? response.json() : null;
    })
    .then(function (state) { if (state) { self.postMessage({ state: state }); } })
    .catch(function () { /* offline for a moment: the next beat tries again */ });
}
self.onmessage = function (event) {
  url = event.data.url;
  every = event.data.every || every;
  tick();
  setInterval(tick, every);
};
