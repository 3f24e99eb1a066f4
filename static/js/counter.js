// A live character count under every text field marked data-count-limit (projects/forms.py
// `counted`). The fields carry no maxlength, which would cut a pasted text silently: the count says
// how far over the limit a text is, and the form refuses it on the server, keeping the text.
// Characters are counted as Runway counts them, in UTF-16 units (JavaScript's string length), so
// an emoji counts as two. data-count-limits / data-count-by give a limit per value of another field
// (a speech model's own). Without JavaScript the form's own error says the same.
(function () {
  "use strict";

  function limitOf(field) {
    var limits = field.dataset.countLimits;
    var by = field.dataset.countBy;
    if (limits && by && field.form) {
      var chooser = field.form.elements[by];
      var table = JSON.parse(limits);
      if (chooser && Object.prototype.hasOwnProperty.call(table, chooser.value)) return table[chooser.value];
    }
    return parseInt(field.dataset.countLimit, 10);
  }

  function number(n) {
    return n.toLocaleString("en");
  }

  function attach(field) {
    if (field.dataset.countAttached) return;
    field.dataset.countAttached = "true";
    var count = document.createElement("p");
    count.className = "small muted char-count";
    count.id = (field.id || "field") + "-count";
    // Announced only when the text crosses the limit, not at every keystroke.
    var alert = document.createElement("span");
    alert.className = "visually-hidden";
    alert.setAttribute("aria-live", "polite");
    field.insertAdjacentElement("afterend", count);
    count.insertAdjacentElement("afterend", alert);
    var described = field.getAttribute("aria-describedby");
    field.setAttribute("aria-describedby", (described ? described + " " : "") + count.id);
    var wasOver = null;

    function update() {
      var limit = limitOf(field);
      var length = field.value.length;
      var over = length > limit;
      count.textContent = over
        ? number(length) + " / " + number(limit) + " characters: " + number(length - limit) + " over the limit"
        : number(length) + " / " + number(limit) + " characters";
      count.classList.toggle("error", over);
      count.classList.toggle("muted", !over);
      if (wasOver !== null && over !== wasOver) {
        alert.textContent = over
          ? "The text is over the limit of " + number(limit) + " characters."
          : "The text is within the limit again.";
      }
      wasOver = over;
    }

    field.addEventListener("input", update);
    if (field.form && field.dataset.countBy) {
      field.form.addEventListener("change", function (event) {
        if (event.target.name === field.dataset.countBy) update();
      });
    }
    update();
  }

  function attachAll(root) {
    root.querySelectorAll("textarea[data-count-limit], input[data-count-limit]").forEach(attach);
  }

  attachAll(document);
  // Fields put in by the page's other scripts (a form swapped in) get theirs when first typed in.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-count-limit]")) attach(event.target);
  });
})();
