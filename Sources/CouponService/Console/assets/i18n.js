"use strict";
// English and Simplified Chinese strings, and number/money/time formatting for the viewer.
window.I18N = (function () {
  const strings = {
    en: {
      language: "Language", signout: "Sign out", skip: "Skip to content", zone: "Times in {zone}",
      nav_campaigns: "Campaigns", nav_create: "Create", nav_finance: "Finance", nav_stores: "Stores", nav_coupon: "Coupon",
      stores_title: "Write-offs by store", f_store: "Store id (optional)", col_store: "Store", col_write_offs: "Write-offs",
      col_discount_minor: "Discount (minor units)",
      coupon_title: "Coupon QR code", f_code: "Coupon code", f_user: "Member (user id)", show_qr: "Show QR code",
      qr_alt: "QR code of coupon {code}",
      signin_title: "Sign in", signin_key: "API key", signin_button: "Sign in",
      signin_help: "The key stays in this browser tab only (sessionStorage) and is sent as a bearer header.",
      signin_bad: "This key was not accepted.", signin_error: "The node could not be reached: {error}",
      role_none: "A key with role “{role}” has no console view. Sign in with an admin or finance key.",
      role_needs: "This page needs a key with role {roles}; yours is {role}.",
      signed_in_as: "Signed in as {role}",
      campaigns_title: "Campaigns", filter_state: "State", filter_kind: "Kind", filter_search: "Search by name",
      all: "All", load_more: "Load more", no_campaigns: "No campaigns match.",
      col_id: "ID", col_name: "Name", col_state: "State", col_kind: "Kind", col_stock: "Stock", col_remaining: "Remaining",
      col_issued: "Issued", col_claims: "Claims/s", col_redemption: "Redeemed", col_time_left: "Time left",
      state_active: "active", state_paused: "paused", state_ended: "ended",
      kind_amount_off: "Amount off", kind_percent_off: "Percent off", kind_free_shipping: "Free shipping", kind_gift: "Gift", kind_cash: "Cash",
      not_started: "starts in {t}", closed: "closed",
      campaign_title: "Campaign {id}", back: "← Campaigns", window: "Claim window", per_user: "Per user",
      chart_backlog: "Grant → PostgreSQL lag, ms (largest per second, last 5 minutes)", fig_lag: "Lag (ms)",
      chart_claims: "Claims per second by outcome (last 5 minutes)", chart_remaining: "Remaining stock (last 5 minutes)",
      claims_now: "Now: {n}/s",
      fig_issued: "Issued", fig_flushed: "In PostgreSQL", fig_not_flushed: "Not yet flushed", fig_redeemed: "Redeemed",
      fig_restored: "Restored", fig_expired: "Expired", fig_outstanding: "Outstanding", fig_outstanding_value: "Outstanding value",
      fig_discount: "Discount given", fig_revenue: "Order revenue", fig_roi: "ROI", fig_redemption_rate: "Redemption rate",
      fig_remaining: "Remaining", fig_stock: "Stock",
      pause: "Pause", resume: "Resume", add_stock: "Add stock", units: "Units to add",
      confirm_pause: "Pause campaign “{name}”? Claims will be refused with 409 paused.",
      confirm_resume: "Resume campaign “{name}”?", confirm_stock: "Add {n} units to campaign “{name}”?",
      cancel: "Cancel", ok: "Confirm", done: "Done.",
      out_granted: "granted", out_sold_out: "sold out", out_limit_reached: "limit reached", out_not_started: "not started",
      out_ended: "ended", out_paused: "paused", out_not_eligible: "not eligible", out_rate_limited: "rate limited",
      out_replayed: "replayed", out_request_conflict: "request id conflict",
      create_title: "Create a campaign", template: "Template (what the coupon gives)", campaign: "Campaign (how it is handed out)",
      f_template_name: "Template name", f_currency: "Currency", f_kind: "Kind", f_threshold: "Minimum order (threshold)",
      f_amount: "Amount off / value", f_percent: "Percent off (1–100)", f_cap: "Cap (optional)", f_sku: "Gift SKU",
      f_gift_value: "Gift value", f_business_lines: "Business lines (comma-separated)", f_store_ids: "Store ids (comma-separated)",
      f_validity_type: "Validity", validity_relative: "Days after claim", validity_fixed: "Fixed dates",
      f_days: "Days valid", f_valid_from: "Valid from", f_valid_until: "Valid until",
      f_name: "Campaign name", f_stock: "Stock", f_per_user_limit: "Per-user limit", f_claim_start: "Claims open",
      f_claim_end: "Claims close", f_required_tags: "Required user tags (comma-separated)",
      create_button: "Create template and campaign", created: "Campaign {id} created.", fix_errors: "Please fix the marked fields.",
      money_hint: "Money in {currency} (e.g. 30.00)",
      finance_title: "Reconciliation", f_from: "From", f_to: "To", f_tz: "Time zone", f_campaign_id: "Campaign id (optional)",
      run: "Run report", download_csv: "Download CSV", checks: "Checks", checked_at: "checked at {t}", pass: "pass", fail: "fail",
      all_passed: "All checks passed", some_failed: "Some checks failed", offenders: "Offenders", note: "Note",
      per_day: "Per day", totals: "Totals", col_campaign: "Campaign", col_date: "Date", col_restored: "Restored", col_expired: "Expired",
      col_discount: "Discount", col_discount_restored: "Discount restored", col_opening: "Opening liability", col_closing: "Closing liability",
      col_redeemed: "Redeemed", no_rows: "No campaigns in this period.",
      loading: "Loading…", error: "Error: {error}", unreachable: "The node did not answer; retrying.",
    },
    zh: {
      language: "语言", signout: "退出", skip: "跳到正文", zone: "时间以 {zone} 显示",
      nav_campaigns: "活动", nav_create: "创建", nav_finance: "财务", nav_stores: "门店", nav_coupon: "券码",
      stores_title: "门店核销", f_store: "门店编号（可选）", col_store: "门店", col_write_offs: "核销数",
      col_discount_minor: "优惠（最小货币单位）",
      coupon_title: "券二维码", f_code: "券码", f_user: "会员（用户编号）", show_qr: "显示二维码",
      qr_alt: "券 {code} 的二维码",
      signin_title: "登录", signin_key: "API 密钥", signin_button: "登录",
      signin_help: "密钥只保存在当前标签页（sessionStorage），以 Bearer 请求头发送。",
      signin_bad: "此密钥未被接受。", signin_error: "无法连接节点：{error}",
      role_none: "角色为“{role}”的密钥没有控制台页面。请使用 admin 或 finance 密钥登录。",
      role_needs: "此页面需要角色 {roles} 的密钥；当前为 {role}。",
      signed_in_as: "已登录：{role}",
      campaigns_title: "活动", filter_state: "状态", filter_kind: "类型", filter_search: "按名称搜索",
      all: "全部", load_more: "加载更多", no_campaigns: "没有符合条件的活动。",
      col_id: "编号", col_name: "名称", col_state: "状态", col_kind: "类型", col_stock: "库存", col_remaining: "剩余",
      col_issued: "已发放", col_claims: "每秒领取", col_redemption: "核销率", col_time_left: "剩余时间",
      state_active: "进行中", state_paused: "已暂停", state_ended: "已结束",
      kind_amount_off: "满减", kind_percent_off: "折扣", kind_free_shipping: "免运费", kind_gift: "赠品", kind_cash: "代金券",
      not_started: "{t} 后开始", closed: "已截止",
      campaign_title: "活动 {id}", back: "← 活动列表", window: "领取时间", per_user: "每人限领",
      chart_backlog: "发放 → PostgreSQL 延迟（毫秒，每秒最大值，最近 5 分钟）", fig_lag: "延迟（毫秒）",
      chart_claims: "每秒领取（按结果，最近 5 分钟）", chart_remaining: "剩余库存（最近 5 分钟）",
      claims_now: "当前：{n}/秒",
      fig_issued: "已发放", fig_flushed: "已入库", fig_not_flushed: "待入库", fig_redeemed: "已核销",
      fig_restored: "已退回", fig_expired: "已过期", fig_outstanding: "未使用", fig_outstanding_value: "未使用面值",
      fig_discount: "优惠金额", fig_revenue: "订单收入", fig_roi: "投资回报率", fig_redemption_rate: "核销率",
      fig_remaining: "剩余", fig_stock: "库存",
      pause: "暂停", resume: "恢复", add_stock: "追加库存", units: "追加数量",
      confirm_pause: "暂停活动“{name}”？领取将返回 409 paused。",
      confirm_resume: "恢复活动“{name}”？", confirm_stock: "为活动“{name}”追加 {n} 张？",
      cancel: "取消", ok: "确认", done: "已完成。",
      out_granted: "成功", out_sold_out: "已抢光", out_limit_reached: "超出限领", out_not_started: "未开始",
      out_ended: "已结束", out_paused: "已暂停", out_not_eligible: "不符合条件", out_rate_limited: "限流",
      out_replayed: "重复请求", out_request_conflict: "请求号冲突",
      create_title: "创建活动", template: "券模板（优惠内容）", campaign: "活动（发放方式）",
      f_template_name: "模板名称", f_currency: "币种", f_kind: "类型", f_threshold: "最低订单金额（门槛）",
      f_amount: "减免金额 / 面值", f_percent: "折扣百分比（1–100）", f_cap: "封顶金额（可选）", f_sku: "赠品 SKU",
      f_gift_value: "赠品价值", f_business_lines: "业务线（逗号分隔）", f_store_ids: "门店编号（逗号分隔）",
      f_validity_type: "有效期", validity_relative: "领取后天数", validity_fixed: "固定日期",
      f_days: "有效天数", f_valid_from: "生效时间", f_valid_until: "失效时间",
      f_name: "活动名称", f_stock: "库存", f_per_user_limit: "每人限领", f_claim_start: "开始领取",
      f_claim_end: "结束领取", f_required_tags: "用户标签要求（逗号分隔）",
      create_button: "创建模板和活动", created: "活动 {id} 已创建。", fix_errors: "请修正标出的字段。",
      money_hint: "金额单位 {currency}（如 30.00）",
      finance_title: "对账", f_from: "开始日期", f_to: "结束日期", f_tz: "时区", f_campaign_id: "活动编号（可选）",
      run: "生成报表", download_csv: "下载 CSV", checks: "校验", checked_at: "校验时间 {t}", pass: "通过", fail: "未通过",
      all_passed: "全部校验通过", some_failed: "部分校验未通过", offenders: "问题券", note: "说明",
      per_day: "按日", totals: "合计", col_campaign: "活动", col_date: "日期", col_restored: "退回", col_expired: "过期",
      col_discount: "优惠", col_discount_restored: "退回优惠", col_opening: "期初负债", col_closing: "期末负债",
      col_redeemed: "核销", no_rows: "此期间没有活动。",
      loading: "加载中…", error: "错误：{error}", unreachable: "节点无响应，正在重试。",
    },
  };
  const locales = { en: "en-US", zh: "zh-CN" };
  let lang = (function () {
    try { const saved = localStorage.getItem("coupond.lang"); if (saved && strings[saved]) return saved; } catch (_) { /* storage off */ }
    return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
  })();
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  function t(key, params) {
    let text = (strings[lang] && strings[lang][key]) || strings.en[key] || key;
    if (params) for (const name of Object.keys(params)) text = text.split("{" + name + "}").join(String(params[name]));
    return text;
  }
  function setLang(value) {
    if (!strings[value]) return;
    lang = value;
    try { localStorage.setItem("coupond.lang", value); } catch (_) { /* storage off */ }
    document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
  }
  function locale() { return locales[lang]; }
  function fractionDigits(currency) {
    try { return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits; } catch (_) { return 2; }
  }
  // Integer minor units → "¥30.00" in the viewer's language; exact for any safe integer.
  function money(minor, currency) {
    if (minor === null || minor === undefined) return "—";
    const digits = fractionDigits(currency);
    const value = Number(minor) / Math.pow(10, digits);
    try {
      return new Intl.NumberFormat(locale(), { style: "currency", currency, currencyDisplay: "narrowSymbol",
        minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
    } catch (_) { return value.toFixed(digits) + " " + currency; }
  }
  function number(value) { return value === null || value === undefined ? "—" : new Intl.NumberFormat(locale()).format(value); }
  function percent(ratio) {
    return ratio === null || ratio === undefined ? "—" : new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(ratio);
  }
  function time(iso) {
    if (!iso) return "—";
    return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "medium", timeZone: zone }).format(new Date(iso));
  }
  function clock(epochMs) {
    return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: zone }).format(new Date(epochMs));
  }
  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    const units = lang === "zh" ? ["天", "小时", "分", "秒"] : ["d", "h", "m", "s"];
    if (d > 0) return d + units[0] + " " + h + units[1];
    if (h > 0) return h + units[1] + " " + m + units[2];
    if (m > 0) return m + units[2] + " " + (s % 60) + units[3];
    return s + units[3];
  }
  return { t, setLang, get lang() { return lang; }, zone, money, number, percent, time, clock, duration, fractionDigits };
})();
