// Progressive: a "Copy" button beside each pull command. The page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  if (!navigator.clipboard) return;
  for (const box of document.querySelectorAll("div.cmd")) {
    const code = box.querySelector("code");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "copy";
    b.textContent = "Copy";
    b.setAttribute("aria-label", "Copy command");
    b.addEventListener("click", () => {
      navigator.clipboard.writeText(code.textContent).then(() => {
        b.textContent = "Copied";
        setTimeout(() => { b.textContent = "Copy"; }, 1500);
      });
    });
    box.appendChild(b);
  }
});
