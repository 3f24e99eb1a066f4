// Drawings over the film. "Draw on the frame" pauses the player and lets the reviewer draw arrows,
// boxes and freehand lines on a canvas over the video; the shapes go with the comment as JSON, in
// coordinates normalised to the picture (fractions of its width and height, the letterbox left
// out), so that they land on the same spot at any size. A comment's drawing shows over the frame
// whenever the player stands on the comment's frame, on the share page and the sequence page alike.
(function () {
  "use strict";

  var COLOURS = { red: "#e53935", yellow: "#fdd835", blue: "#1e88e5", white: "#ffffff" };

  function fpsOf(player) { return parseFloat(player.dataset.fps) || 24; }

  // Where the picture is inside the element (object-fit: contain), in CSS pixels.
  function pictureRect(player) {
    var w = player.clientWidth, h = player.clientHeight;
    var vw = player.videoWidth || w, vh = player.videoHeight || h;
    var scale = Math.min(w / vw, h / vh) || 1;
    var pw = vw * scale, ph = vh * scale;
    return { x: (w - pw) / 2, y: (h - ph) / 2, w: pw, h: ph };
  }

  function paint(context, shapes, rect) {
    shapes.forEach(function (shape) {
      var points = shape.points.map(function (p) { return [rect.x + p[0] * rect.w, rect.y + p[1] * rect.h]; });
      context.strokeStyle = COLOURS[shape.colour] || COLOURS.red;
      context.lineWidth = Math.max(2, rect.w / 200);
      context.lineCap = context.lineJoin = "round";
      context.beginPath();
      if (shape.kind === "box") {
        var a = points[0], b = points[points.length - 1];
        context.rect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1]));
      } else {
        context.moveTo(points[0][0], points[0][1]);
        points.slice(1).forEach(function (p) { context.lineTo(p[0], p[1]); });
      }
      context.stroke();
      if (shape.kind === "arrow" && points.length === 2) {
        var from = points[0], to = points[1];
        var angle = Math.atan2(to[1] - from[1], to[0] - from[0]), head = Math.max(10, rect.w / 40);
        context.beginPath();
        context.moveTo(to[0], to[1]);
        context.lineTo(to[0] - head * Math.cos(angle - 0.45), to[1] - head * Math.sin(angle - 0.45));
        context.moveTo(to[0], to[1]);
        context.lineTo(to[0] - head * Math.cos(angle + 0.45), to[1] - head * Math.sin(angle + 0.45));
        context.stroke();
      }
    });
  }

  function setUp(canvas) {
    var player = document.getElementById(canvas.dataset.player);
    if (!player) return;
    var context = canvas.getContext("2d");
    var tools = document.querySelector('[data-draw-tools][data-player="' + player.id + '"]');
    var form = tools && tools.closest("form");
    var input = form && form.querySelector("[name=drawing]");
    var drawing = [], current = null, tool = "arrow", isDrawing = false;

    function size() {
      var ratio = window.devicePixelRatio || 1;
      canvas.width = Math.round(player.clientWidth * ratio);
      canvas.height = Math.round(player.clientHeight * ratio);
      canvas.style.width = player.clientWidth + "px";
      canvas.style.height = player.clientHeight + "px";
      // Over the picture wherever the page's styles put the player in its box (margins, centring).
      canvas.style.left = player.offsetLeft + "px";
      canvas.style.top = player.offsetTop + "px";
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      render();
    }

    // The drawings of the comments on the frame showing (for the version in the player).
    function shown() {
      var fps = fpsOf(player), frame = Math.round(player.currentTime * fps), version = player.dataset.version;
      var found = [];
      document.querySelectorAll("[data-comment-at][data-drawing]").forEach(function (el) {
        if (el.dataset.version && el.dataset.version !== version) return;
        if (Math.round(parseFloat(el.dataset.commentAt) * fps) !== frame) return;
        try { found.push({ pk: el.dataset.comment, shapes: JSON.parse(el.dataset.drawing) }); } catch (e) {}
      });
      return found;
    }

    function render() {
      context.clearRect(0, 0, canvas.width, canvas.height);
      var rect = pictureRect(player);
      var comments = isDrawing ? [] : shown();
      comments.forEach(function (c) { paint(context, c.shapes, rect); });
      canvas.dataset.showing = comments.map(function (c) { return c.pk; }).join(",");
      paint(context, drawing.concat(current ? [current] : []), rect);
    }

    function point(event) {
      var box = canvas.getBoundingClientRect(), rect = pictureRect(player);
      var x = (event.clientX - box.left - rect.x) / rect.w, y = (event.clientY - box.top - rect.y) / rect.h;
      return [Math.round(Math.min(1, Math.max(0, x)) * 10000) / 10000, Math.round(Math.min(1, Math.max(0, y)) * 10000) / 10000];
    }

    function counted() {
      if (input) input.value = drawing.length ? JSON.stringify(drawing) : "";
      var count = tools && tools.querySelector("[data-draw-count]");
      if (count) count.textContent = drawing.length ? drawing.length + " shape" + (drawing.length > 1 ? "s" : "") + " drawn" : "No shapes yet";
    }

    function setDrawing(on) {
      isDrawing = on;
      canvas.classList.toggle("is-drawing", on);
      if (tools) {
        tools.querySelector("[data-draw-toggle]").setAttribute("aria-pressed", String(on));
        tools.querySelector("[data-draw-toggle]").textContent = on ? "Done drawing" : "Draw on the frame";
        tools.querySelector("[data-draw-options]").hidden = !on && !drawing.length;
      }
      if (on) {
        player.pause();
        // On a phone the form is below the player: bring the frame to draw on into view.
        player.scrollIntoView({ block: "center" });
      }
      render();
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (!isDrawing || drawing.length >= 20) return;
      event.preventDefault();
      try { canvas.setPointerCapture(event.pointerId); } catch (e) { /* a pointer that is gone already */ }
      var p = point(event);
      current = { kind: tool, points: [p, p], colour: "red" };
      render();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!current) return;
      var p = point(event);
      if (current.kind === "pen") { if (current.points.length < 400) current.points.push(p); }
      else current.points[1] = p;
      render();
    });
    function finish() {
      if (!current) return;
      var a = current.points[0], b = current.points[current.points.length - 1];
      if (Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) > 0.01 || current.points.length > 2) drawing.push(current);
      current = null;
      counted();
      render();
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);

    if (tools) {
      tools.hidden = false;
      tools.addEventListener("click", function (event) {
        if (event.target.closest("[data-draw-toggle]")) { setDrawing(!isDrawing); return; }
        var choice = event.target.closest("[data-draw-tool]");
        if (choice) {
          tool = choice.dataset.drawTool;
          tools.querySelectorAll("[data-draw-tool]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === choice)); });
          return;
        }
        if (event.target.closest("[data-draw-clear]")) { drawing = []; counted(); render(); }
      });
    }
    if (form) {
      form.addEventListener("review:beforesend", counted);
      form.addEventListener("review:sent", function () { drawing = []; counted(); setDrawing(false); });
    }
    ["seeked", "timeupdate", "pause", "loadedmetadata"].forEach(function (name) { player.addEventListener(name, render); });
    player.addEventListener("loadedmetadata", size);
    document.addEventListener("review:updated", render);
    window.addEventListener("resize", size);
    if (window.ResizeObserver) new ResizeObserver(size).observe(player);
    size();
  }

  document.querySelectorAll("canvas[data-draw-canvas]").forEach(setUp);
})();
