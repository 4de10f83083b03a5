// Catalog pages: confirm destructive buttons; fill a sitting's four slots from its first day.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function fillSlots() {
    var first = document.getElementById("id_first_day");
    if (!first || !first.value) { if (first) { first.focus(); } return; }
    var parts = first.value.split("-");
    var saturday = new Date(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2]));
    var slots = [
      ["sat_am", 0, "09:00", "11:30"], ["sat_pm", 0, "14:30", "17:00"],
      ["sun_am", 1, "09:00", "11:30"], ["sun_pm", 1, "14:30", "17:00"]
    ];
    slots.forEach(function (slot) {
      var day = new Date(saturday.getTime());
      day.setDate(day.getDate() + slot[1]);
      var date = day.getFullYear() + "-" + pad(day.getMonth() + 1) + "-" + pad(day.getDate());
      var start = document.getElementById("id_" + slot[0] + "_starts_at");
      var end = document.getElementById("id_" + slot[0] + "_ends_at");
      if (start && !start.disabled) { start.value = date + "T" + slot[2]; }
      if (end && !end.disabled) { end.value = date + "T" + slot[3]; }
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.hasAttribute && target.hasAttribute("data-fill-slots")) {
      event.preventDefault();
      fillSlots();
    }
  });
}());
