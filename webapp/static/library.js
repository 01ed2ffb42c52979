// The handout's print button (scripts must be files: the CSP allows no inline script).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print-page]")) window.print();
});
