// Progressive enhancement for the queue: fetch the table body every few seconds so new referrals
// appear without a reload, and tell screen-reader users when the queue changed. Without
// JavaScript the page works as plain HTML (reload to refresh).
(function () {
  "use strict";
  var POLL_MS = 5000;
  var table = document.querySelector("table[data-poll]");
  if (!table || !window.fetch) { return; }
  var body = document.getElementById("queue-rows");
  var status = document.getElementById("queue-status");

  function refs(root) {
    return Array.prototype.map.call(root.querySelectorAll("tr[data-reference]"), function (tr) {
      return tr.getAttribute("data-reference");
    });
  }

  function refresh() {
    if (document.hidden) { return; }
    fetch(table.getAttribute("data-poll"), {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.status === 401) { window.location.reload(); return null; }
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html === null || html === undefined) { return; }
      var before = refs(body);
      var holder = document.createElement("tbody");
      holder.innerHTML = html;
      if (holder.innerHTML === body.innerHTML) { return; }
      var fresh = refs(holder).filter(function (r) { return before.indexOf(r) === -1; });
      // keep focus where it was if the focused link is still in the table
      var focused = document.activeElement && body.contains(document.activeElement)
        ? document.activeElement.getAttribute("href") : null;
      body.innerHTML = holder.innerHTML;
      fresh.forEach(function (r) {
        var row = body.querySelector('tr[data-reference="' + r + '"]');
        if (row) { row.classList.add("is-new"); }
      });
      if (focused) {
        var again = body.querySelector('a[href="' + focused + '"]');
        if (again) { again.focus(); }
      }
      var count = document.getElementById("queue-count");
      var n = refs(body).length;
      if (count) { count.textContent = n + " referral" + (n === 1 ? "" : "s"); }
      if (fresh.length) {
        status.textContent = fresh.length + " new referral" + (fresh.length === 1 ? "" : "s") + " in the queue.";
      }
    }).catch(function () { /* offline for a moment: try again next time */ });
  }

  window.setInterval(refresh, POLL_MS);
})();
