// Tether's page behaviour: HTMX settings, the OAuth pop-up, dialogs. No build step.
(function () {
  "use strict";

  function csrf() { return document.body.dataset.csrf || ""; }

  function flash(message, isError) {
    var area = document.getElementById("flash");
    if (!area) return;
    var p = document.createElement("p");
    p.className = "flash " + (isError ? "error" : "ok");
    p.setAttribute("role", isError ? "alert" : "status");
    p.textContent = message;
    area.replaceChildren(p);
  }

  function changed() {
    if (window.htmx) window.htmx.trigger(document.body, "tether:changed");
  }

  // Every HTMX request carries the page's CSRF token (htmx settings: the meta tag in base.html).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });

  // Background refreshes (the bell) never replace a message with their own failure. A refusal
  // of a request made inside an open dialog shows inside it: the page's flash area is behind.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.isError) return;
    var elt = event.detail.requestConfig.elt;
    if (elt.closest("[data-quiet]")) {
      event.detail.shouldSwap = false;
      return;
    }
    var dialog = elt.closest("dialog[open]");
    var form = elt.closest("form");
    var out = (form || dialog || document.body).querySelector("[data-form-error]");
    if (!dialog && !out) return;
    event.detail.shouldSwap = false;
    var found = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html")
      .querySelector(".flash");
    if (!out) {
      out = document.createElement("p");
      out.className = "flash error";
      out.setAttribute("role", "alert");
      out.setAttribute("data-form-error", "");
      var header = dialog.querySelector("header");
      if (header) header.after(out); else dialog.prepend(out);
    }
    out.textContent = found ? found.textContent.trim() : "Tether could not do this. Try again.";
    out.hidden = false;
  });
  // After a success, a form's earlier refusal goes away; a form marked data-close-on-success
  // also closes its dialog.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!event.detail.successful) return;
    var form = elt.closest("form");
    if (form) form.querySelectorAll("[data-form-error]").forEach(function (out) { out.hidden = true; });
    var dialog = elt.closest("dialog");
    if (dialog && elt.hasAttribute("data-close-on-success")) dialog.close();
  });

  // A gap of a coverage strip opens its dialog. The request comes from the dialog slot, which
  // outlives the strip: while days load, the page refreshes itself every few seconds, and the
  // answer to a request made by a button that refresh replaced would be dropped.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-gap]");
    if (!button || !window.htmx) return;
    window.htmx.ajax("GET", button.dataset.gap, {source: "#dialog-slot", target: "#dialog-slot"});
  });

  // Sign in at the provider in a pop-up; this page updates itself when the pop-up reports back
  // (oauth_result.html) or closes.
  var popup = null;
  var waiting = false;  // this page opened a sign-in and has not heard how it ended
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-oauth-start]");
    if (!button) return;
    event.preventDefault();
    popup = window.open("about:blank", "tether-oauth", "popup,width=560,height=720");
    waiting = Boolean(popup);
    if (waiting) listenForResults();
    var body = new URLSearchParams();
    body.set("return_to", window.location.pathname + window.location.search);
    fetch(button.dataset.oauthStart, {
      method: "POST",
      headers: {"X-CSRF-Token": csrf(), "Accept": "application/json"},
      body: body,
    }).then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, data: data}; });
    }).then(function (result) {
      if (!result.ok) {
        if (popup) popup.close();
        flash(result.data.error ? result.data.error.message : "Could not start signing in.", true);
        return;
      }
      if (popup) {
        popup.location = result.data.authorize_url;
        var watch = window.setInterval(function () {
          if (!popup || popup.closed) { window.clearInterval(watch); changed(); }
        }, 500);
      } else {
        window.location = result.data.authorize_url;  // Pop-ups blocked: go there in this tab.
      }
    }).catch(function () {
      if (popup) popup.close();
      flash("Tether could not be reached. Check your connection and try again.", true);
    });
  });

  // The result carries no secret, and is taken only from a page of Tether's own origin.
  function signedIn(event) {
    if (event.origin !== window.location.origin || !event.data || event.data.type !== "tether:oauth") {
      return false;
    }
    waiting = false;
    flash(event.data.ok ? "Connected. Statuses are up to date." : "Nothing was connected.", !event.data.ok);
    changed();
    return true;
  }
  window.addEventListener("message", signedIn);
  // A provider's page may cut the pop-up off from this page (Cross-Origin-Opener-Policy): the
  // result then comes on a channel of Tether's origin, and the page that waits for it answers
  // so that the pop-up closes itself. Opened by the first sign-in a page starts.
  var results = null;
  function listenForResults() {
    if (results || !window.BroadcastChannel) return;
    results = new BroadcastChannel("tether:oauth");
    results.addEventListener("message", function (event) {
      if (waiting && signedIn(event)) results.postMessage({type: "tether:oauth-received"});
    });
  }

  // Dialogs: a button with data-dialog="id" opens one; HTMX-loaded dialogs open themselves.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.dialog);
      if (dialog) dialog.showModal();
    }
    var closer = event.target.closest("[data-close]");
    if (closer) closer.closest("dialog").close();
    // A menu closes once one of its items is used.
    var item = event.target.closest("details.menu .items > *");
    if (item) item.closest("details").removeAttribute("open");
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = event.detail.target.querySelector("dialog[data-open]");
    if (dialog && !dialog.open) dialog.showModal();
  });
  // Escape closes an open row menu, as it closes a dialog.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
  // On a narrow screen the main navigation folds behind the Menu button. Escape, or a click
  // elsewhere, folds it again; Escape gives the focus back to the button.
  function foldNavigation(focus) {
    var toggle = document.querySelector(".nav-toggle[aria-expanded='true']");
    if (!toggle) return;
    toggle.setAttribute("aria-expanded", "false");
    if (focus) toggle.focus();
  }
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".nav-toggle");
    if (toggle) {
      var opening = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(opening));
      return;
    }
    if (!event.target.closest("#main-nav")) foldNavigation(false);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var focused = document.activeElement;
    foldNavigation(!!focused && !!focused.closest(".nav-toggle, #main-nav"));
  });

  // Small behaviours the templates ask for by data attribute: the pages run no inline script
  // (the Content-Security-Policy forbids it), so each lives here once.
  // Enter in a search box searches at once, rather than submitting the form around it.
  document.addEventListener("keydown", function (event) {
    var box = event.target.closest && event.target.closest("[data-search-on-enter]");
    if (!box || event.key !== "Enter") return;
    event.preventDefault();
    window.htmx.trigger(box, "search");
  });
  document.addEventListener("change", function (event) {
    // A choice that needs more: "New client…" shows the field for the new client's name.
    var select = event.target.closest("[data-reveals]");
    if (select) {
      var field = document.getElementById(select.dataset.reveals);
      if (field) field.hidden = select.value !== "new";
    }
    // Ticking a client in a member's access means "only the clients chosen here".
    var limits = event.target.closest("[data-choosing-limits-access]");
    if (limits && event.target.name === "client_id" && event.target.checked) {
      limits.querySelector("input[name=access][value=chosen]").checked = true;
    }
  });
  // A shown-once secret: focusing it selects it, Copy copies it, and its dialog is gone once closed.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var box = document.getElementById(button.dataset.copy);
    box.select();
    if (navigator.clipboard) {
      navigator.clipboard.writeText(box.value).then(function () { button.textContent = "Copied"; });
    }
  });
  document.addEventListener("close", function (event) {
    if (event.target.matches && event.target.matches("dialog[data-remove-on-close]")) event.target.remove();
  }, true);
  // A dialog's content that reloads itself while the dialog is open, whenever something changed
  // (a sign-in pop-up closing, say).
  document.body.addEventListener("tether:changed", function () {
    document.querySelectorAll("[data-refresh-while-open]").forEach(function (part) {
      var dialog = part.closest("dialog");
      if (dialog && dialog.open) window.htmx.trigger(part, "tether:refresh");
    });
  });

  // The header's bell opens and closes its panel; Escape closes it from either. The button is
  // replaced by each poll (bell.html): it takes the panel's state back when it arrives.
  function bellPanel() { return document.getElementById("bell-panel"); }
  function showBell(open, focus) {
    var button = document.getElementById("bell-button");
    var panel = bellPanel();
    if (!button || !panel) return;
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) window.htmx.trigger(button, "bell-open");
    if (focus) button.focus();
  }
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-bell]")) return;
    showBell(bellPanel().hidden, false);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    if (event.target.closest("[data-bell]")) showBell(false, false);
    else if (event.target.closest("#bell-panel")) showBell(false, true);
  });
  // A poll that replaces the button while a keyboard member is on it gives the focus to the new
  // one, so a Tab after it still walks into the panel rather than back to the page's top.
  var bellHadFocus = false;
  // Likewise a refresh of the open panel: the control the member was on is focused again.
  var panelFocus = null;
  function describe(elt) {
    return [elt.tagName, elt.getAttribute("hx-post") || elt.getAttribute("href") || "", elt.textContent.trim()].join("|");
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var active = document.activeElement;
    if (target && target.id === "bell") {
      bellHadFocus = !!active && active.id === "bell-button";
    }
    if (target && target.id === "bell-panel" && active && active !== target && target.contains(active)) {
      panelFocus = describe(active);
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!panelFocus || !target || target.id !== "bell-panel") return;
    var wanted = panelFocus;
    panelFocus = null;
    var same = Array.prototype.find.call(target.querySelectorAll("a, button"), function (elt) {
      return describe(elt) === wanted;
    });
    if (same) same.focus();
  });
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    var button = elt.matches && elt.matches("[data-bell]") ? elt : elt.querySelector && elt.querySelector("[data-bell]");
    var panel = bellPanel();
    if (button && panel) button.setAttribute("aria-expanded", String(!panel.hidden));
    if (button && bellHadFocus) {
      bellHadFocus = false;
      button.focus();
    }
  });

  // Rows that open something: the row is clickable, its first link is what the keyboard uses.
  document.addEventListener("click", function (event) {
    var row = event.target.closest("tr[data-href]");
    if (!row || event.target.closest("a, button, details, input, select")) return;
    var link = row.querySelector("a");
    if (link) link.click();
  });
})();

// The sign-in page while sign-ins are slowed down: the button waits out the delay, showing the
// seconds left beside its name (hidden from screen readers, which hear only the end of the wait).
(function () {
  var note = document.querySelector("[data-sign-in-wait]");
  var button = note && note.closest("form").querySelector("button[type=submit]");
  if (!button) return;
  var left = Number(note.dataset.signInWait);
  var count = document.createElement("span");
  count.setAttribute("aria-hidden", "true");
  button.appendChild(count);
  button.disabled = true;
  (function tick() {
    if (left > 0) {
      count.textContent = " (" + left + ")";
      left -= 1;
      window.setTimeout(tick, 1000);
      return;
    }
    count.remove();
    button.disabled = false;
    note.textContent = "You can try again now.";
  })();
})();
