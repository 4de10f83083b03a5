/* Countdown to a sitting's release time. The server renders the remaining seconds (from its own
   clock) into data-countdown; this only counts them down with the page's monotonic clock, so a
   wrong clock on the staff member's computer cannot make it lie. Nothing here changes anything. */
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function text(seconds, daysLabel) {
    var days = Math.floor(seconds / 86400), rest = seconds % 86400;
    var hms = pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor((rest % 3600) / 60)) + ":" + pad(rest % 60);
    return days ? days + daysLabel + " " + hms : hms;
  }
  var nodes = document.querySelectorAll("[data-countdown]");
  if (!nodes.length) { return; }
  var start = performance.now();
  function tick() {
    var elapsed = Math.floor((performance.now() - start) / 1000);
    nodes.forEach(function (node) {
      var left = parseInt(node.getAttribute("data-countdown"), 10) - elapsed;
      node.textContent = left > 0 ? text(left, node.getAttribute("data-days-label") || "d") : node.getAttribute("data-done-label");
    });
  }
  tick();
  setInterval(tick, 1000);
})();
