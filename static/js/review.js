// Review of a film: comments pinned to the player's time, and timecodes that seek the player.
// On the share page, the comment form's time field follows the player until the client types in
// it, and takes the player's current time when the form is sent. On the share page and the
// sequence page, a timecode link seeks the player there (switching it to the comment's version
// first); without JavaScript the link opens the film at that time. "Play version N" loads that
// version into the sequence page's player.
(function () {
  "use strict";

  function timecode(seconds) {
    var whole = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var ss = (s < 10 ? "0" : "") + s;
    if (h) return h + ":" + (m < 10 ? "0" : "") + m + ":" + ss;
    return m + ":" + ss;
  }

  function playerFor(el) {
    var id = el.dataset.player;
    return id ? document.getElementById(id) : document.querySelector("[data-review-player]");
  }

  function sameFilm(player, url) {
    if (!url) return true;
    var current = player.currentSrc || player.src;
    return new URL(url, document.baseURI).href === new URL(current, document.baseURI).href;
  }

  function load(player, url, poster) {
    if (sameFilm(player, url)) return;
    player.src = url;
    if (poster) player.poster = poster;
    else player.removeAttribute("poster");
    player.load();
  }

  function seek(player, seconds) {
    function go() {
      player.currentTime = seconds;
      var playing = player.play();
      if (playing && playing.catch) playing.catch(function () {});
    }
    if (player.readyState >= 1) go();
    else player.addEventListener("loadedmetadata", go, { once: true });
    player.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  function label(player, number) {
    var section = player.closest("section");
    var text = section && section.querySelector("[data-version-label]");
    if (text && number) text.textContent = "Playing version " + number;
    if (number) player.dataset.version = number;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-seek]");
    if (link) {
      var player = playerFor(link);
      if (!player) return;
      event.preventDefault();
      if (link.dataset.film) {
        var row = link.closest("[id^=version-]");
        var playButton = row && row.querySelector("[data-play-version]");
        load(player, link.dataset.film, playButton ? playButton.dataset.poster : "");
        if (playButton) label(player, playButton.dataset.playVersion);
      }
      seek(player, parseFloat(link.dataset.seek) || 0);
      return;
    }
    var play = event.target.closest("a[data-play-version]");
    if (play) {
      var target = playerFor(play);
      if (!target) return;
      event.preventDefault();
      load(target, play.dataset.film, play.dataset.poster);
      label(target, play.dataset.playVersion);
      seek(target, 0);
    }
  });

  var form = document.querySelector("form[data-review-comment]");
  var player = document.querySelector("[data-review-player]");
  if (!form || !player) return;
  var at = form.querySelector("[name=at]");
  if (!at) return;
  var typed = at.value !== "";
  at.addEventListener("input", function () {
    typed = at.value !== "";
  });
  function follow() {
    if (!typed) at.value = timecode(player.currentTime);
  }
  ["timeupdate", "seeked", "pause"].forEach(function (name) {
    player.addEventListener(name, follow);
  });
  form.addEventListener("submit", follow);
})();
