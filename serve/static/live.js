// gitstore web view: reload the page when the change feed (/events, Server-Sent
// Events) names what it shows: the ticket of a ticket page, any ticket for the list.
// A page with text being typed is not reloaded: it shows a notice instead.
(function () {
  "use strict";
  var body = document.body;
  var watch = body.dataset.watch;
  if (!watch || !window.EventSource) { return; }
  var shown = body.dataset.commit || "";
  var ticket = body.dataset.ticket || "";
  var url = "/events" + (shown ? "?last_event_id=" + encodeURIComponent(shown) : "");
  var source = new EventSource(url);

  function typing() {
    var fields = document.querySelectorAll("textarea, input[type=text]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) { return true; }
    }
    return false;
  }

  function handle(event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (!data || data.id === shown) { return; }
    var named = (data.tickets || []).map(function (t) { return t.ticket; });
    var mine = watch === "list" ? named.length > 0 : named.indexOf(ticket) >= 0;
    if (!mine) { return; }
    if (typing()) {
      document.getElementById("live-notice").hidden = false;
      return;
    }
    source.close();
    window.location.reload();
  }

  source.onmessage = handle;
  ["ticket.created", "ticket.updated"].forEach(function (type) {
    source.addEventListener(type, handle);
  });
})();
