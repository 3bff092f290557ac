/* pingan landing dashboard: draws each heavy part of the page from its JSON endpoint.
 *
 * The server renders the shell and the KPIs at once; every element with data-part="<name>"
 * shows "计算中…" until GET /api/v1/landing/<name> answers with the part's HTML fragment
 * (rendered and escaped by the server, in the page's language). A failed part shows the
 * error and a retry button. When every part has been drawn (or has failed), the page sets
 * performance.mark('landing-ready') and window.__pinganLanding, which bench/workspace.py and
 * the browser tests wait for. Same-origin requests only; no inline script.
 */
(function () {
  "use strict";
  var parts = Array.prototype.slice.call(document.querySelectorAll("[data-part]"));
  var lang = document.documentElement.lang === "en" ? "en" : "zh";
  var pending = parts.length;

  function settled() {
    pending -= 1;
    if (pending === 0) {
      performance.mark("landing-ready");
      window.__pinganLanding = true;
    }
  }

  function problem(response, body) {
    var detail = body && (body.detail || body.title);
    return new Error(detail ? String(detail) : "HTTP " + response.status);
  }

  function showError(el, err) {
    el.dataset.state = "failed";
    el.textContent = "";
    var p = document.createElement("p");
    p.className = "muted part-error";
    p.textContent = (el.dataset.failed || "") + err.message;
    var again = document.createElement("button");
    again.type = "button";
    again.textContent = el.dataset.retry || "retry";
    again.addEventListener("click", function () { load(el, false); });
    p.appendChild(document.createTextNode(" "));
    p.appendChild(again);
    el.appendChild(p);
  }

  function load(el, first) {
    el.setAttribute("aria-busy", "true");
    var url = "/api/v1/landing/" + encodeURIComponent(el.dataset.part) + "?lang=" + lang;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (!response.ok || !body || typeof body.html !== "string") {
            throw problem(response, body);
          }
          return body;
        });
      })
      .then(function (body) {
        el.innerHTML = body.html;  // the server's escaped fragment
        el.dataset.state = "ready";
      })
      .catch(function (err) { showError(el, err); })
      .then(function () {
        el.removeAttribute("aria-busy");
        if (first) { settled(); }
      });
  }

  if (pending === 0) {
    pending = 1;
    settled();
  }
  parts.forEach(function (el) { load(el, true); });
}());
