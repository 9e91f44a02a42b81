// Behaviour the pages declare with data attributes; the Content-Security-Policy allows no inline script.
// Loaded in <head> without defer: it marks the page as scripted before the first paint and listens
// on the document, so it needs no element to exist yet.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The phone menu: <button class="menu-toggle" aria-controls="site-menu" aria-expanded="false">.
  document.addEventListener("click", function (event) {
    var toggle = event.target instanceof Element && event.target.closest(".menu-toggle");
    if (!toggle) return;
    var menu = document.getElementById(toggle.getAttribute("aria-controls"));
    if (!menu) return;
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  });

  // <form data-confirm="What will be lost">: an irreversible action asks first, in the page's
  // <dialog id="confirm-dialog">. The dialog starts on "Cancel", Escape cancels, and the focus
  // returns to the button that asked.
  var pending = null;
  function dialog() { return document.getElementById("confirm-dialog"); }
  function finish(confirmed) {
    var d = dialog();
    var asked = pending;
    pending = null;
    if (d && d.open) d.close();
    if (!asked) return;
    if (confirmed) {
      asked.form.dataset.confirmed = "yes";
      if (asked.submitter && asked.submitter.form === asked.form) asked.form.requestSubmit(asked.submitter);
      else asked.form.requestSubmit();
    } else if (asked.opener && typeof asked.opener.focus === "function") {
      asked.opener.focus();
    }
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (form.dataset.confirmed === "yes") {
      delete form.dataset.confirmed;
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    var d = dialog();
    if (!d || typeof d.showModal !== "function") {
      if (window.confirm(form.dataset.confirm)) {
        form.dataset.confirmed = "yes";
        form.requestSubmit(event.submitter || undefined);
      }
      return;
    }
    var submitter = event.submitter || form.querySelector("[type=submit]");
    pending = { form: form, submitter: event.submitter, opener: submitter || document.activeElement };
    d.querySelector("[data-confirm-text]").textContent = form.dataset.confirm;
    var go = d.querySelector("[data-confirm-yes]");
    go.textContent = (submitter && submitter.textContent.trim()) || go.dataset.label;
    d.showModal();
    d.querySelector("[data-confirm-no]").focus();
  }, true);
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target || !pending) return;
    if (target.closest("[data-confirm-yes]")) finish(true);
    else if (target.closest("[data-confirm-no]") || target === dialog()) finish(false);
  });
  // Escape closes a modal dialog by itself: count it as "Cancel".
  document.addEventListener("close", function (event) {
    if (event.target === dialog() && pending) finish(false);
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

  // <select data-opens-details> with <details data-for-types="a b"> in its form: the sections are
  // open in the HTML, so a page without script reaches them all; with script only the sections
  // for the chosen value stay open (and any that holds an error).
  function foldFor(select) {
    if (!select.form) return;
    select.form.querySelectorAll("details[data-for-types]").forEach(function (section) {
      var wanted = section.dataset.forTypes.split(" ").indexOf(select.value) >= 0;
      section.open = wanted || !!section.querySelector("[aria-invalid=true], .error");
    });
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-opens-details")) foldFor(target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-opens-details]").forEach(foldFor);
  });
})();
