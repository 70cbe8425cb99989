// "Copy as curl": copies the text of the element named by the button's data-target.
(function () {
  "use strict";
  const button = document.getElementById("copy-curl");
  if (!button) { return; }
  const status = document.getElementById("copy-curl-status");
  button.addEventListener("click", function () {
    const text = document.getElementById(button.dataset.target).textContent;
    const done = function () { status.textContent = "Copied."; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { status.textContent = "Select the text and copy it."; });
    } else {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById(button.dataset.target));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      status.textContent = document.execCommand("copy") ? "Copied." : "Select the text and copy it.";
    }
  });
})();
