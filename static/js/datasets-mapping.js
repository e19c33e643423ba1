// The column review page: when the kind changes, each "Maps to" select offers that kind's fields
// (the server validates the same rule); ignored columns are dimmed.

const form = document.querySelector("form[data-mapping-form]");
const fieldsElement = document.getElementById("kind-fields");
const FIXED_OPTIONS = 2; // "Keep as a custom attribute" and "Ignore this column" come first

function setUp() {
  if (!form || !fieldsElement) return;
  const kindFields = JSON.parse(fieldsElement.textContent);
  const kindSelect = form.querySelector("select[name=kind]");
  const fieldSelects = [...form.querySelectorAll("select[name$=_field]")];

  function offerFieldsOf(kind) {
    const fields = kindFields[kind] || [];
    for (const select of fieldSelects) {
      const current = select.value;
      while (select.options.length > FIXED_OPTIONS) select.remove(FIXED_OPTIONS);
      for (const [value, label] of fields) select.add(new Option(label, value));
      select.value = fields.some(([value]) => value === current) || select.querySelector(`option[value="${CSS.escape(current)}"]`) ? current : "";
    }
  }

  function markIgnored(select) {
    select.closest("[data-mapping-row]")?.classList.toggle("is-ignored", select.value === "__ignore__");
  }

  kindSelect?.addEventListener("change", () => offerFieldsOf(kindSelect.value));
  for (const select of fieldSelects) select.addEventListener("change", () => markIgnored(select));
}

setUp();
