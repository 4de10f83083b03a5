// Violation record / appeal forms: show the course picker only where the kind needs it and the
// suspension years only for kinds that suspend. Progressive enhancement: without JS every field
// stays visible and the server explains what does not fit.
(function () {
  "use strict";
  var NEEDS_COURSE = { rule_breach: true };
  var SUSPENDS = { serious_cheating: true, organised_cheating: true };

  function wrapper(field) {
    return field ? field.closest("div") : null;
  }

  // A hidden field is also emptied, so a value picked earlier is not sent with a kind it does not fit.
  function show(box, visible) {
    if (!box) return;
    box.hidden = !visible;
    if (!visible) {
      var select = box.querySelector("select");
      if (select) select.value = "";
    }
  }

  function sync(form) {
    var kind = form.querySelector("select[name=kind]");
    if (!kind) return;
    var outcome = form.querySelector("input[name=outcome]:checked");
    var reducing = !form.querySelector("input[name=outcome]") || (outcome && outcome.value === "reduced");
    var course = wrapper(form.querySelector("select[name=course]"));
    var years = wrapper(form.querySelector("select[name=suspension_years]"));
    var kindBox = wrapper(kind);
    if (form.querySelector("input[name=outcome]") && kindBox) kindBox.hidden = !reducing;
    show(course, reducing && NEEDS_COURSE[kind.value]);
    show(years, reducing && SUSPENDS[kind.value]);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form.decision");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("change", function () { sync(form); });
      sync(form);
    });
  });
})();
