// "Try this policy" runs on the text being edited, not on the saved version.
(function () {
  "use strict";
  var tryForm = document.getElementById("try-form");
  var editor = document.getElementById("policy-text");
  if (!tryForm || !editor) { return; }
  tryForm.addEventListener("submit", function () {
    document.getElementById("try-text").value = editor.value;
  });
})();
