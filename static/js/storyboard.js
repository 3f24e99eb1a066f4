// The storyboard's niceties. Without this script every part still works: the arrow buttons move a
// shot, the timeline's marks are links to the shot cards, a take's thumbnail opens its clip.
//  - Drag a card onto another to move it there (the form sends the order the user saw, so a drop
//    made on an older order is refused rather than landing somewhere unseen).
//  - A mark on the film's timeline also seeks the film to the start of that shot.
//  - A take's thumbnail previews the take in the card's player; "Use this take" chooses it.
(function () {
  "use strict";

  // --- drag and drop ---------------------------------------------------------------------------
  var board = document.getElementById("storyboard");
  var form = document.getElementById("shot-actions");
  var status = document.querySelector("[data-move-status]");
  if (board && form) {
    var items = Array.prototype.slice.call(board.querySelectorAll(".storyboard-item[data-move-url]"));
    var dragged = null;
    items.forEach(function (item) {
      if (items.length < 2) return;
      item.draggable = true;
      var handle = item.querySelector("[data-drag-handle]");
      if (handle) handle.hidden = false;
      item.addEventListener("dragstart", function (event) {
        // Dragging from inside a video, a form field or a link is not a move.
        if (event.target.closest && event.target.closest("video, input, textarea, select, a, button") && event.target !== item) {
          event.preventDefault();
          return;
        }
        dragged = item;
        item.classList.add("is-dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", item.dataset.shot);
        if (status) status.textContent = "Moving shot " + (items.indexOf(item) + 1) + ". Drop it on another shot.";
      });
      item.addEventListener("dragend", function () {
        item.classList.remove("is-dragging");
        items.forEach(function (i) { i.classList.remove("is-drop-target"); });
        dragged = null;
      });
      item.addEventListener("dragover", function (event) {
        if (!dragged || dragged === item) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        item.classList.add("is-drop-target");
      });
      item.addEventListener("dragleave", function () { item.classList.remove("is-drop-target"); });
      item.addEventListener("drop", function (event) {
        if (!dragged || dragged === item) return;
        event.preventDefault();
        var position = items.indexOf(item) + 1;
        if (status) status.textContent = "Moving the shot to place " + position + ".";
        place(dragged, position);
      });
    });
  }

  function place(item, position) {
    form.action = item.dataset.moveUrl;
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = "position";
    field.value = String(position);
    form.appendChild(field);
    var order = form.querySelector("[data-order-field]");
    if (order && board.dataset.order) order.value = board.dataset.order;
    form.submit();
  }

  // --- the film's timeline -----------------------------------------------------------------------
  function filmPlayer() {
    return document.getElementById("version-player") || document.getElementById("film-player");
  }
  var marks = Array.prototype.slice.call(document.querySelectorAll(".timeline [data-seek]"));
  marks.forEach(function (mark) {
    mark.addEventListener("click", function () {
      var player = filmPlayer();
      if (player) player.currentTime = parseFloat(mark.dataset.seek) + 0.01;
      var card = document.querySelector(mark.getAttribute("href"));
      if (card) {
        card.classList.add("is-flash");
        window.setTimeout(function () { card.classList.remove("is-flash"); }, 1200);
      }
    });
  });
  var player = filmPlayer();
  if (player && marks.length) {
    player.addEventListener("timeupdate", function () {
      var current = null;
      marks.forEach(function (mark) {
        if (player.currentTime + 0.01 >= parseFloat(mark.dataset.seek)) current = mark;
      });
      marks.forEach(function (mark) {
        mark.classList.toggle("is-current", mark === current);
        if (mark === current) mark.setAttribute("aria-current", "true");
        else mark.removeAttribute("aria-current");
      });
    });
  }

  // --- a take's thumbnail previews it in the card's player --------------------------------------
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-preview]");
    if (!link) return;
    var strip = link.closest(".take-strip");
    var video = strip && strip.querySelector("[data-card-player]");
    if (!video) return;
    event.preventDefault();
    video.src = link.dataset.preview;
    if (link.dataset.previewPoster) video.poster = link.dataset.previewPoster;
    strip.querySelectorAll(".take-thumb").forEach(function (t) { t.classList.remove("is-previewing"); });
    link.closest(".take").classList.add("is-previewing");
    video.play().catch(function () {});
  });
})();
