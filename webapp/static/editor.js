// The editor's problem list: "Line N" selects that line in the Markdown field.
document.querySelectorAll("a[data-line]").forEach((link) => {
  link.addEventListener("click", (event) => {
    const field = document.getElementById("text");
    if (!field) return;
    event.preventDefault();
    const lines = field.value.split("\n");
    const wanted = Math.min(Math.max(Number(link.dataset.line) || 1, 1), lines.length);
    let start = 0;
    for (let i = 0; i < wanted - 1; i += 1) start += lines[i].length + 1;
    field.focus();
    field.setSelectionRange(start, start + lines[wanted - 1].length);
    const lineHeight = parseFloat(getComputedStyle(field).lineHeight) || 20;
    field.scrollTop = Math.max(0, (wanted - 3) * lineHeight);
  });
});
