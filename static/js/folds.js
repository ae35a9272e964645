// Open the <details> fold that holds the section a link or the address points to (#budget...).
// Browsers that reveal such sections themselves are not affected; without JavaScript the folds
// still open with a click, and a fold holding a form with errors is served open.
(function () {
  function reveal() {
    if (!location.hash) { return; }
    var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (!target) { return; }
    var fold = target.closest("details");
    while (fold) {
      fold.open = true;
      fold = fold.parentElement ? fold.parentElement.closest("details") : null;
    }
    target.scrollIntoView();
  }
  document.addEventListener("DOMContentLoaded", reveal);
  window.addEventListener("hashchange", reveal);
})();
