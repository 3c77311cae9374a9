// The wheel on a case list: select all, count the selection, start the note from a template (its type and reply
// deadline too). The form works without this script; it only saves typing.
const form = document.querySelector("form.wheel");
if (form) {
  const boxes = () => [...form.querySelectorAll('input[name="cases"]')];
  const all = document.getElementById("select-all");
  const shown = document.getElementById("wheel-selected");
  const count = () => {
    const selected = boxes().filter((b) => b.checked);
    boxes().forEach((b) => b.closest("tr").classList.toggle("is-selected", b.checked));
    if (shown) {
      shown.textContent = (shown.dataset.template || "{selected} / {total}")
        .replace("{selected}", selected.length).replace("{total}", boxes().length);
    }
    if (all) all.checked = selected.length > 0 && selected.length === boxes().length;
  };
  if (all) {
    all.classList.remove("js-only");
    all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); count(); });
  }
  form.addEventListener("change", (event) => { if (event.target.name === "cases") count(); });
  const template = document.getElementById("wheel-template");
  if (template) {
    template.addEventListener("change", () => {
      const option = template.selectedOptions[0];
      if (!option || !option.value) return;
      document.getElementById("wheel-note").value = option.dataset.text;
      const action = form.querySelector(`input[name="action"][value="${option.dataset.kind}"]`);
      if (action) action.checked = true;
      if (option.dataset.type) document.getElementById("wheel-type").value = option.dataset.type;
      const due = new Date(Date.now() + Number(option.dataset.days || 3) * 86400000);
      const pad = (n) => String(n).padStart(2, "0");
      document.getElementById("wheel-reply_due").value =
        `${due.getFullYear()}-${pad(due.getMonth() + 1)}-${pad(due.getDate())}T${pad(due.getHours())}:${pad(due.getMinutes())}`;
    });
  }
  count();
}
