// Review of a film without losing one's place. Comments pinned to the player's time: the comment
// form's time field follows the player until someone types in it. Timecode links seek the player
// (switching the sequence page's player to the comment's version first; a comment with a drawing
// pauses on its frame); without JavaScript the link opens the film at that time. Frame stepping and
// a readout of the time in frames (the version's frame rate is on the player). Markers for the
// comments on a timeline under the player. Forms marked data-review-ajax (comments, replies,
// "resolved", decisions) are sent with fetch and the parts of the page they change are replaced
// from the JSON answer, so the video keeps playing where it was; without JavaScript the same forms
// post and the page comes back (post/redirect/get). "Play version N" loads that version into the
// sequence page's player.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function timecode(seconds) {
    var whole = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    if (h) return h + ":" + pad(m) + ":" + pad(s);
    return m + ":" + pad(s);
  }

  function fpsOf(player) { return parseFloat(player.dataset.fps) || 24; }

  // The time of the frame showing: what a comment is pinned to.
  function frameTime(player) {
    var fps = fpsOf(player);
    return Math.round((player.currentTime || 0) * fps) / fps;
  }

  function frameTimecode(player) {
    var fps = fpsOf(player), perSecond = Math.max(Math.round(fps), 1);
    var frames = Math.round((player.currentTime || 0) * fps);
    return timecode(Math.floor(frames / perSecond)) + ":" + pad(frames % perSecond);
  }

  // What the time field says: 0:03 on a whole second, else to the millisecond (parsed back exactly).
  function fieldTime(seconds) {
    var whole = Math.floor(seconds + 1e-6), rest = seconds - whole;
    if (rest < 0.0005) return timecode(whole);
    return timecode(whole) + "." + String(Math.round(rest * 1000)).padStart(3, "0").replace(/0+$/, "");
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

  function seek(player, seconds, pause) {
    function go() {
      player.currentTime = seconds;
      if (pause) { player.pause(); return; }
      var playing = player.play();
      if (playing && playing.catch) playing.catch(function () {});
    }
    if (player.readyState >= 1) go();
    else player.addEventListener("loadedmetadata", go, { once: true });
    player.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  function label(player, number, fps) {
    var section = player.closest("section");
    var text = section && section.querySelector("[data-version-label]");
    if (text && number) text.textContent = "Playing version " + number;
    if (number) player.dataset.version = number;
    if (fps) player.dataset.fps = fps;
    document.dispatchEvent(new CustomEvent("review:updated"));
  }

  // --- markers and the frame readout -----------------------------------------------------------

  function commentsFor(player) {
    var version = player.dataset.version;
    return Array.prototype.filter.call(document.querySelectorAll("[data-comment-at]"), function (el) {
      return !el.dataset.version || el.dataset.version === version;
    });
  }

  function drawMarkers(tools, player) {
    var track = tools.querySelector("[data-markers]");
    if (!track) return;
    track.textContent = "";
    var duration = player.duration;
    if (!duration || !isFinite(duration)) return;
    commentsFor(player).forEach(function (el) {
      var at = parseFloat(el.dataset.commentAt) || 0;
      var marker = document.createElement("button");
      marker.type = "button";
      marker.className = "review-marker" + (el.dataset.drawing ? " has-drawing" : "");
      marker.style.left = Math.min(100, (at / duration) * 100) + "%";
      marker.dataset.seekTo = at;
      marker.dataset.comment = el.dataset.comment;
      marker.setAttribute("aria-label", "Comment by " + (el.dataset.author || "someone") + " at " + timecode(at));
      marker.title = timecode(at);
      track.appendChild(marker);
    });
  }

  function setUpTools(tools) {
    var player = document.getElementById(tools.dataset.player);
    if (!player) return;
    tools.hidden = false;
    var readout = tools.querySelector("[data-frame-readout]");
    function show() { if (readout) readout.textContent = frameTimecode(player); }
    ["timeupdate", "seeked", "loadedmetadata"].forEach(function (name) { player.addEventListener(name, show); });
    player.addEventListener("loadedmetadata", function () { drawMarkers(tools, player); });
    document.addEventListener("review:updated", function () { drawMarkers(tools, player); show(); });
    if (player.readyState >= 1) drawMarkers(tools, player);
    tools.addEventListener("click", function (event) {
      var step = event.target.closest("[data-step]");
      if (step) {
        var fps = fpsOf(player);
        player.pause();
        var frame = Math.round(player.currentTime * fps) + parseInt(step.dataset.step, 10);
        // A hair past the frame's start, so that the browser shows that frame and not the one before.
        player.currentTime = Math.max(0, Math.min(player.duration || Infinity, frame / fps + 0.001));
        return;
      }
      var marker = event.target.closest("[data-seek-to]");
      if (marker) {
        var comment = document.getElementById("comment-" + marker.dataset.comment);
        seek(player, parseFloat(marker.dataset.seekTo) || 0, true);
        if (comment) comment.classList.add("is-current");
      }
    });
  }

  document.querySelectorAll("[data-review-tools]").forEach(setUpTools);

  // --- timecodes, "Play version N" ---------------------------------------------------------------

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
        if (playButton) label(player, playButton.dataset.playVersion, playButton.dataset.fps);
      }
      var thread = link.closest("[data-comment-at]");
      seek(player, parseFloat(link.dataset.seek) || 0, Boolean(thread && thread.dataset.drawing));
      return;
    }
    var play = event.target.closest("a[data-play-version]");
    if (play) {
      var target = playerFor(play);
      if (!target) return;
      event.preventDefault();
      load(target, play.dataset.film, play.dataset.poster);
      label(target, play.dataset.playVersion, play.dataset.fps);
      seek(target, 0);
    }
  });

  // --- the time field follows the player ------------------------------------------------------------

  function follower(form) {
    var player = playerFor(form);
    var at = form.querySelector("[name=at]");
    if (!player || !at) return null;
    var typed = at.value !== "";
    at.addEventListener("input", function () { typed = at.value !== ""; });
    function follow() {
      if (typed) return;
      // The sequence page's forms are per version: only the one of the version playing follows.
      if (form.dataset.version && form.dataset.version !== player.dataset.version) return;
      at.value = fieldTime(frameTime(player));
    }
    ["timeupdate", "seeked", "pause"].forEach(function (name) { player.addEventListener(name, follow); });
    form.addEventListener("review:beforesend", follow);
    form.addEventListener("submit", follow);
    form.addEventListener("review:sent", function () { typed = false; follow(); });
    return follow;
  }

  document.querySelectorAll("form[data-review-comment], form[data-staff-comment]").forEach(follower);

  // --- sending without reloading -------------------------------------------------------------------

  function statusNear(form) {
    var section = form.closest("section") || document;
    return section.querySelector("[data-review-status]") || document.querySelector("[data-review-status]");
  }

  function say(form, text, isError) {
    var status = statusNear(form);
    if (!status) return;
    status.textContent = text || "";
    status.classList.toggle("error", Boolean(isError));
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-review-ajax]");
    if (!form || !window.fetch || !window.FormData) return;
    event.preventDefault();
    if (form.dataset.sending) return;
    form.dataset.sending = "1";
    form.dispatchEvent(new CustomEvent("review:beforesend"));
    var data;
    try { data = new FormData(form, event.submitter); }
    catch (error) {
      data = new FormData(form);
      if (event.submitter && event.submitter.name) data.append(event.submitter.name, event.submitter.value);
    }
    // A button outside the form (`form=` attribute) may name its own action.
    var action = (event.submitter && event.submitter.getAttribute("formaction")) || form.action;
    var buttons = Array.prototype.filter.call(form.elements, function (el) { return el.tagName === "BUTTON"; });
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().catch(function () {
          return { ok: false, error: "Not sent (" + response.status + "). Please try again." };
        });
      })
      .then(function (answer) {
        if (!answer.ok) { say(form, answer.error, true); return; }
        Object.keys(answer.fragments || {}).forEach(function (name) {
          document.querySelectorAll('[data-fragment="' + name + '"]').forEach(function (el) {
            el.innerHTML = answer.fragments[name];
          });
        });
        say(form, answer.message, false);
        if (document.body.contains(form)) {
          Array.prototype.forEach.call(form.elements, function (t) { if (t.tagName === "TEXTAREA") t.value = ""; });
          form.dispatchEvent(new CustomEvent("review:sent"));
        }
        document.dispatchEvent(new CustomEvent("review:updated"));
      })
      .catch(function () { say(form, "Not sent: the connection failed. Please try again.", true); })
      .then(function () {
        delete form.dataset.sending;
        buttons.forEach(function (b) { b.disabled = false; });
      });
  });
})();
