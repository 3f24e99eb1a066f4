// Tells the user when a long job ends while its page is open, and tells the studio the page is
// being looked at.
//
// On a sequence page (body[data-seen-url]) it reports the look at once and every half minute while
// the page is shown: client feedback seen there stops waiting on the dashboard, and a run that ends
// while someone looks is not mailed (generation/notifications.py). While the run goes on, a button
// offers a browser notification; permission is asked only when it is pressed. When the shared
// poller (poll.js) marks the live progress final, the notification says how the run ended.
(function () {
  "use strict";
  var seenUrl = document.body.dataset.seenUrl;
  var root = document.querySelector("#sequence-progress[data-poll-url]");
  var LOOK_EVERY = 30000;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function reportLook() {
    if (document.hidden) return;
    fetch(seenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
    }).catch(function () {});
  }

  if (seenUrl) {
    reportLook();
    window.setInterval(reportLook, LOOK_EVERY);
    document.addEventListener("visibilitychange", reportLook);
  }

  if (!root || root.dataset.final === "true" || !("Notification" in window)) return;

  function offer() {
    if (Notification.permission !== "default") return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn-secondary btn-small";
    button.textContent = "Notify me when it finishes";
    var hint = document.createElement("p");
    hint.className = "small";
    hint.appendChild(button);
    root.insertAdjacentElement("beforebegin", hint);
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function (answer) {
        hint.textContent =
          answer === "granted"
            ? "You will be notified here when it finishes."
            : "Notifications are off for this site; you will get a mail if the page is closed.";
      });
    });
  }

  function outcome() {
    var status = root.querySelector('[data-poll-key="status"]');
    return status ? status.textContent.replace(/\s+/g, " ").trim() : "";
  }

  var observer = new MutationObserver(function () {
    if (root.dataset.final !== "true") return;
    observer.disconnect();
    if (Notification.permission !== "granted") return;
    var title = document.querySelector("h1");
    new Notification((title ? title.textContent.trim() + ": " : "") + "finished", {
      body: outcome(),
      tag: "sequence-" + seenUrl,
    });
  });
  observer.observe(root, { attributes: true, attributeFilter: ["data-final"] });
  offer();
})();
