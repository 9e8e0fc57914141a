// The page a sign-in ends on (oauth_result.html). Opened as a pop-up by Tether: tell the page
// that opened it, then close. A provider's page with a Cross-Origin-Opener-Policy cuts the pop-up
// off from that page (no window.opener): then the result goes on a channel only Tether's own
// origin hears, and the pop-up closes once the page waiting for it answers (in a tab of its own,
// nothing answers and it stays).
(function () {
  "use strict";
  var ok = document.body.dataset.ok === "true";
  var result = {type: "tether:oauth", ok: ok, authorizationId: document.body.dataset.authorizationId || null};
  if (window.opener) {
    window.opener.postMessage(result, window.location.origin);
    if (ok) window.close();
  } else if (window.BroadcastChannel) {
    var channel = new BroadcastChannel("tether:oauth");
    channel.addEventListener("message", function (event) {
      if (ok && event.data && event.data.type === "tether:oauth-received") window.close();
    });
    channel.postMessage(result);
  }
})();
