/* The type-ahead unit input (registry.widgets.UnitPicker, registry/_unit_input.html): a
   text input over a <datalist> whose options are unit codes labelled with their names.  The
   browser already suggests as one types; this script only turns a name typed in full (or
   the label of a suggestion) into its code when the input is left, so that a form written in
   a template, which reads a code, receives one.  Without it the input is a plain code field. */
(function () {
  "use strict";
  function resolve(input) {
    var list = input.list;
    var typed = input.value.trim();
    if (!list || !typed) { return; }
    var found = [];
    for (var i = 0; i < list.options.length; i++) {
      var o = list.options[i];
      var label = (o.label || o.textContent || "").trim();
      var name = label.replace(/\s*\(\d+\)\s*$/, "");
      if (o.value === typed) { return; }
      if (label === typed || name === typed || name.split(" / ").pop() === typed) { found.push(o.value); }
    }
    if (found.length === 1) { input.value = found[0]; }
  }
  function run() {
    var inputs = document.querySelectorAll("input.unit-picker");
    for (var i = 0; i < inputs.length; i++) {
      inputs[i].addEventListener("change", function (e) { resolve(e.target); });
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", run); } else { run(); }
})();
