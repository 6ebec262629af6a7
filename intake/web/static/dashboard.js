// Progressive enhancement for the dashboard; every page works as plain HTML without it.
// - Live: the queue's state is fetched every few seconds (from a worker, so it keeps running in a
//   background tab); the tab title counts emergencies that need a person, a new one (or a new
//   message on one) raises a desktop notification and an optional sound, and the queue's rows
//   refresh. Notifications name the reference only, never what anyone wrote.
// - Keyboard shortcuts, with a "?" help sheet.
(function () {
  "use strict";
  var POLL_MS = 5000;
  var PREF = "intake-alerts";
  var body = document.body;
  var stateUrl = body.getAttribute("data-state");
  var baseTitle = document.title;
  var seen = null; // emergency markers already known: reference@time
  var liveAlert = document.getElementById("live-alert");
  var toggle = document.getElementById("alerts-toggle");
  var audio = null;

  function alertsOn() { return window.localStorage && localStorage.getItem(PREF) === "on"; }

  function showToggle() {
    if (!toggle) { return; }
    var on = alertsOn();
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? "Desktop alerts and sound are on (turn off)" : "Turn on desktop alerts and sound";
  }

  if (toggle) {
    showToggle();
    toggle.addEventListener("click", function () {
      if (alertsOn()) { localStorage.setItem(PREF, "off"); showToggle(); return; }
      localStorage.setItem(PREF, "on");
      showToggle();
      beep(); // a user gesture: lets the browser play later sounds
      if (window.Notification && Notification.permission === "default") {
        Notification.requestPermission();
      }
    });
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      audio = audio || new Context();
      var now = audio.currentTime;
      [0, 0.35, 0.7].forEach(function (offset) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.2, now + offset);
        gain.gain.exponentialRampToValueAtTime(0.001, now + offset + 0.25);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(now + offset); osc.stop(now + offset + 0.3);
      });
    } catch (e) { /* no sound available */ }
  }

  function notify(fresh) {
    if (!alertsOn()) { return; }
    beep();
    if (!window.Notification || Notification.permission !== "granted") { return; }
    fresh.forEach(function (item) {
      var text = item.new_message ? "New message on emergency referral " + item.reference
        : "New emergency referral " + item.reference;
      try {
        var n = new Notification("Intake: " + text, { tag: item.reference + item.marker, requireInteraction: true });
        n.onclick = function () { window.focus(); window.location.href = "/referrals/" + item.reference; };
      } catch (e) { /* some browsers only notify from a service worker */ }
    });
  }

  function apply(state) {
    var markers = state.emergencies.map(function (e) { return e.reference + "@" + e.marker; });
    var fresh = seen === null ? [] : state.emergencies.filter(function (e) {
      return seen.indexOf(e.reference + "@" + e.marker) === -1;
    });
    seen = markers;
    var count = state.emergencies.length;
    document.title = (count ? "(" + count + ") " : "") + baseTitle;
    if (liveAlert) {
      if (count) {
        liveAlert.hidden = false;
        liveAlert.innerHTML = "";
        liveAlert.appendChild(document.createTextNode(
          count + (count === 1 ? " emergency needs" : " emergencies need") + " a person now: "));
        state.emergencies.forEach(function (e, i) {
          var a = document.createElement("a");
          a.href = "/referrals/" + e.reference;
          a.textContent = e.reference + (e.new_message ? " (new message)" : "");
          if (i) { liveAlert.appendChild(document.createTextNode(", ")); }
          liveAlert.appendChild(a);
        });
      } else {
        liveAlert.hidden = true;
        liveAlert.textContent = "";
      }
    }
    var notices = document.getElementById("notice-count");
    if (notices) { notices.textContent = state.notices ? String(state.notices) : ""; }
    if (fresh.length) { notify(fresh); }
    refreshRows();
  }

  // -- the queue's rows ----------------------------------------------------------------------
  var table = document.querySelector("table[data-poll]");
  var rows = document.getElementById("queue-rows");
  var queueStatus = document.getElementById("queue-status");

  function refs(root) {
    return Array.prototype.map.call(root.querySelectorAll("tr[data-reference]"), function (tr) {
      return tr.getAttribute("data-reference");
    });
  }

  function refreshRows() {
    if (!table || !rows) { return; }
    fetch(table.getAttribute("data-poll"), {
      credentials: "same-origin", headers: { "X-Requested-With": "fetch" }, cache: "no-store"
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (!html) { return; }
      var holder = document.createElement("tbody");
      holder.innerHTML = html;
      if (holder.innerHTML === rows.innerHTML) { return; }
      var before = refs(rows);
      var fresh = refs(holder).filter(function (r) { return before.indexOf(r) === -1; });
      var checked = Array.prototype.map.call(rows.querySelectorAll("input[name=ref]:checked"), function (c) { return c.value; });
      var focused = document.activeElement && rows.contains(document.activeElement)
        ? document.activeElement.getAttribute("href") || document.activeElement.id : null;
      rows.innerHTML = holder.innerHTML;
      checked.forEach(function (ref) {
        var box = rows.querySelector('input[name=ref][value="' + ref + '"]');
        if (box) { box.checked = true; }
      });
      fresh.forEach(function (r) {
        var row = rows.querySelector('tr[data-reference="' + r + '"]');
        if (row) { row.classList.add("is-new"); }
      });
      if (focused) {
        var again = rows.querySelector('a[href="' + focused + '"]') || document.getElementById(focused);
        if (again) { again.focus(); }
      }
      var countsRow = rows.querySelector("tr[data-counts]");
      var counts = document.getElementById("queue-count");
      if (countsRow && counts) { counts.textContent = countsRow.getAttribute("data-counts"); }
      if (fresh.length && queueStatus) {
        queueStatus.textContent = fresh.length + " new referral" + (fresh.length === 1 ? "" : "s") + " in the queue.";
      }
    }).catch(function () { /* try again next time */ });
  }

  function poll() {
    fetch(stateUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) { apply(s); } })
      .catch(function () {});
  }

  if (stateUrl && window.fetch) {
    var worker = null;
    try { worker = window.Worker ? new Worker("/static/poll-worker.js") : null; } catch (e) { worker = null; }
    if (worker) {
      worker.onmessage = function (event) {
        if (event.data.signedOut) { window.location.reload(); return; }
        if (event.data.state) { apply(event.data.state); }
      };
      worker.postMessage({ url: stateUrl, every: POLL_MS });
    } else {
      poll();
      window.setInterval(poll, POLL_MS);
    }
  }

  // -- keyboard shortcuts ----------------------------------------------------------------------
  var help = document.getElementById("shortcuts");
  var helpOpen = document.getElementById("shortcuts-open");
  function openHelp() { if (help && !help.open) { help.showModal(); } }
  if (helpOpen) { helpOpen.addEventListener("click", openHelp); }
  var pendingG = false;

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function rowLinks() { return rows ? Array.prototype.slice.call(rows.querySelectorAll("tr[data-reference] th a")) : []; }

  function moveRow(step) {
    var links = rowLinks();
    if (!links.length) { return; }
    var current = links.indexOf(document.activeElement);
    var next = current === -1 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, current + step));
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
  }

  function press(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (help && help.open) { return; }
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "q") { window.location.href = "/"; event.preventDefault(); }
      if (key === "m") { window.location.href = "/?mine=1"; event.preventDefault(); }
      return;
    }
    if (key === "?") { openHelp(); event.preventDefault(); return; }
    if (key === "g") { pendingG = true; window.setTimeout(function () { pendingG = false; }, 1500); return; }
    if (key === "/") {
      var search = document.getElementById("q");
      if (search) { search.focus(); search.select(); event.preventDefault(); }
      return;
    }
    if (key === "j") { moveRow(1); event.preventDefault(); return; }
    if (key === "k") { moveRow(-1); event.preventDefault(); return; }
    if (key === "x" && rows && rows.contains(document.activeElement)) {
      var tr = document.activeElement.closest("tr");
      var box = tr && tr.querySelector("input[name=ref]");
      if (box) { box.checked = !box.checked; event.preventDefault(); }
      return;
    }
    if (key === "c" && press('[data-shortcut="c"]')) { event.preventDefault(); return; }
    if (key === "t" && press('[data-shortcut="t"]')) { event.preventDefault(); return; }
    if (key === "r") {
      var reply = document.getElementById("reply-text");
      if (reply && !reply.disabled) { reply.focus(); event.preventDefault(); }
      return;
    }
    if (key === "n") {
      var note = document.getElementById("note");
      if (note) { note.focus(); event.preventDefault(); }
    }
  });
})();
