// The review page's behaviour (`replicant export --format review-html`): one pair at a time,
// keys as in the desk (1 full copy, 2 near copy, 3 distinct, 0 clear, arrows to move), a note
// per pair, progress, labels kept in this browser's storage under the page's identity, and
// saved as a file that `replicant label import` merges under the reviewer's name.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("replicant-data").textContent);
  var storeKey = "replicant-review:" + data.page;
  var LABELS = { "1": "full_copy", "2": "near_copy", "3": "distinct" };
  var NAMES = { full_copy: "full copy", near_copy: "near copy", distinct: "distinct" };
  var state = { labels: {}, notes: {}, at: 0 };
  try {
    var saved = JSON.parse(localStorage.getItem(storeKey) || "null");
    if (saved && typeof saved === "object") {
      state.labels = saved.labels || {};
      state.notes = saved.notes || {};
      state.at = Math.min(Math.max(saved.at || 0, 0), data.pairs.length - 1);
    }
  } catch (e) {
    // A damaged entry starts afresh rather than stopping the page.
  }
  var $ = function (id) { return document.getElementById(id); };
  var reviewer = $("reviewer");
  reviewer.value = localStorage.getItem("replicant-reviewer") || "";

  function keep() {
    localStorage.setItem(storeKey, JSON.stringify(state));
  }

  function labelledCount() {
    return Object.keys(state.labels).length;
  }

  function show() {
    var pair = data.pairs[state.at];
    $("generation-image").src = pair.images[0] || "";
    $("training-image").src = pair.images[1] || "";
    $("generation-name").textContent = pair.generation;
    $("training-name").textContent = pair.training;
    $("similarity").textContent = pair.similarity.toFixed(4);
    $("rank").textContent = pair.rank;
    $("prompt").textContent = pair.prompt || "(no prompt)";
    $("position").textContent = (state.at + 1) + " / " + data.pairs.length;
    var mine = state.labels[state.at];
    var label = $("label");
    label.textContent = mine ? NAMES[mine.label] : "not labelled";
    label.className = mine ? "label " + mine.label : "label";
    $("note").value = state.notes[state.at] || "";
    $("progress").textContent = labelledCount() + " of " + data.pairs.length + " labelled";
  }

  function move(by) {
    state.at = Math.min(Math.max(state.at + by, 0), data.pairs.length - 1);
    keep();
    show();
  }

  function setLabel(label) {
    var name = reviewer.value.trim();
    if (!name) {
      $("message").textContent = "Type your name first: the labels are saved under it.";
      reviewer.focus();
      return;
    }
    localStorage.setItem("replicant-reviewer", name);
    $("message").textContent = "";
    if (label) {
      state.labels[state.at] = { label: label, labelled_at: new Date().toISOString() };
    } else {
      delete state.labels[state.at];
    }
    keep();
    show();
    if (label && state.at < data.pairs.length - 1) {
      move(1);
    }
  }

  function saveFile() {
    var name = reviewer.value.trim();
    if (!name) {
      $("message").textContent = "Type your name first: the labels are saved under it.";
      reviewer.focus();
      return;
    }
    var labels = [];
    data.pairs.forEach(function (pair, i) {
      var mine = state.labels[i];
      var note = state.notes[i] || "";
      if (!mine && !note) {
        return;
      }
      labels.push({
        generation: pair.generation,
        training: pair.training,
        generation_hash: pair.generation_hash,
        training_hash: pair.training_hash,
        label: mine ? mine.label : "",
        note: note,
        labelled_at: mine ? mine.labelled_at : ""
      });
    });
    var body = JSON.stringify({
      format: "replicant-review-page-labels",
      version: 1,
      page: data.page,
      project: data.project,
      reviewer: name,
      saved_at: new Date().toISOString(),
      labels: labels
    });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([body], { type: "application/json" }));
    link.download = "replicant-labels-" + name.replace(/[^A-Za-z0-9_.-]/g, "_") + "-" +
      data.page.slice(0, 8) + ".json";
    document.body.appendChild(link);
    link.click();
    link.remove();
    $("message").textContent = "Saved " + labels.length + " labels as " + link.download +
      "; send it back to be imported with `replicant label import`.";
  }

  document.addEventListener("keydown", function (event) {
    var typing = event.target === reviewer || event.target === $("note");
    if (typing) {
      if (event.key === "Escape") {
        event.target.blur();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (LABELS[event.key]) {
      setLabel(LABELS[event.key]);
    } else if (event.key === "0") {
      setLabel(null);
    } else if (event.key === "ArrowRight" || event.key === "ArrowDown") {
      move(1);
    } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
      move(-1);
    } else {
      return;
    }
    event.preventDefault();
  });
  $("note").addEventListener("input", function () {
    var text = $("note").value;
    if (text) {
      state.notes[state.at] = text;
    } else {
      delete state.notes[state.at];
    }
    keep();
  });
  reviewer.addEventListener("change", function () {
    localStorage.setItem("replicant-reviewer", reviewer.value.trim());
  });
  Array.prototype.forEach.call(document.querySelectorAll("button[data-key]"), function (b) {
    b.addEventListener("click", function () {
      var key = b.getAttribute("data-key");
      setLabel(key === "0" ? null : LABELS[key]);
    });
  });
  $("previous").addEventListener("click", function () { move(-1); });
  $("next").addEventListener("click", function () { move(1); });
  $("save").addEventListener("click", saveFile);
  show();
})();
