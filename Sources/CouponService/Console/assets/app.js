"use strict";
// coupond console: sign-in, campaigns, live campaign page, create form, finance reconciliation.
// Every value from the API is put on the page as text (textContent), never as HTML.
(function () {
  const { t } = I18N;
  const main = document.getElementById("main");
  const KEY = "coupond.key", ROLE = "coupond.role";
  const VIEWS = {
    campaigns: ["admin", "finance"], campaign: ["admin", "finance"], create: ["admin"], finance: ["finance"], stores: ["finance"],
    coupon: ["admin"],
  };
  const OUTCOMES = ["granted", "sold_out", "limit_reached", "rate_limited", "not_eligible", "paused", "not_started", "ended"];
  let timers = [];
  let generation = 0;

  // ---- DOM helpers ----------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }
  let fieldCounter = 0;
  function field(labelText, control, apiName) {
    const id = control.id || "f" + (++fieldCounter);
    control.id = id;
    const error = h("span", { class: "field-error", id: id + "-error", role: "alert" });
    control.setAttribute("aria-describedby", id + "-error");
    if (apiName) control.dataset.api = apiName;
    return h("label", { class: "field", for: id }, h("span", { text: labelText }), control, error);
  }
  function setView(...children) {
    while (main.firstChild) main.removeChild(main.firstChild);
    for (const child of children) if (child) main.appendChild(child);
  }
  function message(text, kind) { return h("div", { class: "message" + (kind ? " " + kind : ""), role: "status", text }); }
  // Runs `fn` now and every `ms`, skipping a turn while the previous call is still waiting.
  function every(ms, fn) {
    let busy = false;
    const run = async () => {
      if (busy) return;
      busy = true;
      try { await fn(); } finally { busy = false; }
    };
    run();
    timers.push(setInterval(run, ms));
  }
  function badge(state) { return h("span", { class: "badge " + state, "data-state": state, text: t("state_" + state) }); }

  // ---- API ------------------------------------------------------------------------------
  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + sessionStorage.getItem(KEY) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (response.status === 401) { signOut(); throw new Error("unauthorized"); }
    return { status: response.status, json, text };
  }
  function apiMessage(result) {
    return (result.json && result.json.error && result.json.error.message) || "HTTP " + result.status;
  }

  // ---- Chrome -----------------------------------------------------------------------------
  function role() { return sessionStorage.getItem(ROLE); }
  function signOut() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ROLE);
    if (location.hash !== "#/signin") location.hash = "#/signin"; else render();
  }
  function renderChrome(active) {
    const nav = document.getElementById("nav");
    while (nav.firstChild) nav.removeChild(nav.firstChild);
    const r = role();
    const links = [["campaigns", "nav_campaigns"], ["create", "nav_create"], ["coupon", "nav_coupon"], ["finance", "nav_finance"],
      ["stores", "nav_stores"]];
    for (const [view, label] of links) {
      if (!r || !VIEWS[view].includes(r)) continue;
      nav.appendChild(h("a", { href: "#/" + view, id: "nav-" + view, "aria-current": active === view ? "page" : null, text: t(label) }));
    }
    const out = document.getElementById("signout");
    out.hidden = !r;
    out.textContent = t("signout");
    out.title = r ? t("signed_in_as", { role: r }) : "";
    document.getElementById("zone").textContent = t("zone", { zone: I18N.zone });
    document.getElementById("lang-label").textContent = t("language");
    document.getElementById("lang").value = I18N.lang;
    document.getElementById("skip-link").textContent = t("skip");
    document.getElementById("confirm-cancel").textContent = t("cancel");
    document.getElementById("confirm-ok").textContent = t("ok");
  }
  function confirmAction(text) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = text;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      document.getElementById("confirm-ok").focus();
    });
  }

  // ---- Router -----------------------------------------------------------------------------
  function render() {
    timers.forEach(clearInterval);
    timers = [];
    generation++;
    const parts = location.hash.replace(/^#\/?/, "").split("/");
    let view = parts[0] || "campaigns";
    if (view === "campaigns" && parts[1]) view = "campaign";
    if (!sessionStorage.getItem(KEY) || view === "signin") { renderChrome(null); return signInView(); }
    renderChrome(view === "campaign" ? "campaigns" : view);
    const r = role();
    if (!Object.values(VIEWS).some((roles) => roles.includes(r))) return setView(message(t("role_none", { role: r }), "error"));
    if (!VIEWS[view]) view = "campaigns";
    if (!VIEWS[view].includes(r)) {
      return setView(message(t("role_needs", { roles: VIEWS[view].join(" / "), role: r }), "error"));
    }
    const handlers = {
      campaigns: campaignsView, campaign: () => campaignView(parts[1]), create: createView, finance: financeView, stores: storesView,
      coupon: couponView,
    };
    handlers[view]();
    main.focus();
  }
  window.addEventListener("hashchange", render);
  document.getElementById("lang").addEventListener("change", (event) => { I18N.setLang(event.target.value); render(); });
  document.getElementById("signout").addEventListener("click", signOut);

  // ---- Sign in ----------------------------------------------------------------------------
  function signInView() {
    const input = h("input", { type: "password", id: "api-key", autocomplete: "off", spellcheck: "false", required: true });
    const status = h("div", { id: "signin-status" });
    const form = h("form", { class: "card", id: "signin-form", novalidate: true },
      h("h1", { text: t("signin_title") }), field(t("signin_key"), input),
      h("p", { class: "muted", text: t("signin_help") }), status,
      h("button", { type: "submit", class: "primary", id: "signin-button", text: t("signin_button") }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      try {
        const response = await fetch("/v1/whoami", { headers: { Authorization: "Bearer " + key }, cache: "no-store" });
        const body = await response.json().catch(() => null);
        if (response.status !== 200 || !body || !body.role) {
          sessionStorage.removeItem(KEY);
          status.replaceChildren(message(t("signin_bad"), "error"));
          return;
        }
        sessionStorage.setItem(ROLE, body.role);
        location.hash = body.role === "finance" ? "#/campaigns" : "#/campaigns";
        render();
      } catch (error) {
        sessionStorage.removeItem(KEY);
        status.replaceChildren(message(t("signin_error", { error: error.message }), "error"));
      }
    });
    setView(form);
    input.focus();
  }

  // ---- Campaign list ----------------------------------------------------------------------
  function timeLeft(campaign) {
    const now = Date.now(), start = Date.parse(campaign.claim_start), end = Date.parse(campaign.claim_end);
    if (now < start) return t("not_started", { t: I18N.duration(start - now) });
    if (now >= end) return t("closed");
    return I18N.duration(end - now);
  }
  function campaignsView() {
    const mine = generation;
    const state = h("select", { id: "filter-state" }, h("option", { value: "", text: t("all") }),
      ["active", "paused", "ended"].map((s) => h("option", { value: s, text: t("state_" + s) })));
    const kind = h("select", { id: "filter-kind" }, h("option", { value: "", text: t("all") }),
      ["amount_off", "percent_off", "free_shipping", "gift", "cash"].map((k) => h("option", { value: k, text: t("kind_" + k) })));
    const search = h("input", { type: "search", id: "filter-search", maxlength: "100" });
    const body = h("tbody", { id: "campaign-rows" });
    const status = h("div");
    const more = h("button", { type: "button", id: "load-more", hidden: true, text: t("load_more") });
    let cursor = null, pages = 1;
    const columns = [["col_id", "num"], ["col_name"], ["col_state"], ["col_kind"], ["col_stock", "num"], ["col_remaining", "num"],
      ["col_issued", "num"], ["col_claims", "num"], ["col_redemption", "num"], ["col_time_left"]];
    const table = h("div", { class: "table-wrap" }, h("table", { id: "campaign-table" },
      h("thead", {}, h("tr", {}, columns.map(([label, cls]) => h("th", { scope: "col", class: cls, text: t(label) })))), body));
    function query(extra) {
      const params = new URLSearchParams();
      if (state.value) params.set("state", state.value);
      if (kind.value) params.set("kind", kind.value);
      if (search.value.trim()) params.set("q", search.value.trim());
      for (const [k, v] of Object.entries(extra)) params.set(k, v);
      return "/v1/campaigns?" + params.toString();
    }
    function row(c) {
      return h("tr", { "data-id": c.id },
        h("td", { class: "num", text: c.id }),
        h("td", { class: "name" }, h("a", { href: "#/campaigns/" + c.id, class: "campaign-link", text: c.name })),
        h("td", {}, badge(c.state)), h("td", { text: t("kind_" + c.kind) }),
        h("td", { class: "num", text: I18N.number(c.stock) }), h("td", { class: "num", text: I18N.number(c.remaining) }),
        h("td", { class: "num", text: I18N.number(c.issued) }), h("td", { class: "num", text: I18N.number(c.claims_last_second) }),
        h("td", { class: "num", text: I18N.percent(c.redemption_rate) }), h("td", { text: timeLeft(c) }));
    }
    let latest = 0; // answers to older requests (other filters) are dropped
    async function load(append) {
      const seq = ++latest;
      try {
        const result = await api("GET", query(append ? { cursor, limit: "50" } : { limit: String(50 * pages) }));
        if (mine !== generation || seq !== latest) return;
        if (result.status !== 200) return status.replaceChildren(message(t("error", { error: apiMessage(result) }), "error"));
        status.replaceChildren();
        const rows = result.json.campaigns.map(row);
        // The list redraws every 2 s: keep keyboard focus on the same campaign's link.
        const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.closest("tr[data-id]") : null;
        if (append) { rows.forEach((r) => body.appendChild(r)); pages++; } else body.replaceChildren(...rows);
        if (focused) { const link = body.querySelector('tr[data-id="' + focused.dataset.id + '"] a'); if (link) link.focus(); }
        if (!body.firstChild) body.appendChild(h("tr", {}, h("td", { colspan: columns.length, class: "muted", text: t("no_campaigns") })));
        cursor = result.json.next_cursor;
        more.hidden = !cursor;
      } catch (error) {
        if (mine === generation && error.message !== "unauthorized") status.replaceChildren(message(t("unreachable"), "error"));
      }
    }
    let debounce = null;
    const reload = () => { pages = 1; load(false); };
    state.addEventListener("change", reload);
    kind.addEventListener("change", reload);
    search.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(reload, 250); });
    more.addEventListener("click", () => load(true));
    setView(h("h1", { text: t("campaigns_title") }),
      h("div", { class: "card row", role: "search" }, field(t("filter_state"), state), field(t("filter_kind"), kind), field(t("filter_search"), search)),
      status, table, h("p", {}, more));
    every(2000, () => load(false));
  }

  // ---- Campaign page ----------------------------------------------------------------------
  function campaignView(id) {
    const mine = generation;
    if (!/^[1-9][0-9]{0,18}$/.test(id || "")) return setView(message(t("error", { error: "not found" }), "error"));
    const title = h("h1", { id: "campaign-name" });
    const stateHolder = h("span", { id: "campaign-state" });
    const info = h("p", { class: "muted", id: "campaign-info" });
    const status = h("div", { id: "campaign-status" });
    const figures = h("div", { class: "figures", id: "figures" });
    const claimsSvg = Charts.svg(); claimsSvg.id = "chart-claims";
    const stockSvg = Charts.svg(); stockSvg.id = "chart-remaining";
    const lagSvg = Charts.svg(); lagSvg.id = "chart-backlog";
    const claimsLegend = h("div", { class: "legend" }), claimsNow = h("span", { id: "claims-now", class: "muted" });
    const actions = h("div", { class: "card row", id: "actions" });
    let campaign = null, currency = "CNY";
    const isAdmin = role() === "admin";

    const pause = h("button", { type: "button", id: "pause-button", class: "danger", text: t("pause") });
    const resume = h("button", { type: "button", id: "resume-button", text: t("resume") });
    const units = h("input", { type: "number", id: "stock-units", min: "1", step: "1", value: "100", inputmode: "numeric" });
    const addStock = h("button", { type: "button", id: "add-stock-button", text: t("add_stock") });
    async function act(confirmText, method, path, body) {
      if (!(await confirmAction(confirmText))) return;
      const result = await api(method, path, body);
      if (result.status === 200) { campaign = result.json; status.replaceChildren(message(t("done"))); showCampaign(); }
      else status.replaceChildren(message(t("error", { error: apiMessage(result) }), "error"));
    }
    pause.addEventListener("click", () => act(t("confirm_pause", { name: campaign.name }), "POST", "/v1/campaigns/" + id + "/pause"));
    resume.addEventListener("click", () => act(t("confirm_resume", { name: campaign.name }), "POST", "/v1/campaigns/" + id + "/resume"));
    addStock.addEventListener("click", () => {
      const n = Number(units.value);
      if (!Number.isInteger(n) || n < 1) { units.setAttribute("aria-invalid", "true"); return; }
      units.removeAttribute("aria-invalid");
      act(t("confirm_stock", { n: I18N.number(n), name: campaign.name }), "POST", "/v1/campaigns/" + id + "/stock", { add: n });
    });
    if (isAdmin) actions.append(pause, resume, field(t("units"), units), addStock); else actions.hidden = true;

    function showCampaign() {
      title.textContent = campaign.name;
      stateHolder.replaceChildren(badge(campaign.state));
      info.textContent = t("campaign_title", { id: campaign.id }) + " · " + t("window") + ": " + I18N.time(campaign.claim_start) + " – " +
        I18N.time(campaign.claim_end) + " · " + t("per_user") + ": " + campaign.per_user_limit;
      pause.hidden = campaign.state !== "active";
      resume.hidden = campaign.state !== "paused";
      const closed = campaign.state === "ended";
      addStock.disabled = closed;
    }
    function figure(label, value, key) {
      return h("div", { class: "figure", "data-figure": key }, h("div", { class: "label", text: label }), h("div", { class: "value", text: value }));
    }
    function showStats(s) {
      currency = s.currency || currency;
      figures.replaceChildren(
        figure(t("fig_stock"), I18N.number(s.stock), "stock"), figure(t("fig_remaining"), I18N.number(s.remaining), "remaining"),
        figure(t("fig_issued"), I18N.number(s.issued), "issued"), figure(t("fig_flushed"), I18N.number(s.flushed), "flushed"),
        figure(t("fig_not_flushed"), I18N.number(s.not_yet_flushed), "not_yet_flushed"),
        figure(t("fig_redeemed"), I18N.number(s.redeemed), "redeemed"), figure(t("fig_restored"), I18N.number(s.restored), "restored"),
        figure(t("fig_expired"), I18N.number(s.expired), "expired"), figure(t("fig_outstanding"), I18N.number(s.outstanding), "outstanding"),
        figure(t("fig_outstanding_value"), I18N.money(s.outstanding_face_value, currency), "outstanding_face_value"),
        figure(t("fig_discount"), I18N.money(s.discount, currency), "discount"),
        figure(t("fig_revenue"), I18N.money(s.order_revenue, currency), "order_revenue"),
        figure(t("fig_redemption_rate"), I18N.percent(s.redemption_rate), "redemption_rate"),
        figure(t("fig_roi"), s.roi === null || s.roi === undefined ? "—" : I18N.number(Math.round(s.roi * 100) / 100), "roi"));
    }
    function showSeries(w) {
      const fromSec = Math.floor(Date.parse(w.from) / 1000);
      const names = OUTCOMES.filter((o) => w.claims[o]).concat(Object.keys(w.claims).filter((o) => !OUTCOMES.includes(o)).sort());
      const shown = names.filter((o) => o === "granted" || o === "sold_out" || w.claims[o].some((v) => v > 0));
      const series = shown.map((o) => ({ name: o, label: t("out_" + o), color: Charts.colors[o] || "#444", values: w.claims[o] }));
      const last = w.seconds >= 2 ? names.reduce((sum, o) => sum + w.claims[o][w.seconds - 2], 0) : 0;
      claimsNow.textContent = t("claims_now", { n: I18N.number(last) });
      Charts.draw(claimsSvg, series, fromSec, (v) => I18N.number(Math.round(v * 10) / 10),
        t("chart_claims") + ". " + t("claims_now", { n: last }));
      Charts.legend(claimsLegend, series);
      const lastRemaining = w.remaining[w.remaining.length - 1];
      Charts.draw(stockSvg, [{ name: "remaining", label: t("fig_remaining"), color: Charts.colors.remaining, values: w.remaining }],
        fromSec, (v) => I18N.number(Math.round(v)), t("chart_remaining") + ": " + I18N.number(lastRemaining));
      // Grant → PostgreSQL lag: the largest per second, recorded in Redis by whichever node's flusher committed.
      Charts.draw(lagSvg, [{ name: "lag_ms", label: t("fig_lag"), color: "#8a5a00", values: w.lag_ms || [] }],
        fromSec, (v) => I18N.number(Math.round(v)), t("chart_backlog"));
    }
    async function tick() {
      try {
        const [c, s, w] = await Promise.all([
          api("GET", "/v1/campaigns/" + id), api("GET", "/v1/campaigns/" + id + "/stats"), api("GET", "/v1/campaigns/" + id + "/series?seconds=300")]);
        if (mine !== generation) return;
        if (c.status !== 200) return status.replaceChildren(message(t("error", { error: apiMessage(c) }), "error"));
        campaign = c.json;
        showCampaign();
        if (s.status === 200) showStats(s.json);
        if (w.status === 200) showSeries(w.json);
      } catch (error) {
        if (mine === generation && error.message !== "unauthorized") status.replaceChildren(message(t("unreachable"), "error"));
      }
    }
    setView(h("p", {}, h("a", { href: "#/campaigns", text: t("back") })),
      h("div", { class: "row" }, title, stateHolder), info, status, actions, figures,
      h("div", { class: "charts" },
        h("section", { class: "card", "aria-labelledby": "chart-claims-title" },
          h("h2", { id: "chart-claims-title", text: t("chart_claims") }), claimsNow, claimsSvg, claimsLegend),
        h("section", { class: "card", "aria-labelledby": "chart-remaining-title" },
          h("h2", { id: "chart-remaining-title", text: t("chart_remaining") }), stockSvg),
        h("section", { class: "card", "aria-labelledby": "chart-backlog-title" },
          h("h2", { id: "chart-backlog-title", text: t("chart_backlog") }), lagSvg)));
    every(1000, tick);
  }

  // ---- Create -------------------------------------------------------------------------------
  function localInput(id, offsetMs) {
    const d = new Date(Date.now() + offsetMs);
    d.setSeconds(0, 0);
    const pad = (n) => String(n).padStart(2, "0");
    const value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
    return h("input", { type: "datetime-local", id, value });
  }
  function rfc3339(input) { // datetime-local is in the viewer's zone; the API wants an instant
    if (!input.value) return "";
    const date = new Date(input.value);
    return isNaN(date.getTime()) ? input.value : date.toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  function list(input) { return input.value.split(",").map((s) => s.trim()).filter(Boolean); }
  function createView() {
    const tplName = h("input", { type: "text", id: "tpl-name", value: "" });
    const currency = h("select", { id: "tpl-currency" }, ["CNY", "USD", "EUR", "JPY", "HKD", "GBP"].map((c) => h("option", { value: c, text: c })));
    const kind = h("select", { id: "tpl-kind" }, ["amount_off", "percent_off", "free_shipping", "gift", "cash"].map((k) => h("option", { value: k, text: t("kind_" + k) })));
    const threshold = h("input", { type: "text", inputmode: "decimal", id: "tpl-threshold" });
    const amount = h("input", { type: "text", inputmode: "decimal", id: "tpl-amount" });
    const percent = h("input", { type: "text", inputmode: "numeric", id: "tpl-percent" });
    const cap = h("input", { type: "text", inputmode: "decimal", id: "tpl-cap" });
    const sku = h("input", { type: "text", id: "tpl-sku" });
    const giftValue = h("input", { type: "text", inputmode: "decimal", id: "tpl-gift-value" });
    const lines = h("input", { type: "text", id: "tpl-business-lines" });
    const stores = h("input", { type: "text", id: "tpl-store-ids" });
    const vtype = h("select", { id: "tpl-validity-type" }, h("option", { value: "relative", text: t("validity_relative") }), h("option", { value: "fixed", text: t("validity_fixed") }));
    const days = h("input", { type: "text", inputmode: "numeric", id: "tpl-days", value: "7" });
    const vfrom = localInput("tpl-valid-from", 0), vuntil = localInput("tpl-valid-until", 30 * 86400000);
    const name = h("input", { type: "text", id: "c-name" });
    const stock = h("input", { type: "text", inputmode: "numeric", id: "c-stock", value: "1000" });
    const limit = h("input", { type: "text", inputmode: "numeric", id: "c-per-user-limit", value: "1" });
    const start = localInput("c-claim-start", 0), end = localInput("c-claim-end", 86400000);
    const tags = h("input", { type: "text", id: "c-required-tags" });
    const status = h("div", { id: "create-status" });
    const hint = h("p", { class: "muted" });
    const kindFields = {
      threshold: field(t("f_threshold"), threshold, "template:threshold"), amount: field(t("f_amount"), amount, "template:amount"),
      percent: field(t("f_percent"), percent, "template:percent"), cap: field(t("f_cap"), cap, "template:cap"),
      sku: field(t("f_sku"), sku, "template:sku"), gift_value: field(t("f_gift_value"), giftValue, "template:gift_value"),
    };
    const uses = { amount_off: ["threshold", "amount"], percent_off: ["threshold", "percent", "cap"], free_shipping: ["threshold"],
      gift: ["threshold", "sku", "gift_value"], cash: ["amount"] };
    const fixedFields = [field(t("f_valid_from"), vfrom, "template:validity.from"), field(t("f_valid_until"), vuntil, "template:validity.until")];
    const daysField = field(t("f_days"), days, "template:validity.days");
    function sync() {
      for (const [key, node] of Object.entries(kindFields)) node.hidden = !uses[kind.value].includes(key);
      const fixed = vtype.value === "fixed";
      fixedFields.forEach((f) => { f.hidden = !fixed; });
      daysField.hidden = fixed;
      hint.textContent = t("money_hint", { currency: currency.value });
    }
    kind.addEventListener("change", sync);
    vtype.addEventListener("change", sync);
    currency.addEventListener("change", sync);
    function minor(input) { // major units typed by a person → integer minor units; anything else goes as typed
      const text = input.value.trim();
      if (!/^\d+(\.\d+)?$/.test(text)) return text === "" ? undefined : text;
      return Math.round(Number(text) * Math.pow(10, I18N.fractionDigits(currency.value)));
    }
    function integer(input) { const text = input.value.trim(); return /^-?\d+$/.test(text) ? Number(text) : (text === "" ? undefined : text); }
    function templateBody() {
      const body = { name: tplName.value, currency: currency.value, kind: kind.value };
      const values = { threshold: minor(threshold), amount: minor(amount), percent: integer(percent), cap: minor(cap),
        sku: sku.value.trim() || undefined, gift_value: minor(giftValue) };
      for (const key of uses[kind.value]) if (values[key] !== undefined) body[key] = values[key];
      if (list(lines).length || list(stores).length) body.scope = { business_lines: list(lines), store_ids: list(stores) };
      body.validity = vtype.value === "fixed" ? { type: "fixed", from: rfc3339(vfrom), until: rfc3339(vuntil) } : { type: "relative", days: integer(days) };
      return body;
    }
    let lastTemplate = null; // {json, id}: a template created before its campaign failed is reused
    function clearErrors() {
      for (const node of main.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
      for (const node of main.querySelectorAll(".field-error")) node.textContent = "";
    }
    function showErrors(scope, result) {
      const text = apiMessage(result);
      let placed = false;
      for (const part of text.split("; ")) {
        const colon = part.indexOf(": ");
        const path = colon > 0 ? part.slice(0, colon) : "";
        const input = path && main.querySelector('[data-api="' + scope + ":" + CSS.escape(path) + '"]');
        if (input) {
          input.setAttribute("aria-invalid", "true");
          document.getElementById(input.id + "-error").textContent = part.slice(colon + 2);
          if (!placed) input.focus();
          placed = true;
        }
      }
      status.replaceChildren(message(placed ? t("fix_errors") : t("error", { error: text }), "error"));
    }
    const form = h("form", { id: "create-form", novalidate: true },
      h("h1", { text: t("create_title") }),
      h("fieldset", {}, h("legend", { text: t("template") }), hint,
        h("div", { class: "row" }, field(t("f_template_name"), tplName, "template:name"), field(t("f_currency"), currency, "template:currency"),
          field(t("f_kind"), kind, "template:kind")),
        h("div", { class: "row" }, Object.values(kindFields)),
        h("div", { class: "row" }, field(t("f_business_lines"), lines, "template:scope.business_lines"),
          field(t("f_store_ids"), stores, "template:scope.store_ids")),
        h("div", { class: "row" }, field(t("f_validity_type"), vtype, "template:validity.type"), daysField, fixedFields)),
      h("fieldset", {}, h("legend", { text: t("campaign") }),
        h("div", { class: "row" }, field(t("f_name"), name, "campaign:name"), field(t("f_stock"), stock, "campaign:stock"),
          field(t("f_per_user_limit"), limit, "campaign:per_user_limit")),
        h("div", { class: "row" }, field(t("f_claim_start"), start, "campaign:claim_start"), field(t("f_claim_end"), end, "campaign:claim_end"),
          field(t("f_required_tags"), tags, "campaign:eligibility.required_tags"))),
      status, h("button", { type: "submit", class: "primary", id: "create-button", text: t("create_button") }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors();
      status.replaceChildren();
      try {
        const template = templateBody();
        const json = JSON.stringify(template);
        let templateId = lastTemplate && lastTemplate.json === json ? lastTemplate.id : null;
        if (!templateId) {
          const created = await api("POST", "/v1/templates", template);
          if (created.status !== 201) return showErrors("template", created);
          templateId = created.json.id;
          lastTemplate = { json, id: templateId };
        }
        const campaign = { template_id: templateId, name: name.value, stock: integer(stock), per_user_limit: integer(limit),
          claim_start: rfc3339(start), claim_end: rfc3339(end) };
        if (list(tags).length) campaign.eligibility = { required_tags: list(tags) };
        const result = await api("POST", "/v1/campaigns", campaign);
        if (result.status !== 201) return showErrors("campaign", result);
        location.hash = "#/campaigns/" + result.json.id;
      } catch (error) {
        if (error.message !== "unauthorized") status.replaceChildren(message(t("error", { error: error.message }), "error"));
      }
    });
    setView(form);
    sync();
  }

  // ---- Finance -----------------------------------------------------------------------------
  function financeView() {
    const mine = generation;
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: I18N.zone }).format(new Date());
    const from = h("input", { type: "date", id: "fin-from", value: today });
    const to = h("input", { type: "date", id: "fin-to", value: today });
    const tz = h("input", { type: "text", id: "fin-tz", value: I18N.zone });
    const campaignId = h("input", { type: "text", inputmode: "numeric", id: "fin-campaign" });
    const out = h("div", { id: "finance-result" });
    const download = h("button", { type: "button", id: "download-csv", text: t("download_csv") });
    function params(format) {
      const p = new URLSearchParams({ from: from.value, to: to.value, tz: tz.value.trim() });
      if (campaignId.value.trim()) p.set("campaign_id", campaignId.value.trim());
      if (format) p.set("format", format);
      return "/v1/reports/reconciliation?" + p.toString();
    }
    const dayColumns = [["date", "col_date"], ["issued", "col_issued"], ["redeemed", "col_redeemed"], ["restored", "col_restored"],
      ["expired", "col_expired"], ["discount", "col_discount", true], ["discount_restored", "col_discount_restored", true],
      ["opening_liability", "col_opening", true], ["closing_liability", "col_closing", true]];
    function dayRow(campaign, day, label) {
      return h("tr", {}, h("td", { class: "num", text: campaign.campaign_id }),
        dayColumns.map(([key, , isMoney]) => key === "date" ? h("th", { scope: "row", text: label || day.date })
          : h("td", { class: "num", text: isMoney ? I18N.money(day[key], campaign.currency) : I18N.number(day[key]) })));
    }
    function checkCard(campaignId, name, check) {
      const dl = h("dl", {});
      for (const [key, value] of Object.entries(check.figures || {})) dl.append(h("dt", { text: key }), h("dd", { text: I18N.number(value) }));
      const card = h("div", { class: "check", "data-check": name, "data-campaign": campaignId, "data-passed": String(check.passed) },
        h("span", { class: "badge " + (check.passed ? "pass" : "fail"), text: check.passed ? t("pass") : t("fail") }), " ",
        h("strong", { text: name }), h("span", { class: "campaign", text: t("campaign_title", { id: campaignId }) }), dl);
      if (check.offenders && check.offenders.length) {
        card.append(h("div", { class: "muted", text: t("offenders") }),
          h("ul", { class: "offenders" }, check.offenders.map((o) => h("li", { class: "offender", text: o.code + " (" + o.issue + ")" }))));
      }
      if (check.note) card.append(h("p", { class: "muted", text: t("note") + ": " + check.note }));
      return card;
    }
    async function run() {
      out.replaceChildren(message(t("loading")));
      try {
        const result = await api("GET", params());
        if (mine !== generation) return;
        if (result.status !== 200) return out.replaceChildren(message(t("error", { error: apiMessage(result) }), "error"));
        const report = result.json;
        const body = h("tbody", {});
        for (const c of report.period.campaigns) {
          for (const day of c.days) body.appendChild(dayRow(c, day));
          body.appendChild(dayRow(c, c.totals, t("totals")));
        }
        if (!body.firstChild) body.appendChild(h("tr", {}, h("td", { colspan: dayColumns.length + 1, class: "muted", text: t("no_rows") })));
        const checks = h("div", { class: "checks", id: "checks" });
        const passed = report.checks ? report.checks.passed : true;
        if (report.checks) { // failed checks first
          const cards = [];
          for (const c of report.checks.campaigns) {
            for (const [key, value] of Object.entries(c)) {
              if (value && typeof value === "object" && "passed" in value) cards.push([value.passed, checkCard(c.campaign_id, key, value)]);
            }
          }
          cards.sort((a, b) => Number(a[0]) - Number(b[0])).forEach(([, card]) => checks.appendChild(card));
        }
        out.replaceChildren(
          h("h2", {}, t("checks") + " ", h("span", { class: "badge " + (passed ? "pass" : "fail"), id: "checks-summary", "data-passed": String(passed),
            text: passed ? t("all_passed") : t("some_failed") })),
          report.checks ? h("p", { class: "muted", text: t("checked_at", { t: I18N.time(report.checks.as_of) }) }) : null,
          checks,
          h("h2", { text: t("per_day") + " (" + report.tz + ")" }),
          h("div", { class: "table-wrap" }, h("table", { id: "recon-table" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "num", text: t("col_campaign") }),
              dayColumns.map(([, label]) => h("th", { scope: "col", text: t(label) })))), body)));
      } catch (error) {
        if (mine === generation && error.message !== "unauthorized") out.replaceChildren(message(t("error", { error: error.message }), "error"));
      }
    }
    download.addEventListener("click", async () => {
      const result = await fetch(params("csv"), { headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY) }, cache: "no-store" });
      if (result.status !== 200) return out.replaceChildren(message(t("error", { error: "HTTP " + result.status }), "error"));
      const blob = await result.blob();
      const link = h("a", { href: URL.createObjectURL(blob), download: "reconciliation-" + from.value + "-" + to.value + ".csv" });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    });
    const form = h("form", { class: "card row", id: "finance-form", novalidate: true },
      field(t("f_from"), from), field(t("f_to"), to), field(t("f_tz"), tz), field(t("f_campaign_id"), campaignId),
      h("button", { type: "submit", class: "primary", id: "run-report", text: t("run") }), download);
    form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
    setView(h("h1", { text: t("finance_title") }), form, out);
    run();
  }

  // ---- Stores (finance): in-store write-offs by store and day --------------------------------
  function storesView() {
    const mine = generation;
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: I18N.zone }).format(new Date());
    const from = h("input", { type: "date", id: "stores-from", value: today });
    const to = h("input", { type: "date", id: "stores-to", value: today });
    const tz = h("input", { type: "text", id: "stores-tz", value: I18N.zone });
    const store = h("input", { type: "text", id: "stores-store" });
    const out = h("div", { id: "stores-result" });
    async function run() {
      out.replaceChildren(message(t("loading")));
      const p = new URLSearchParams({ from: from.value, to: to.value, tz: tz.value.trim() });
      if (store.value.trim()) p.set("store_id", store.value.trim());
      try {
        const result = await api("GET", "/v1/reports/stores?" + p.toString());
        if (mine !== generation) return;
        if (result.status !== 200) return out.replaceChildren(message(t("error", { error: apiMessage(result) }), "error"));
        const body = h("tbody", { id: "stores-rows" });
        const row = (s, day, label) => h("tr", { "data-store": s.store_id, "data-date": label ? "total" : day.date },
          h("td", { text: s.store_id }), h("th", { scope: "row", text: label || day.date }),
          h("td", { class: "num", "data-col": "write_offs", text: I18N.number(day.write_offs) }),
          h("td", { class: "num", "data-col": "discount", text: I18N.number(day.discount) }),
          h("td", { class: "num", "data-col": "restored", text: I18N.number(day.restored) }));
        for (const s of result.json.stores) {
          for (const day of s.days) if (day.write_offs || day.restored) body.appendChild(row(s, day));
          body.appendChild(row(s, s.totals, t("totals")));
        }
        if (!body.firstChild) body.appendChild(h("tr", {}, h("td", { colspan: 5, class: "muted", text: t("no_rows") })));
        out.replaceChildren(h("div", { class: "table-wrap" }, h("table", { id: "stores-table" },
          h("thead", {}, h("tr", {}, [t("col_store"), t("col_date"), t("col_write_offs"), t("col_discount_minor"), t("col_restored")]
            .map((label) => h("th", { scope: "col", text: label })))), body)));
      } catch (error) {
        if (mine === generation && error.message !== "unauthorized") out.replaceChildren(message(t("error", { error: error.message }), "error"));
      }
    }
    const form = h("form", { class: "card row", id: "stores-form", novalidate: true },
      field(t("f_from"), from), field(t("f_to"), to), field(t("f_tz"), tz), field(t("f_store"), store),
      h("button", { type: "submit", class: "primary", id: "run-stores", text: t("run") }));
    form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
    setView(h("h1", { text: t("stores_title") }), form, out);
    run();
  }

  // ---- Coupon (admin): a member's coupon as the QR code shown at a store counter ---------------
  function couponView() {
    const code = h("input", { type: "text", id: "qr-code", autocomplete: "off", spellcheck: "false", required: true });
    const user = h("input", { type: "text", id: "qr-user", autocomplete: "off", spellcheck: "false", required: true });
    const out = h("div", { id: "qr-result" });
    let shown = null;
    async function show() {
      out.replaceChildren(message(t("loading")));
      const path = "/v1/coupons/" + encodeURIComponent(code.value.trim()) + "/qr.svg?" + new URLSearchParams({ user_id: user.value.trim() });
      const result = await fetch(path, { headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY) }, cache: "no-store" });
      if (result.status === 401) return signOut();
      if (result.status !== 200) {
        let text = "HTTP " + result.status;
        try { text = (await result.json()).error.message; } catch (_) { /* keep the status */ }
        return out.replaceChildren(message(t("error", { error: text }), "error"));
      }
      if (shown) URL.revokeObjectURL(shown);
      shown = URL.createObjectURL(await result.blob());
      out.replaceChildren(h("figure", { class: "card" }, h("img", { id: "qr-image", src: shown, alt: t("qr_alt", { code: code.value.trim() }), width: 264, height: 264 }),
        h("figcaption", { class: "muted", text: code.value.trim() })));
    }
    const form = h("form", { class: "card row", id: "qr-form" }, field(t("f_code"), code), field(t("f_user"), user),
      h("button", { type: "submit", class: "primary", id: "show-qr", text: t("show_qr") }));
    form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
    setView(h("h1", { text: t("coupon_title") }), form, out);
  }

  I18N.setLang(I18N.lang);
  render();
})();
