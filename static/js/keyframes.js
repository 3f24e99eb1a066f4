// Keyframes made from reference images. Without this script everything still works: the form is
// checked on the server, and the page shows the images' state when it is loaded.
// 1. The keyframe form: the "cite in the prompt" hints follow the chosen images and their tags, and
//    a hint inserts its @tag into the prompt.
// 2. The sequence page: while keyframe images are being made, their panels are refreshed every few
//    seconds from the server-rendered fragment; once none is being made the page reloads once, so
//    that the estimate and "Generate" are current.
(function () {
  "use strict";

  document.querySelectorAll("[data-keyframe-form]").forEach(function (form) {
    var hints = form.querySelector("[data-tag-hints]");
    var empty = form.querySelector("[data-no-tags]");
    var prompt = form.querySelector("textarea");
    if (!hints || !prompt) return;

    function chosenTags() {
      var tags = [];
      form.querySelectorAll("[data-reference-row]").forEach(function (row) {
        var use = row.querySelector("input[type=checkbox]");
        var tag = row.querySelector("input[type=text]");
        if (use && use.checked && tag && tag.value.trim()) tags.push(tag.value.trim());
      });
      return tags;
    }

    var shown = null;

    function render() {
      var tags = chosenTags();
      // Rebuilt only when the tags change: a hint pressed while it is replaced would lose its click.
      if (shown === tags.join(" ")) return;
      shown = tags.join(" ");
      hints.querySelectorAll("[data-cite]").forEach(function (b) { b.remove(); });
      tags.forEach(function (tag) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "btn-secondary btn-small";
        button.dataset.cite = tag;
        button.textContent = "@" + tag;
        hints.insertBefore(button, empty);
        hints.insertBefore(document.createTextNode(" "), empty);
      });
      if (empty) empty.hidden = tags.length > 0;
    }

    hints.addEventListener("click", function (event) {
      var button = event.target.closest("[data-cite]");
      if (!button) return;
      var text = "@" + button.dataset.cite;
      var start = prompt.selectionStart, end = prompt.selectionEnd;
      var before = prompt.value.slice(0, start), after = prompt.value.slice(end);
      if (before && !/\s$/.test(before)) text = " " + text;
      if (!/^\s/.test(after)) text += " ";
      prompt.value = before + text + after;
      prompt.focus();
      prompt.selectionStart = prompt.selectionEnd = before.length + text.length;
    });
    form.querySelectorAll("[data-reference-row] input").forEach(function (input) {
      input.addEventListener("input", render);
      input.addEventListener("change", render);
    });
    render();
  });

  var root = document.querySelector("[data-keyframe-poll-url]");
  if (!root || root.dataset.final === "true") return;
  var url = root.dataset.keyframePollUrl;
  var INTERVAL = 3000;

  // CSRF tokens are masked differently in every response: ignore them when comparing.
  function signature(el) {
    var copy = el.cloneNode(true);
    copy.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (i) {
      i.removeAttribute("value");
    });
    return copy.outerHTML;
  }

  function schedule() {
    window.setTimeout(tick, INTERVAL);
  }

  function tick() {
    if (document.hidden) return schedule();
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (response.status === 403 || response.status === 404) return null;
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("keyframe-progress");
        if (!fresh) return schedule();
        fresh.querySelectorAll("[data-keyframe-panel]").forEach(function (panel) {
          var current = document.getElementById(panel.id);
          if (current && signature(current) !== signature(panel)) {
            current.replaceWith(document.importNode(panel, true));
          }
        });
        if (fresh.dataset.final === "true") {
          window.location.reload();
          return;
        }
        schedule();
      })
      .catch(schedule);
  }

  schedule();
})();
