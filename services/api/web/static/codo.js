// Behaviour the pages declare with data attributes; the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  // <form data-confirm="Remove …?">: ask before an irreversible action.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // <form data-reset-on-success data-remove-on-success="id">: after a successful htmx request, empty
  // the form and drop the element that said there was nothing yet.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-reset-on-success")) return;
    if (!event.detail.successful) return;
    form.reset();
    var gone = form.dataset.removeOnSuccess && document.getElementById(form.dataset.removeOnSuccess);
    if (gone) gone.remove();
  });
})();
