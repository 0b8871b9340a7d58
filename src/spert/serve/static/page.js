// The web page of spert serve: send the text to ui/extract, show the server-rendered result.
// The HTML comes from the same templates as spert render (escaped there); this script only
// wires the form, the threshold control and error messages. No outside resources.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("form"), text = $("text"), count = $("count"), help = $("text-help");
  const threshold = $("threshold"), thresholdValue = $("threshold-value"), noOverlap = $("no-overlap");
  const apiKey = $("api-key"), submit = $("submit"), error = $("error"), status = $("status"), result = $("result");
  const maxChars = Number(text.dataset.maxChars);
  let current = null;  // the AbortController of the request in flight
  let shown = false;   // a result is on the page: the controls re-run it
  let timer = null;

  function updateCount() {
    count.textContent = text.value.length;
    help.classList.toggle("over", text.value.length > maxChars);
  }

  function showThreshold() {
    thresholdValue.textContent = Number(threshold.value).toFixed(2);
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    status.textContent = "";
    result.innerHTML = "";  // no stale result under the message
    shown = false;
  }

  function counted(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  // The text of an entity mark without its type labels.
  function markText(node) {
    let out = "";
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) out += child.data;
      else if (!child.classList.contains("entity-tail")) out += markText(child);
    }
    return out;
  }

  // Marks get keyboard focus and a spoken label with type and score (the hover title shows the score).
  function makeAccessible() {
    for (const mark of result.querySelectorAll("mark.entity")) {
      mark.tabIndex = 0;
      mark.setAttribute("aria-label", markText(mark).trim() + ": " + mark.title);
    }
    for (const list of result.querySelectorAll(".doc")) {
      if (!list.querySelector(".relations") && list.querySelector("mark.entity")) {
        const note = document.createElement("div");
        note.className = "no-relations";
        note.textContent = "No relation at this threshold.";
        list.appendChild(note);
      }
    }
  }

  async function extract() {
    if (current) current.abort();
    const mine = new AbortController();
    current = mine;
    clearTimeout(timer);
    error.hidden = true;
    submit.disabled = true;
    status.textContent = "Extracting\u2026";
    const headers = {"Content-Type": "application/json"};
    if (apiKey && apiKey.value) headers["Authorization"] = "Bearer " + apiKey.value;
    const body = {text: text.value, rel_filter_threshold: Number(threshold.value), no_overlap: noOverlap.checked};
    const started = performance.now();
    try {
      const response = await fetch("ui/extract", {method: "POST", headers: headers, body: JSON.stringify(body),
                                                  signal: mine.signal});
      let data = null;
      try {
        data = await response.json();
      } catch (e) {
        data = null;
      }
      if (!response.ok || !data) {
        showError(data && data.message ? data.message : "The server answered " + response.status + ".");
        return;
      }
      result.innerHTML = data.html;
      makeAccessible();
      shown = true;
      let entities = 0, relations = 0;
      for (const doc of data.documents) {
        entities += doc.entities.length;
        relations += doc.relations.length;
      }
      const ms = Math.round(performance.now() - started);
      status.textContent = counted(entities, "entity", "entities") + " \u00b7 " +
        counted(relations, "relation", "relations") + " \u00b7 " + ms + " ms";
    } catch (e) {
      if (e.name === "AbortError") return;
      showError("Cannot reach the server (" + e.message + ").");
    } finally {
      if (current === mine) {
        submit.disabled = false;
        current = null;
      }
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    extract();
  });
  text.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      extract();
    }
  });
  text.addEventListener("input", updateCount);
  threshold.addEventListener("input", () => {
    showThreshold();
    if (shown) {
      clearTimeout(timer);
      timer = setTimeout(extract, 250);
    }
  });
  noOverlap.addEventListener("change", () => {
    if (shown) extract();
  });
  // The Label Studio backend's training rounds (the section is on the page only with --label-studio):
  // polled every 2 s while a round runs, every 10 s otherwise; text only, never HTML from the server.
  const training = $("training");

  function percent(x) {
    return x === null || x === undefined ? "n/a" : Number(x).toFixed(1);
  }

  function roundLine(r) {
    const running = r.finished === null || r.finished === undefined;
    const parts = ["Project " + r.project + ": " + (running && r.progress ? r.progress.stage : r.stage)];
    if (running && r.progress && r.progress.epochs) parts.push("epoch " + r.progress.epoch + " of " + r.progress.epochs);
    if (r.version) parts.push(r.version);
    if (r.score) {
      const metric = r.score.metric === "rel_plus" ? "REL+" : "NER";
      parts.push(metric + " F1 " + percent(r.score.candidate) + " (serving model " + percent(r.score.serving) +
                 ") on " + counted(r.held_out_records, "held-out sentence", "held-out sentences") + ", " +
                 r.train_records + " trained on");
    }
    if (r.seconds) parts.push(Math.round(r.seconds) + " s");
    if (r.error) parts.push(r.error);
    return parts.join(" \u00b7 ");
  }

  async function pollTraining() {
    let running = false;
    try {
      const headers = {};
      if (apiKey && apiKey.value) headers["Authorization"] = "Bearer " + apiKey.value;
      const response = await fetch("ui/training", {headers: headers});
      if (response.ok) {
        const data = await response.json();
        $("training-serving").textContent = "Serving " + data.serving + (data.pinned ? " (pinned)" : "");
        const items = data.rounds.map((r) => {
          const li = document.createElement("li");
          const done = r.finished !== null && r.finished !== undefined;
          li.className = done ? (r.accepted ? "accepted" : (r.stage === "failed" ? "failed" : "rejected")) : "running";
          li.textContent = roundLine(r);
          running = running || !done;
          return li;
        });
        if (items.length) $("training-rounds").replaceChildren(...items);
      }
    } catch (e) {
      // the server is away for a moment: try again at the next poll
    }
    setTimeout(pollTraining, running ? 2000 : 10000);
  }

  updateCount();
  showThreshold();
  if (training) pollTraining();
})();
