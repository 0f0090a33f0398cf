// Shared by the console pages: the admin token (from the page's #token= link or the form, kept
// in this tab's sessionStorage, never in a URL sent to the server), authorised JSON calls, and a
// tiny DOM builder that sets text, never HTML, so payloads and error messages cannot inject.
"use strict";

const TOKEN_KEY = "shop.ops.token";

globalThis.ops = {
  token() {
    const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  },

  async call(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${ops.token() ?? ""}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (res.status === 401 || res.status === 403) {
      ops.showLogin(data.detail ?? "An admin token is required");
    }
    if (!res.ok) throw new Error(data.detail ?? `HTTP ${res.status}`);
    return data;
  },

  h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  },

  fill(id, ...children) {
    const el = document.getElementById(id);
    if (el) el.replaceChildren(...children.flat());
  },

  showLogin(message) {
    const form = document.getElementById("login");
    if (!form) return;
    form.hidden = false;
    ops.fill("login-message", message);
  },

  bindLogin(onToken) {
    const form = document.getElementById("login");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const value = document.getElementById("token").value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      form.hidden = true;
      onToken();
    });
    if (!ops.token()) ops.showLogin("Paste an admin token (deno task token <sub> --admin)");
  },

  fmt(n, digits = 0) {
    if (n === null || n === undefined || Number.isNaN(n)) return "–";
    return Number(n).toLocaleString("en-US", {
      maximumFractionDigits: digits,
      minimumFractionDigits: digits,
    });
  },

  age(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
    if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
    return `${(seconds / 86400).toFixed(1)} d`;
  },
};
