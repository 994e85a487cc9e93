// Show the account picker for account moves and the JSON details for the other kinds of change.
(function () {
  const kind = document.getElementById("kind");
  if (!kind) return;
  const accounts = document.getElementById("move-accounts");
  const other = document.getElementById("other-payload");
  function sync() {
    const isAccounts = kind.value === "move_accounts";
    accounts.hidden = !isAccounts;
    other.hidden = isAccounts;
  }
  kind.addEventListener("change", sync);
  sync();
})();
