// Office menu: marks the link of the current section (aria-current) and, on a phone, folds the
// menu behind its "功能菜单" button so the page content comes first. Progressive enhancement:
// without JS the menu is simply always open.
(function () {
  "use strict";
  var NARROW = "(max-width: 59.99rem)";

  // A page outside its section's URLs names the section in <body data-nav-section>.
  function markCurrent(nav) {
    var here = document.body.getAttribute("data-nav-section") || window.location.pathname;
    var best = null;
    var bestLength = -1;
    nav.querySelectorAll("a[href]").forEach(function (link) {
      var path = new URL(link.href, window.location.href).pathname;
      // The home link only matches itself; a section link matches its pages.
      var matches = path === here || (path.length > 8 && here.indexOf(path) === 0);
      if (matches && path.length > bestLength) {
        best = link;
        bestLength = path.length;
      }
    });
    if (best && !best.hasAttribute("aria-current")) best.setAttribute("aria-current", "page");
  }

  function init() {
    var nav = document.querySelector("nav.office-nav");
    if (!nav) return;
    markCurrent(nav);
    var box = nav.querySelector("details.nav-box");
    if (!box || !window.matchMedia) return;
    var query = window.matchMedia(NARROW);
    function fit() {
      box.open = !query.matches;
    }
    fit();
    if (query.addEventListener) query.addEventListener("change", fit);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
