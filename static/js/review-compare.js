// Two film versions playing together, each from its own starting point (where the compared shot
// plays in it: a retake can move it): playing, pausing or seeking one moves the other by as much.
// "Slider" lays the right version over the left one and a slider shows more of one or the other.
// Without this script the two players play alone, side by side.
(function () {
  "use strict";
  var players = Array.prototype.slice.call(document.querySelectorAll("[data-compare-side]"));
  var controls = document.querySelector("[data-compare-controls]");
  if (players.length !== 2 || !controls) return;
  controls.hidden = false;
  var syncing = false;

  function start(p) { return parseFloat(p.dataset.start) || 0; }
  function other(p) { return players[0] === p ? players[1] : players[0]; }

  function follow(source, action) {
    if (syncing) return;
    syncing = true;
    action(other(source));
    window.setTimeout(function () { syncing = false; }, 0);
  }
  function place(source, target) {
    var t = start(target) + (source.currentTime - start(source));
    if (Math.abs(target.currentTime - t) > 0.05) target.currentTime = Math.max(0, t);
  }

  players.forEach(function (p) {
    p.addEventListener("play", function () { follow(p, function (o) { place(p, o); o.play().catch(function () {}); }); });
    p.addEventListener("pause", function () { follow(p, function (o) { o.pause(); place(p, o); }); });
    p.addEventListener("seeked", function () { follow(p, function (o) { place(p, o); }); });
  });

  var sideBySide = document.querySelector("[data-review-compare]");
  var slider = document.querySelector("[data-compare-slider]");
  var stack = slider && slider.querySelector("[data-compare-stack]");
  var split = slider && slider.querySelector("[data-compare-split]");
  var homes = players.map(function (p) { return p.parentNode; });

  function clip() { players[1].style.clipPath = "inset(0 0 0 " + split.value + "%)"; }

  function setMode(isSlider, button) {
    button.setAttribute("aria-pressed", String(isSlider));
    button.textContent = isSlider ? "Side by side" : "Slider";
    slider.hidden = !isSlider;
    if (isSlider) {
      stack.appendChild(players[0]);
      stack.appendChild(players[1]);
      players[1].classList.add("compare-top");
      players[1].controls = false;
      clip();
    } else {
      players.forEach(function (p, i) { homes[i].appendChild(p); });
      players[1].classList.remove("compare-top");
      players[1].style.clipPath = "";
      players[1].controls = true;
    }
    sideBySide.hidden = isSlider;
    if (stack) stack.classList.toggle("compare-slider", isSlider);
  }
  if (split) split.addEventListener("input", clip);

  controls.addEventListener("click", function (event) {
    var button = event.target.closest("[data-compare]");
    if (!button) return;
    var what = button.dataset.compare;
    if (what === "mode") { setMode(button.getAttribute("aria-pressed") !== "true", button); return; }
    syncing = true;
    players.forEach(function (p) {
      if (what === "play") p.play().catch(function () {});
      else if (what === "pause") p.pause();
      else { p.pause(); p.currentTime = start(p); }
    });
    window.setTimeout(function () { syncing = false; }, 0);
  });
})();
