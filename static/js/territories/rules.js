// Rules editor: build a rule's criteria from rows of field / operator / value instead of typing JSON.
// The JSON textarea stays the form's value (and the way to write nested groups); the rows keep it in sync.
(function () {
  "use strict";
  const form = document.querySelector('[data-testid="rule-form"]');
  const fieldsNode = document.getElementById("rule-fields");
  if (!form || !fieldsNode) return;
  const fieldKinds = JSON.parse(fieldsNode.textContent);
  const builder = form.querySelector(".criteria-builder");
  const rows = builder.querySelector(".criteria-rows");
  const preview = builder.querySelector(".criteria-preview");
  const textarea = form.querySelector('textarea[name="criteria"]');
  const jsonBox = form.querySelector("details.criteria-json");

  const OPERATORS = {
    text: ["equals", "not_equals", "in", "not_in", "contains", "is_empty"],
    number: ["equals", "not_equals", "in", "not_in", "range", "is_empty"],
    list: ["contains", "in", "not_in", "is_empty"],
  };
  const WORDS = {equals: "equals", not_equals: "is not", in: "is one of", not_in: "is none of",
                 contains: "contains", range: "is between", is_empty: "is empty"};
  // list fields: "in" / "not_in" mean holds any / none of the values

  function option(value, label, selected) {
    const node = document.createElement("option");
    node.value = value;
    node.textContent = label;
    node.selected = selected;
    return node;
  }

  function input(name, placeholder, value) {
    const node = document.createElement("input");
    node.dataset.part = name;
    node.placeholder = placeholder;
    node.value = value == null ? "" : String(value);
    node.setAttribute("aria-label", placeholder);
    return node;
  }

  function valueInputs(cell, kind, op, value) {
    cell.replaceChildren();
    if (op === "range") {
      const [low, high] = Array.isArray(value) ? value : [null, null];
      cell.append(input("low", "from (blank: open)", low), input("high", "to (blank: open)", high));
    } else if (op === "in" || op === "not_in") {
      cell.append(input("list", "values, comma-separated", Array.isArray(value) ? value.join(", ") : value));
    } else if (op === "is_empty") {
      const select = document.createElement("select");
      select.dataset.part = "empty";
      select.setAttribute("aria-label", "empty or not");
      select.append(option("true", "yes", value !== false), option("false", "no (has a value)", value === false));
      cell.append(select);
    } else {
      cell.append(input("value", kind === "number" ? "a number" : "a value", value));
    }
  }

  function addRow(item) {
    item = item || {field: "industry", op: "equals", value: ""};
    const row = document.createElement("div");
    row.className = "criteria-row";
    const field = document.createElement("select");
    field.dataset.part = "field";
    field.setAttribute("aria-label", "field");
    Object.keys(fieldKinds).forEach((name) => field.append(option(name, name.replace(/_/g, " "), name === item.field)));
    const op = document.createElement("select");
    op.dataset.part = "op";
    op.setAttribute("aria-label", "operator");
    const cell = document.createElement("span");
    cell.className = "criteria-value";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link-dark";
    remove.textContent = "remove";
    remove.addEventListener("click", () => { row.remove(); sync(); });

    function fillOperators(selected) {
      const allowed = OPERATORS[fieldKinds[field.value]] || OPERATORS.text;
      const chosen = allowed.includes(selected) ? selected : allowed[0];
      op.replaceChildren(...allowed.map((name) => option(name, WORDS[name], name === chosen)));
      return chosen;
    }
    const chosen = fillOperators(item.op);
    valueInputs(cell, fieldKinds[field.value], chosen, item.value);
    field.addEventListener("change", () => { valueInputs(cell, fieldKinds[field.value], fillOperators(op.value), null); sync(); });
    op.addEventListener("change", () => { valueInputs(cell, fieldKinds[field.value], op.value, null); sync(); });
    row.addEventListener("input", sync);
    row.append(field, op, cell, remove);
    rows.append(row);
  }

  function typed(text, kind) {
    const trimmed = String(text).trim();
    if (kind === "number" && trimmed !== "" && !Number.isNaN(Number(trimmed))) return Number(trimmed);
    return trimmed;
  }

  function readRow(row) {
    const field = row.querySelector('[data-part="field"]').value;
    const op = row.querySelector('[data-part="op"]').value;
    const kind = fieldKinds[field];
    const part = (name) => row.querySelector(`[data-part="${name}"]`);
    let value;
    if (op === "range") {
      value = [part("low").value, part("high").value].map((end) => (end.trim() === "" ? null : typed(end, kind)));
    } else if (op === "in" || op === "not_in") {
      value = part("list").value.split(",").map((v) => typed(v, kind)).filter((v) => v !== "");
    } else if (op === "is_empty") {
      value = part("empty").value === "true";
    } else {
      value = typed(part("value").value, kind);
    }
    return {field, op, value};
  }

  function sync() {
    const items = Array.from(rows.children).map(readRow);
    textarea.value = JSON.stringify(items);
    preview.textContent = items.length ? "" : "No criteria: every account (inside the boundary, if ticked) matches.";
  }

  function load() {
    let items;
    try {
      items = JSON.parse(textarea.value || "[]");
    } catch (error) {
      items = null;
    }
    const flat = Array.isArray(items) && items.every((item) => item && !("criteria" in item) && item.field in fieldKinds);
    if (!flat) {
      // Nested groups or hand-written JSON the rows cannot show: leave the JSON box in charge.
      builder.hidden = true;
      jsonBox.open = true;
      return;
    }
    rows.replaceChildren();
    items.forEach(addRow);
    builder.hidden = false;
    sync();
  }

  builder.querySelector('[data-action="add-criterion"]').addEventListener("click", () => { addRow(); sync(); });
  textarea.addEventListener("change", load);
  load();
})();
