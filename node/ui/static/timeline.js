// The live alerts timeline: new alerts arrive as Server-Sent Events from this
// dashboard (authenticated by the session cookie) and are added at the top of the list.
// Text is set with textContent only, never parsed as HTML.
(function () {
  "use strict";
  var list = document.getElementById("timeline");
  var status = document.getElementById("live-status");
  if (!list || !window.EventSource) { return; }
  var src = new EventSource(list.getAttribute("data-stream"));
  function say(text) { if (status) { status.textContent = text; } }
  function span(cls, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }
  src.addEventListener("open", function () { say(" (live)"); });
  src.addEventListener("error", function () { say(" (reconnecting…)"); });
  src.addEventListener("ended", function () {
    src.close();
    say(" (your session has ended: sign in again to follow alerts)");
  });
  src.addEventListener("alert", function (ev) {
    var a;
    try { a = JSON.parse(ev.data); } catch (e) { return; }
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.className = "alert new k-" + String(a.kind).replace(/[^a-z-]/g, "");
    li.appendChild(span("t", a.time));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(span("kind", a.kind));
    li.appendChild(document.createTextNode(" "));
    var subj = span("subject", "");
    if (a.href && a.href.indexOf("/ui/") === 0) {
      var link = document.createElement("a");
      link.href = a.href;
      link.textContent = a.subject;
      subj.appendChild(link);
    } else {
      subj.textContent = a.subject;
    }
    li.appendChild(subj);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(span("origin", "from " + a.origin));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(span("id", "#" + a.seq + " · " + a.source));
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 200) { list.removeChild(list.lastChild); }
  });
})();
