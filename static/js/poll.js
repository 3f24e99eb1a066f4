// Keeps the generation status and the takes in the storyboard's cards up to date without a reload.
// The server renders the progress fragment (projects/_sequence_progress.html); this asks for it
// every few seconds and swaps in each part (by its data-poll-key) that changed, leaving a playing
// video alone. When parts come or go it reloads the page instead. It stops once the sequence is
// final, then reloads the page once so the rest of it (film, sharing) is current.
(function () {
  "use strict";
  var root = document.querySelector("[data-poll-url]");
  if (!root || root.dataset.final === "true") return;
  var url = root.dataset.pollUrl;
  var INTERVAL = 3000;

  function isPlaying(el) {
    return Array.prototype.some.call(el.querySelectorAll("video"), function (v) {
      return !v.paused && !v.ended;
    });
  }

  // CSRF tokens are masked differently in every response: ignore them when comparing.
  function signature(el) {
    var copy = el.cloneNode(true);
    copy.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (i) {
      i.removeAttribute("value");
    });
    return copy.outerHTML;
  }

  function keys(el) {
    return Array.prototype.map.call(el.querySelectorAll("[data-poll-key]"), function (k) {
      return k.dataset.pollKey;
    }).sort().join(",");
  }

  function swap(fresh) {
    if (keys(fresh) !== keys(root)) {
      // The page's parts sit where the page put them (the takes in their shot cards): a part that
      // comes or goes needs the whole page.
      if (isPlaying(root)) return false;
      window.location.reload();
      return "reload";
    }
    fresh.querySelectorAll("[data-poll-key]").forEach(function (el) {
      var current = root.querySelector('[data-poll-key="' + el.dataset.pollKey + '"]');
      if (current && signature(current) !== signature(el) && !isPlaying(current)) {
        current.replaceWith(document.importNode(el, true));
      }
    });
    return true;
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
        var fresh = doc.getElementById(root.id);
        if (!fresh) return schedule();
        var swapped = swap(fresh);
        if (swapped === "reload") return;
        if (fresh.dataset.final === "true" && swapped) {
          root.dataset.final = "true";
          window.location.reload();
          return;
        }
        schedule();
      })
      .catch(schedule);
  }

  schedule();
})();
