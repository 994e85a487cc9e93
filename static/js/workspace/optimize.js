/* Optimise panel of the map workspace: start an optimiser job, follow it, then open the new scenario. */
(function () {
  "use strict";
  var form = document.getElementById("ws-optimize-form");
  var configNode = document.getElementById("workspace-config");
  if (!form || !configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var status = document.getElementById("ws-optimize-status");
  var bar = document.getElementById("ws-optimize-progress");

  function say(text) { status.textContent = text; }

  function follow(jobUrl, source) {
    fetch(jobUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (job) {
      bar.hidden = false;
      bar.value = job.progress || 0;
      if (job.status === "succeeded") {
        var created = job.result.scenario;
        var s = job.result.summary || {};
        source = job.result.source_scenario || source;
        say("Done: largest deviation " + (100 * s.max_rel_dev).toFixed(1) + "%, " +
            (s.contiguous ? "contiguous" : "NOT contiguous") + ". Opening the new scenario…");
        window.location.search = "?scenario=" + created + "&compare=" + source;
      } else if (job.status === "failed") {
        say("The run failed: " + (job.message || "see the job"));
        form.querySelector("button").disabled = false;
        document.querySelectorAll("[data-adopt-point]").forEach(function (b) { b.disabled = false; });
      } else {
        say((job.message || job.status) + " (" + Math.round(job.progress || 0) + "%)");
        window.setTimeout(function () { follow(jobUrl, source); }, 1500);
      }
    }).catch(function () { window.setTimeout(function () { follow(jobUrl, source); }, 3000); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var source = config.scenario;
    if (!source) { say("Choose a scenario first."); return; }
    var balance = {};
    form.querySelectorAll("input[name=measure]:checked").forEach(function (box) {
      var tolerance = parseFloat(form.elements["tolerance-" + box.value].value) / 100;
      balance[box.value] = {weight: 1, tolerance: tolerance};
    });
    var body = {mode: form.elements.mode.value, compact: form.elements.compact.checked,
                relocate: form.elements.relocate.checked, balance: balance,
                time_limit: parseFloat(form.elements.time_limit.value) || 60};
    if (form.elements.k.value) { body.k = parseInt(form.elements.k.value, 10); }
    form.querySelector("button").disabled = true;
    say("Queueing…");
    fetch(config.optimizeUrl.replace("{id}", source), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": config.csrfToken,
                "Idempotency-Key": "ws-optimize-" + source + "-" + Date.now()},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return {ok: r.ok, data: data}; });
    }).then(function (answer) {
      if (!answer.ok) {
        var d = answer.data;
        say("Refused: " + (d.message || d.detail ||
            JSON.stringify(d)));
        form.querySelector("button").disabled = false;
        return;
      }
      follow(config.jobUrl.replace("{id}", answer.data.job), source);
    });
  });

  // a realignment's trade-off point made a scenario of its own: the same job follow, then the new scenario opens
  document.querySelectorAll("[data-adopt-point]").forEach(function (button) {
    button.addEventListener("click", function () {
      var run = config.scenario;
      var point = button.getAttribute("data-adopt-point");
      document.querySelectorAll("[data-adopt-point]").forEach(function (b) { b.disabled = true; });
      say("Queueing…");
      fetch(config.tradeoffAdoptUrl.replace("{id}", run).replace("{point}", point), {
        method: "POST", credentials: "same-origin",
        headers: {"X-CSRFToken": config.csrfToken, "Idempotency-Key": "ws-adopt-" + point + "-" + Date.now()}
      }).then(function (r) {
        return r.json().then(function (data) { return {ok: r.ok, data: data}; });
      }).then(function (answer) {
        if (!answer.ok) {
          var d = answer.data;
          say("Refused: " + (d.message || d.detail || JSON.stringify(d)));
          document.querySelectorAll("[data-adopt-point]").forEach(function (b) { b.disabled = false; });
          return;
        }
        follow(config.jobUrl.replace("{id}", answer.data.job), run);
      });
    });
  });
}());
