// Request access: progress while the reviewer works, expiry countdowns, copy buttons, and a
// pending request's status kept up to date.
(function () {
  "use strict";
  var form = document.getElementById("access-form");
  if (form) {
    form.addEventListener("submit", function () {
      document.getElementById("access-submit").disabled = true;
      document.getElementById("access-progress").hidden = false;
    });
  }

  function left(expires) {
    var seconds = Math.max(0, Math.round((new Date(expires) - new Date()) / 1000));
    if (seconds === 0) { return "expired"; }
    var minutes = Math.floor(seconds / 60);
    return (minutes ? minutes + " min " : "") + (seconds % 60) + " s";
  }
  var countdowns = document.querySelectorAll(".countdown[data-expires]");
  function tick() {
    countdowns.forEach(function (element) { element.textContent = left(element.dataset.expires); });
  }
  if (countdowns.length) { tick(); window.setInterval(tick, 1000); }

  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent;
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = "Copied";
      }, function () {
        button.textContent = "Select and copy";
      });
    });
  });

  var poll = document.querySelector("[data-poll]");
  if (poll) {
    var check = function () {
      fetch(poll.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) { return; }
          poll.textContent = "Status: " + body.status;
          if (body.status !== "pending") {
            window.location.assign(poll.dataset.poll.replace(/\/status$/, ""));
          }
        })
        .catch(function () { poll.textContent = "Status: pending (reconnecting…)"; });
    };
    window.setInterval(check, 3000);
  }
})();
