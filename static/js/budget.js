// The budget page: keep the running total of the requested amounts current as one types.
// The server draws the same total from what was posted, so the page is right without this script;
// the sentences come from the page (data-text-*), translated there.
(function () {
  "use strict";

  function parseAmount(text) {
    // "50 000", "49 999,50", "50000.00 €": spaces of any kind and the euro sign are dropped.
    var cleaned = String(text || "").replace(/[\s\u00a0\u202f\u2009€]/g, "").replace(",", ".");
    if (cleaned === "") { return 0; }
    if (!/^-?\d+(\.\d{0,2})?$/.test(cleaned)) { return null; }
    return Math.round(parseFloat(cleaned) * 100);
  }

  function formatCents(cents, separator) {
    var sign = cents < 0 ? "-" : "";
    cents = Math.abs(cents);
    var whole = String(Math.floor(cents / 100));
    var fraction = cents % 100;
    var groups = [];
    while (whole.length > 3) {
      groups.unshift(whole.slice(-3));
      whole = whole.slice(0, -3);
    }
    groups.unshift(whole);
    var text = groups.join(separator);
    if (fraction) { text += "," + (fraction < 10 ? "0" : "") + fraction; }
    return sign + text + separator + "€";
  }

  function setUp(form) {
    var box = form.querySelector("[data-budget-running]");
    if (!box) { return; }
    var total = box.querySelector("[data-budget-total]");
    var verdict = box.querySelector("[data-budget-verdict]");
    var capLine = box.querySelector("[data-budget-cap]");
    // The server's own spacing (the character before "€"), so both draw amounts alike.
    var shown = total.textContent.trim();
    var separator = shown.length > 1 ? shown.charAt(shown.length - 2) : "\u00a0";
    var min = Math.round(parseFloat(box.dataset.min) * 100);
    var max = Math.round(parseFloat(box.dataset.max) * 100);
    var cap = Math.round(parseFloat(box.dataset.cap) * 100);
    var inputs = form.querySelectorAll("input[name^='requested_']");

    function update() {
      var sum = 0;
      var overCap = [];
      for (var i = 0; i < inputs.length; i++) {
        var cents = parseAmount(inputs[i].value);
        if (cents === null) { continue; }  // its error comes with the server's answer
        sum += cents;
        if (cents > cap) { overCap.push(inputs[i].name.split("_").pop()); }
      }
      total.textContent = formatCents(sum, separator);
      if (sum < min) {
        verdict.textContent = box.dataset.textBelow.replace("{gap}", formatCents(min - sum, separator));
      } else if (sum > max) {
        verdict.textContent = box.dataset.textAbove.replace("{gap}", formatCents(sum - max, separator));
      } else {
        verdict.textContent = box.dataset.textWithin;
      }
      capLine.hidden = overCap.length === 0;
      capLine.textContent = overCap.length ? box.dataset.textCap.replace("{years}", overCap.join(", ")) : "";
      // The list of what is missing describes the saved budget: once amounts are typed, it no longer does.
      var saved = document.querySelector("[data-budget-saved-state]");
      if (saved) { saved.hidden = true; }
    }

    form.addEventListener("input", function (event) {
      if (event.target.matches("input[name^='requested_'], input[name^='other_funding_'], input[name^='total_cost_']")) {
        update();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form[data-budget-form]");
    for (var i = 0; i < forms.length; i++) { setUp(forms[i]); }
  });
})();
