package reports

// largeJS renders the large layout of report.html from its JSON data: the
// filtered cases a page at a time, and a case's evidence on demand. Every
// value reaches the page through textContent, never as markup.
const largeJS = `
(function () {
  var data = JSON.parse(document.getElementById("corscheck-data").textContent);
  var H = data.h, C = data.c, E = data.e, engines = data.engines || [];
  var PAGE = PAGE_SIZE;
  var only = document.getElementById("only-failures"), q = document.getElementById("q");
  var keys = ["family", "origin", "method", "credentials", "route"];
  var col = {family: 1, origin: 3, method: 4, credentials: 5, route: 6};
  var sel = {};
  keys.forEach(function (k) { sel[k] = document.getElementById(k); });
  var rows = document.getElementById("rows"), shown = document.getElementById("shown");
  var prev = document.getElementById("prev"), next = document.getElementById("next");
  var page = 0, matched = [];
  function bad(v) { return v === "fail" || v === "error"; }
  function filter() {
    var needle = q.value.toLowerCase();
    matched = [];
    for (var i = 0; i < C.length; i++) {
      var c = C[i];
      if (only.checked && !bad(c[2])) continue;
      var ok = true;
      for (var k = 0; k < keys.length; k++) {
        var v = sel[keys[k]].value;
        if (v !== "" && c[col[keys[k]]] !== v) { ok = false; break; }
      }
      if (!ok) continue;
      if (needle !== "" && (c[0] + " " + c[7]).toLowerCase().indexOf(needle) < 0) continue;
      matched.push(i);
    }
    page = 0;
    render();
  }
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function render() {
    rows.textContent = "";
    var from = page * PAGE, to = Math.min(matched.length, from + PAGE);
    for (var k = from; k < to; k++) {
      var i = matched[k], c = C[i];
      var tr = document.createElement("tr");
      tr.className = "case";
      tr.dataset.id = c[0];
      tr.dataset.verdict = c[2];
      cell(tr, c[2], "v " + c[2]);
      (c[8] || []).forEach(function (v, j) {
        cell(tr, v, "v " + v + " engine").dataset.engine = engines[j] || "";
      });
      var td = cell(tr, "", "");
      var a = document.createElement("a");
      a.href = "#d-" + c[0];
      var code = document.createElement("code");
      code.textContent = c[0];
      a.appendChild(code);
      a.addEventListener("click", (function (i) { return function (ev) { ev.preventDefault(); show(i); }; })(i));
      td.appendChild(a);
      if (c[9]) {
        var b = document.createElement("span");
        b.className = "bdiff";
        b.textContent = "browser difference";
        td.appendChild(document.createTextNode(" "));
        td.appendChild(b);
      }
      cell(tr, c[7], "title");
      rows.appendChild(tr);
    }
    shown.textContent = matched.length ? (from + 1) + "\u2013" + to + " of " + matched.length + " matching cases" : "no case matches";
    prev.disabled = page === 0;
    next.disabled = to >= matched.length;
  }
  function para(parent, label, text, tag) {
    if (text === undefined || text === null || text === "") return;
    var p = document.createElement(tag || "p");
    if (label) {
      var b = document.createElement("b");
      b.textContent = label + " ";
      p.appendChild(b);
    }
    p.appendChild(document.createTextNode(String(text)));
    parent.appendChild(p);
  }
  function pre(parent, text) {
    if (!text) return;
    var p = document.createElement("pre");
    p.textContent = text;
    parent.appendChild(p);
  }
  function show(i) {
    var c = C[i], e = E[i];
    var box = document.getElementById("evidence");
    box.textContent = "";
    var d = document.createElement("details");
    d.open = true;
    d.id = "d-" + c[0];
    var s = document.createElement("summary");
    var v = document.createElement("b");
    v.className = c[2];
    v.textContent = c[2];
    s.appendChild(v);
    s.appendChild(document.createTextNode(" " + c[0] + ": " + e.Title));
    d.appendChild(s);
    para(d, "", e.Message);
    para(d, "Fix:", e.Fix);
    para(d, "Browser difference:", e.Difference);
    (e.Browsers || []).forEach(function (b) {
      para(d, "In " + b.Browser + ":", b.Verdict + (b.CorsError ? " \u00b7 corsError " + b.CorsError : "") + (b.Reason ? " \u00b7 Firefox reason " + b.Reason : "") + " \u00b7 " + b.Message);
    });
    para(d, "Expected", e.Expected + ", observed " + e.Outcome + (e.CorsError ? " \u00b7 corsError " + e.CorsError : "") + (e.Param ? " \u00b7 failedParameter " + e.Param : "") + (e.Header ? " \u00b7 header at fault " + e.Header : ""));
    pre(d, e.Console);
    pre(d, e.Error);
    para(d, "Request", e.Request + ", credentials " + e.Credentials);
    if (e.Preflight) {
      para(d, "Preflight", "status " + e.Preflight.s);
      pre(d, H[e.Preflight.q]);
      pre(d, H[e.Preflight.h]);
    }
    if (e.Redirects) para(d, "Redirects", e.Redirects);
    if (e.Response) {
      para(d, "Response", "status " + e.Response.s + (e.Response.u ? " from " + e.Response.u : ""));
      pre(d, H[e.Response.h]);
    }
    if (e.Status) para(d, "Not about CORS:", "the server answered " + e.Status + (e.Inconclusive ? "; this case is inconclusive" : ""));
    if (e.Repeats) para(d, "Repeats", e.Repeats);
    para(d, "Fetch Standard:", e.Spec);
    box.appendChild(d);
    d.scrollIntoView();
  }
  keys.forEach(function (k) { sel[k].addEventListener("input", filter); });
  only.addEventListener("input", filter);
  q.addEventListener("input", filter);
  prev.addEventListener("click", function () { if (page > 0) { page--; render(); } });
  next.addEventListener("click", function () { if ((page + 1) * PAGE < matched.length) { page++; render(); } });
  filter();
  if (location.hash.indexOf("#d-") === 0) {
    var id = decodeURIComponent(location.hash.slice(3));
    for (var i = 0; i < C.length; i++) if (C[i][0] === id) { show(i); break; }
  }
})();
`
