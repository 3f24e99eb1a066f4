// Two takes (or two film versions) side by side: one set of buttons plays, pauses and rewinds both,
// and seeking or playing one player keeps the other with it. Without this script each plays alone.
(function () {
  "use strict";
  var players = Array.prototype.slice.call(document.querySelectorAll("[data-compare-player]"));
  var controls = document.querySelector("[data-sync-controls]");
  if (players.length !== 2 || !controls) return;
  controls.hidden = false;
  var syncing = false;

  function others(player) {
    return players.filter(function (p) { return p !== player; });
  }

  function follow(source, action) {
    if (syncing) return;
    syncing = true;
    others(source).forEach(action);
    window.setTimeout(function () { syncing = false; }, 0);
  }

  players.forEach(function (player) {
    player.addEventListener("play", function () {
      follow(player, function (p) { p.currentTime = Math.min(player.currentTime, p.duration || player.currentTime); p.play().catch(function () {}); });
    });
    player.addEventListener("pause", function () {
      follow(player, function (p) { p.pause(); });
    });
    player.addEventListener("seeked", function () {
      follow(player, function (p) { if (Math.abs(p.currentTime - player.currentTime) > 0.1) p.currentTime = player.currentTime; });
    });
  });

  controls.addEventListener("click", function (event) {
    var button = event.target.closest("[data-sync]");
    if (!button) return;
    var what = button.dataset.sync;
    syncing = true;
    players.forEach(function (p) {
      if (what === "play") p.play().catch(function () {});
      else if (what === "pause") p.pause();
      else { p.pause(); p.currentTime = 0; }
    });
    window.setTimeout(function () { syncing = false; }, 0);
  });
})();
