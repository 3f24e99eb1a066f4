// Sequence builder niceties. Every choice is validated on the server as well; without this script
// the forms still work and a wrong combination comes back with an error saying what is allowed.
(function () {
  "use strict";
  var data = document.getElementById("catalog-data");
  if (!data) return;
  var models = JSON.parse(data.textContent);

  function fillRatios(form) {
    var modelSelect = form.querySelector("[data-model-select]");
    var ratioSelect = form.querySelector("[data-ratio-select]");
    var audio = form.querySelector("[data-audio-field]");
    if (!modelSelect || !models[modelSelect.value]) return;
    var model = models[modelSelect.value];
    if (ratioSelect) {
      var current = ratioSelect.value;
      ratioSelect.innerHTML = "";
      model.ratios.forEach(function (pair) {
        var option = new Option(pair[1], pair[0], false, pair[0] === current);
        ratioSelect.add(option);
      });
    }
    if (audio) audio.hidden = !model.has_audio;
  }

  document.querySelectorAll("[data-sequence-form]").forEach(function (form) {
    var modelSelect = form.querySelector("[data-model-select]");
    if (!modelSelect) return;
    modelSelect.addEventListener("change", function () { fillRatios(form); });
    fillRatios(form);
  });

  // Show the reference image choice only when the shot starts on a reference image.
  document.querySelectorAll("[data-shot-form]").forEach(function (form) {
    var imageField = form.querySelector("[data-first-frame-image]");
    if (!imageField) return;
    function sync() {
      var checked = form.querySelector("[data-first-frame] input:checked");
      imageField.hidden = !(checked && checked.value === "reference");
    }
    form.querySelectorAll("[data-first-frame] input").forEach(function (input) {
      input.addEventListener("change", sync);
    });
    sync();
  });
})();
