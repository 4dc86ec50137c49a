// Progressive enhancement: copy buttons appear only when the browser can copy.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");
  if (!status || !navigator.clipboard) { return; }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = (target.value !== undefined ? target.value : target.innerText).trim();
      navigator.clipboard.writeText(text).then(function () {
        status.textContent = status.getAttribute("data-done");
        button.setAttribute("data-copied", "true");
      }, function () {
        status.textContent = status.getAttribute("data-failed");
      });
    });
  });
})();
