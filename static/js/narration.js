// Keeps the "Narration and 4K master" section of a sequence page up to date without a reload.
// The server renders the changing part of the section (projects/_narration_progress.html); while a
// narration or master part is on its way this asks for it every few seconds and swaps in the parts
// that changed, leaving a playing narration alone and the script form untouched. It stops once
// nothing is on its way. Without this script a reload shows the same state.
(function () {
  "use strict";
  var root = document.getElementById("narration-progress");
  if (!root || root.dataset.final === "true" || !window.fetch) return;
  var url = root.dataset.narrationPollUrl;
  var INTERVAL = 3000;

  function isPlaying(el) {
    return Array.prototype.some.call(el.querySelectorAll("audio, video"), function (media) {
      return !media.paused && !media.ended;
    });
  }

  // CSRF tokens are masked differently in every response: ignore them when comparing.
  function signature(el) {
    var copy = el.cloneNode(true);
    copy.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (input) {
      input.removeAttribute("value");
    });
    return copy.outerHTML;
  }

  function keys(el) {
    return Array.prototype.map.call(el.querySelectorAll("[data-narration-key]"), function (k) {
      return k.dataset.narrationKey;
    }).join(",");
  }

  // True once the page shows what `fresh` shows.
  function swap(fresh) {
    if (keys(fresh) !== keys(root)) {
      if (isPlaying(root)) return false;
      root.innerHTML = fresh.innerHTML;
      return true;
    }
    var done = true;
    fresh.querySelectorAll("[data-narration-key]").forEach(function (el) {
      var current = root.querySelector('[data-narration-key="' + el.dataset.narrationKey + '"]');
      if (!current || signature(current) === signature(el)) return;
      if (isPlaying(current)) {
        done = false;
        return;
      }
      current.replaceWith(document.importNode(el, true));
    });
    return done;
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
        var fresh = doc.getElementById("narration-progress");
        if (!fresh) return schedule();
        var swapped = swap(fresh);
        if (fresh.dataset.final === "true" && swapped) {
          root.dataset.final = "true";
          return;
        }
        schedule();
      })
      .catch(schedule);
  }

  schedule();
})();
