// A Copy button beside a read-only field: copies the field's text. Without JavaScript the button
// stays hidden and the field can be selected and copied by hand.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    var status = document.querySelector("[data-copy-status]");
    if (!field) return;
    button.hidden = false;
    function said(text) {
      if (status) status.textContent = text;
    }
    button.addEventListener("click", function () {
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(
          function () { said("Copied."); },
          function () { said("Press Ctrl+C (or ⌘C) to copy the selected link."); }
        );
      } else {
        said(document.execCommand && document.execCommand("copy") ? "Copied." : "Press Ctrl+C (or ⌘C) to copy the selected link.");
      }
    });
    field.addEventListener("focus", function () { field.select(); });
  });
})();
