// credflow's small enhancements. Every page works without them.
(function () {
  "use strict";

  // A unique name follows its display name as one types (prefix, "_",
  // then the letters and digits), until one edits it by hand.
  function generated(prefix, display) {
    var cleaned = display.replace(/[^A-Za-z0-9]/g, "");
    return cleaned === "" ? "" : (prefix || "cf") + "_" + cleaned;
  }
  document.querySelectorAll("input[data-generate-from]").forEach(function (target) {
    var source = document.getElementById(target.getAttribute("data-generate-from"));
    if (!source) { return; }
    var edited = target.value !== "" && target.value !== generated(target.getAttribute("data-prefix"), source.value);
    target.addEventListener("input", function () { edited = target.value !== ""; });
    source.addEventListener("input", function () {
      if (!edited) { target.value = generated(target.getAttribute("data-prefix"), source.value); }
    });
  });

  // Parts of a form shown only for one choice of a select.
  document.querySelectorAll("[data-shown-when]").forEach(function (part) {
    var select = document.getElementById(part.getAttribute("data-shown-when"));
    if (!select) { return; }
    var update = function () { part.hidden = select.value !== part.getAttribute("data-value"); };
    select.addEventListener("change", update);
    update();
  });
})();
