// Store tab: while a sync runs (or was just requested), poll the status endpoint and show the
// live phase and counts; when a new run has finished, reload to show its results.
(function () {
  "use strict";
  var POLL_MS = 1500;
  var GIVE_UP_MS = 120000; // a requested sync that never starts stops being polled

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = String(text);
    return td;
  }

  function renderCounts(table, streams, contacts) {
    var body = table.tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    streams.concat(contacts ? [contacts] : []).forEach(function (stream) {
      var row = document.createElement("tr");
      var name = document.createElement("th");
      name.scope = "row";
      name.textContent = stream.label ||
        stream.name.replace(/_/g, " ").replace(/^./, function (c) { return c.toUpperCase(); });
      row.appendChild(name);
      ["read", "sent", "unchanged", "excluded", "failed"].forEach(function (column) {
        row.appendChild(cell(stream[column]));
      });
      row.dataset.stream = stream.name;
      if (stream === contacts) row.className = "contacts-row";
      body.appendChild(row);
    });
  }

  // The health panel's sentence, next sync and numbers per area, as the status endpoint says.
  function renderHealth(health) {
    var panel = document.getElementById("health");
    if (!health || !panel) return;
    var sentence = document.getElementById("health-sentence");
    if (sentence && sentence.textContent !== health.sentence) sentence.textContent = health.sentence;
    var next = document.getElementById("next-sync");
    if (next && health.next_sync) next.textContent = health.next_sync.text;
    panel.className = panel.className.replace(/\bhealth-(ok|waiting|attention|paused|off)\b/, "health-" + health.state);
    (health.areas || []).forEach(function (area) {
      var row = panel.querySelector('tr[data-area="' + area.key + '"]');
      if (!row) return;
      ["in_sync", "waiting", "excluded", "attention"].forEach(function (key) {
        var count = row.querySelector('td[data-count="' + key + '"] .count');
        if (count && count.firstChild) count.firstChild.nodeValue = String(area[key]);
      });
    });
  }

  function start() {
    var live = document.getElementById("sync-live");
    if (!live || !live.dataset.poll) return;
    var startedAt = Date.now();
    var sawRun = !live.hidden;

    function poll() {
      fetch(live.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (status) {
          var lastId = status.last_run ? String(status.last_run.id) : "";
          if (status.running) {
            sawRun = true;
            live.hidden = false;
            var waiting = document.getElementById("sync-waiting");
            if (waiting) waiting.hidden = true;
            document.getElementById("sync-phase").textContent = status.running.phase || "starting";
            renderCounts(document.getElementById("live-counts"), status.running.streams, status.running.contacts);
            renderHealth(status.health);
          } else if (lastId !== live.dataset.lastRunId || sawRun) {
            window.location.replace(live.dataset.storeUrl); // show the finished run
            return;
          } else if (Date.now() - startedAt > GIVE_UP_MS) {
            var note = document.getElementById("sync-waiting");
            if (note) note.textContent = "The sync has not started yet. It will run as soon as the scheduler is free; reload this page to check.";
            return;
          }
          window.setTimeout(poll, POLL_MS);
        })
        .catch(function () { window.setTimeout(poll, POLL_MS * 4); });
    }
    window.setTimeout(poll, POLL_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
