/*
 * A stand-in for https://cdn.shopify.com/shopifycloud/app-bridge.js, for browser tests that run offline.
 * Served by test/stand-ins/app-bridge/server.ts, which prepends
 *   window.__APP_BRIDGE_STAND_IN_CONFIG__ = { token, tokenUrl, shop, host, locale, bounce, bouncePath };
 *
 * It does what @shopify/app-bridge-react 4 and shopify-app-remix rely on, and no more:
 * - `window.shopify` with idToken(), toast, saveBar, modal, loading(), config, environment, user(), scopes (query,
 *   revoke, and request, which opens a permission dialog the test answers with Grant or Decline);
 * - same-origin `fetch` carries `Authorization: Bearer <session token>`, and a 401 answered with
 *   `X-Shopify-Retry-Invalid-Session-Request: 1` is retried once with a fresh token;
 * - the bounce page (/auth/session-token?shopify-reload=…) reloads with a fresh `id_token`;
 * - custom elements ui-nav-menu and ui-title-bar (hidden, as the admin draws them outside the iframe),
 *   ui-save-bar (a visible bar whose Save/Discard buttons click the app's own buttons) and ui-modal
 *   (a visible dialog around the app's content and title-bar buttons).
 * What happened is kept in `window.__appBridgeStandIn.log` for tests.
 *
 * Nothing is added to the document before the app hydrates: Remix hydrates the whole document, so a
 * stray node in <body> would make React throw the server HTML away. Elements draw into their own
 * shadow roots; the toast region is created on the first toast.
 */
(function () {
  "use strict";
  if (window.__appBridgeStandIn) return;

  var config = window.__APP_BRIDGE_STAND_IN_CONFIG__ || {};
  var script = document.currentScript;
  var apiKeyMeta = document.querySelector('meta[name="shopify-api-key"]');
  var apiKey = (script && script.getAttribute("data-api-key")) || (apiKeyMeta && apiKeyMeta.content) || config.apiKey || "";
  var originalFetch = window.fetch.bind(window);

  var log = {
    toasts: [],
    saveBar: [],
    modal: [],
    loading: false,
    authorizedFetches: 0,
    retriedFetches: 0,
    tokenRefreshes: 0,
    reauthorize: [],
    scopeRequests: [],
  };

  // ---- session tokens ----------------------------------------------------------------------------
  var currentToken = config.token || null;
  function expiresAt(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part)).exp * 1000;
    } catch {
      return 0;
    }
  }
  function freshToken() {
    log.tokenRefreshes += 1;
    return originalFetch(config.tokenUrl, { cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("App Bridge stand-in: token endpoint answered " + response.status);
        return response.json();
      })
      .then(function (body) {
        currentToken = body.token;
        return currentToken;
      });
  }
  function idToken() {
    if (currentToken && expiresAt(currentToken) - Date.now() > 10000) return Promise.resolve(currentToken);
    return freshToken();
  }

  // ---- fetch: authenticated requests to the app's own origin ---------------------------------------
  window.fetch = function (input, init) {
    var request;
    try {
      request = new Request(input, init);
    } catch {
      return originalFetch(input, init);
    }
    var url = new URL(request.url, location.href);
    if (url.origin !== location.origin || request.headers.has("authorization")) return originalFetch(request);
    var spare = request.clone();
    function send(req, token) {
      var headers = new Headers(req.headers);
      headers.set("Authorization", "Bearer " + token);
      log.authorizedFetches += 1;
      return originalFetch(new Request(req, { headers: headers }));
    }
    return idToken()
      .then(function (token) {
        return send(request, token);
      })
      .then(function (response) {
        var reauthorize = response.headers.get("X-Shopify-API-Request-Failure-Reauthorize-Url");
        if (reauthorize) {
          log.reauthorize.push(reauthorize);
          window.open(reauthorize, "_top");
          return response;
        }
        if (response.status === 401 && response.headers.get("X-Shopify-Retry-Invalid-Session-Request") === "1") {
          log.retriedFetches += 1;
          return freshToken().then(function (token) {
            return send(spare, token);
          });
        }
        return response;
      });
  };

  // ---- bounce page: shopify-app-remix sends document requests without a valid id_token here -------
  var params = new URLSearchParams(location.search);
  if (location.pathname === (config.bouncePath || "/auth/session-token") && params.get("shopify-reload")) {
    var reload = new URL(params.get("shopify-reload"), location.href);
    if (config.bounce !== false && reload.origin === location.origin) {
      freshToken().then(function (token) {
        reload.searchParams.set("id_token", token);
        location.replace(reload.toString());
      });
    }
  }

  // ---- toasts ------------------------------------------------------------------------------------
  var toastRegion = null;
  var toastCount = 0;
  var toastElements = {};
  function region() {
    if (toastRegion && toastRegion.isConnected) return toastRegion;
    toastRegion = document.createElement("div");
    toastRegion.setAttribute("data-app-bridge-stand-in", "toasts");
    toastRegion.style.cssText =
      "position:fixed;left:50%;bottom:24px;transform:translateX(-50%);z-index:2147483000;display:flex;" +
      "flex-direction:column;gap:8px;align-items:center;pointer-events:none;font:500 14px/20px Inter,-apple-system,sans-serif";
    document.body.appendChild(toastRegion);
    return toastRegion;
  }
  var toast = {
    show: function (message, opts) {
      var options = opts || {};
      toastCount += 1;
      var id = "stand-in-toast-" + toastCount;
      log.toasts.push({ id: id, message: String(message), isError: !!options.isError, action: options.action || null, at: Date.now() });
      var element = document.createElement("div");
      element.setAttribute("role", "status");
      element.setAttribute("aria-live", "polite");
      element.setAttribute("data-app-bridge-toast", id);
      if (options.isError) element.setAttribute("data-tone", "critical");
      element.style.cssText =
        "pointer-events:auto;display:flex;gap:12px;align-items:center;padding:10px 16px;border-radius:10px;color:#fff;" +
        "box-shadow:0 8px 16px rgba(0,0,0,.25);background:" + (options.isError ? "#8e1f0b" : "#1a1a1a");
      var text = document.createElement("span");
      text.textContent = String(message);
      element.appendChild(text);
      if (options.action) {
        var action = document.createElement("button");
        action.type = "button";
        action.textContent = options.action;
        action.style.cssText = "background:none;border:0;color:#fff;text-decoration:underline;font:inherit;cursor:pointer";
        action.addEventListener("click", function () {
          if (typeof options.onAction === "function") options.onAction();
        });
        element.appendChild(action);
      }
      region().appendChild(element);
      toastElements[id] = element;
      setTimeout(function () {
        toast.hide(id);
      }, options.duration || 5000);
      return id;
    },
    hide: function (id) {
      var element = toastElements[id];
      if (element) element.remove();
      delete toastElements[id];
    },
  };

  // ---- scopes: the Scopes API and Shopify's permission dialog --------------------------------------
  // The grant lives with "Shopify" (the stand-in server, which the Admin API stand-in reads); the page keeps a copy.
  var grantedScopes = (config.scopes || "").split(",").filter(Boolean);
  var requiredScopes = config.requiredScopes || [];
  var optionalScopes = config.optionalScopes || [];
  var openPermissionRequest = false;
  function scopesDetail() {
    return { granted: grantedScopes.slice(), required: requiredScopes.slice(), optional: optionalScopes.slice() };
  }
  /** Rejects as the real API documents: handles declared as optional in the app's configuration, nothing else. */
  function checkOptional(method, requested) {
    if (!Array.isArray(requested) || requested.length === 0) {
      return new Error("App Bridge stand-in: scopes." + method + " takes a non-empty array of access scope handles");
    }
    var notOptional = requested.filter(function (scope) {
      return typeof scope !== "string" || optionalScopes.indexOf(scope) < 0;
    });
    if (notOptional.length > 0) {
      return new Error("App Bridge stand-in: not optional scopes of this app: " + notOptional.map(String).join(", "));
    }
    return null;
  }
  function changeGrant(change) {
    return originalFetch(config.scopesUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(change) })
      .then(function (response) {
        if (!response.ok) throw new Error("App Bridge stand-in: the scopes endpoint answered " + response.status);
        return response.json();
      })
      .then(function (body) {
        grantedScopes = body.granted;
        return scopesDetail();
      });
  }
  /** The merchant's side of scopes.request: a dialog naming the scopes, with Grant and Decline. */
  function permissionDialog(requested) {
    return new Promise(function (resolve) {
      var host = document.createElement("div");
      host.setAttribute("data-app-bridge-stand-in", "permission-dialog");
      var root = host.attachShadow({ mode: "open" });
      root.innerHTML =
        "<style>" + BUTTON_CSS +
        ".backdrop{position:fixed;inset:0;z-index:2147483500;background:rgba(0,0,0,.5);display:flex;align-items:flex-start;" +
        "justify-content:center;padding:48px 16px}.dialog{background:#fff;border-radius:12px;max-width:420px;width:100%;" +
        "padding:16px;font:14px/20px Inter,-apple-system,sans-serif;box-shadow:0 20px 40px rgba(0,0,0,.3)}" +
        "h2{font-size:16px;margin:0 0 8px}footer{display:flex;justify-content:flex-end;gap:8px;margin-top:16px}</style>" +
        '<div class="backdrop"><div class="dialog" role="dialog" aria-modal="true" aria-labelledby="title">' +
        '<h2 id="title">Grant access to this app?</h2><p>The app asks for:</p><ul></ul>' +
        '<footer><button type="button" data-decline>Decline</button><button type="button" data-primary data-grant>Grant</button></footer>' +
        "</div></div>";
      var list = root.querySelector("ul");
      requested.forEach(function (scope) {
        var item = document.createElement("li");
        item.textContent = scope;
        list.appendChild(item);
      });
      function close(choice) {
        host.remove();
        resolve(choice);
      }
      root.querySelector("[data-grant]").addEventListener("click", function () {
        close("granted-all");
      });
      root.querySelector("[data-decline]").addEventListener("click", function () {
        close("declined-all");
      });
      document.body.appendChild(host);
    });
  }
  var scopes = {
    query: function () {
      return Promise.resolve(scopesDetail());
    },
    request: function (requested) {
      var problem = checkOptional("request", requested);
      if (problem) return Promise.reject(problem);
      if (openPermissionRequest) return Promise.reject(new Error("App Bridge stand-in: a permission request is already open"));
      openPermissionRequest = true;
      var entry = { scopes: requested.slice(), result: null, at: Date.now() };
      log.scopeRequests.push(entry);
      return permissionDialog(requested)
        .then(function (result) {
          entry.result = result;
          var detail = result === "granted-all" ? changeGrant({ grant: requested }) : Promise.resolve(scopesDetail());
          return detail.then(function (scopesNow) {
            return { result: result, detail: scopesNow };
          });
        })
        .finally(function () {
          openPermissionRequest = false;
        });
    },
    revoke: function (revoked) {
      var problem = checkOptional("revoke", revoked);
      if (problem) return Promise.reject(problem);
      return changeGrant({ revoke: revoked }).then(function (detail) {
        return { detail: detail };
      });
    },
  };

  // ---- custom elements ---------------------------------------------------------------------------
  var BUTTON_CSS =
    "button{font:600 13px/20px Inter,-apple-system,sans-serif;border-radius:8px;padding:6px 12px;cursor:pointer;" +
    "border:1px solid #8a8a8a;background:#fff;color:#303030}button[data-primary]{background:#303030;color:#fff;border-color:#303030}" +
    "button:disabled{opacity:.5;cursor:default}";

  function childButtons(host) {
    return Array.prototype.filter.call(host.children, function (child) {
      return child.tagName === "BUTTON";
    });
  }
  function proxyButton(original, fallbackLabel) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = (original.textContent || "").trim() || fallbackLabel;
    if (original.getAttribute("variant") === "primary") button.setAttribute("data-primary", "");
    if (original.getAttribute("tone")) button.setAttribute("data-tone", original.getAttribute("tone"));
    button.disabled = original.disabled || original.hasAttribute("loading");
    button.addEventListener("click", function () {
      original.click();
    });
    return button;
  }

  class Hidden extends HTMLElement {
    constructor() {
      super();
      this.attachShadow({ mode: "open" }).innerHTML = "<style>:host{display:none!important}</style>";
    }
  }
  class UINavMenu extends Hidden {}
  class UITitleBar extends Hidden {}

  class UISaveBar extends HTMLElement {
    constructor() {
      super();
      this._showing = false;
      this._observer = new MutationObserver(this._render.bind(this));
      var root = this.attachShadow({ mode: "open" });
      root.innerHTML =
        "<style>" + BUTTON_CSS +
        ".bar{position:fixed;top:0;left:0;right:0;z-index:2147482000;display:flex;align-items:center;gap:8px;" +
        "padding:10px 16px;background:#1a1a1a;color:#e3e3e3;font:600 14px/20px Inter,-apple-system,sans-serif}" +
        ".bar[hidden]{display:none}.label{flex:1}</style>" +
        '<div class="bar" role="region" aria-label="Unsaved changes" data-app-bridge-stand-in="save-bar" hidden>' +
        '<span class="label">Unsaved changes</span><span class="actions"></span></div>';
      this._bar = root.querySelector(".bar");
      this._actions = root.querySelector(".actions");
    }
    get showing() {
      return this._showing;
    }
    get discardConfirmation() {
      return this.hasAttribute("discardConfirmation");
    }
    _render() {
      var actions = this._actions;
      actions.textContent = "";
      var buttons = childButtons(this);
      var save = buttons.filter(function (b) {
        return b.getAttribute("variant") === "primary";
      })[0];
      var discard = buttons.filter(function (b) {
        return b.getAttribute("variant") !== "primary";
      })[0];
      if (discard) actions.appendChild(proxyButton(discard, "Discard"));
      if (save) actions.appendChild(proxyButton(save, "Save"));
    }
    show() {
      if (!this._showing) {
        this._showing = true;
        this._render();
        this._observer.observe(this, { subtree: true, childList: true, attributes: true, characterData: true });
        this._bar.hidden = false;
        // The admin draws its save bar outside the app's iframe: make room instead of covering the page.
        document.documentElement.style.paddingTop = "54px";
        log.saveBar.push({ id: this.id || null, action: "show", at: Date.now() });
        this.dispatchEvent(new Event("show"));
      }
      return Promise.resolve();
    }
    hide() {
      if (this._showing) {
        this._showing = false;
        this._observer.disconnect();
        this._bar.hidden = true;
        document.documentElement.style.paddingTop = "";
        log.saveBar.push({ id: this.id || null, action: "hide", at: Date.now() });
        this.dispatchEvent(new Event("hide"));
      }
      return Promise.resolve();
    }
    toggle() {
      return this._showing ? this.hide() : this.show();
    }
    disconnectedCallback() {
      this._observer.disconnect();
    }
  }

  class UIModal extends HTMLElement {
    constructor() {
      super();
      this._showing = false;
      this._content = null;
      var root = this.attachShadow({ mode: "open" });
      root.innerHTML =
        "<style>" + BUTTON_CSS +
        ".backdrop{position:fixed;inset:0;z-index:2147481000;background:rgba(0,0,0,.5);display:flex;align-items:flex-start;" +
        "justify-content:center;padding:48px 16px;overflow:auto}.backdrop[hidden]{display:none}" +
        ".dialog{background:#fff;border-radius:12px;width:100%;max-width:620px;box-shadow:0 20px 40px rgba(0,0,0,.3)}" +
        ":host([variant=small]) .dialog{max-width:380px}:host([variant=large]) .dialog{max-width:980px}" +
        "header{display:flex;align-items:center;padding:12px 16px;border-bottom:1px solid #e3e3e3;" +
        "font:650 14px/20px Inter,-apple-system,sans-serif;background:#f3f3f3;border-radius:12px 12px 0 0}" +
        "header h2{flex:1;margin:0;font:inherit}header button{border:0;background:none;font-size:18px;padding:0 6px}" +
        "footer{display:flex;justify-content:flex-end;gap:8px;padding:12px 16px;border-top:1px solid #e3e3e3}footer:empty{display:none}" +
        "</style>" +
        '<div class="backdrop" hidden><div class="dialog" role="dialog" aria-modal="true" aria-labelledby="title" ' +
        'data-app-bridge-stand-in="modal"><header><h2 id="title"></h2><button type="button" aria-label="Close">×</button>' +
        "</header><div class=\"body\"><slot></slot></div><footer></footer></div></div>";
      this._backdrop = root.querySelector(".backdrop");
      this._title = root.querySelector("#title");
      this._footer = root.querySelector("footer");
      root.querySelector("header button").addEventListener("click", () => this.hide());
    }
    /** Where @shopify/app-bridge-react portals the modal's children; created on first use (after hydration). */
    get content() {
      if (!this._content) {
        this._content = document.createElement("div");
        this.appendChild(this._content);
      }
      return this._content;
    }
    set content(element) {
      this._content = element;
      if (element && element.parentNode !== this) this.appendChild(element);
    }
    get src() {
      return this.getAttribute("src");
    }
    get contentWindow() {
      return null;
    }
    get variant() {
      return this.getAttribute("variant") || "base";
    }
    set variant(value) {
      this.setAttribute("variant", value);
    }
    _render() {
      var titleBar = Array.prototype.filter.call(this.children, function (child) {
        return child.tagName === "UI-TITLE-BAR";
      })[0];
      this._title.textContent = titleBar ? titleBar.getAttribute("title") || "" : "";
      var footer = this._footer;
      footer.textContent = "";
      if (titleBar) {
        childButtons(titleBar)
          .sort(function (a, b) {
            return (a.getAttribute("variant") === "primary" ? 1 : 0) - (b.getAttribute("variant") === "primary" ? 1 : 0);
          })
          .forEach(function (original) {
            footer.appendChild(proxyButton(original, "Button"));
          });
      }
    }
    show() {
      if (this.src) console.warn("App Bridge stand-in: ui-modal with src is not supported");
      if (!this._showing) {
        this._showing = true;
        this._render();
        this._backdrop.hidden = false;
        log.modal.push({ id: this.id || null, action: "show", at: Date.now() });
        this.dispatchEvent(new Event("show"));
      }
      return Promise.resolve();
    }
    hide() {
      if (this._showing) {
        this._showing = false;
        this._backdrop.hidden = true;
        log.modal.push({ id: this.id || null, action: "hide", at: Date.now() });
        this.dispatchEvent(new Event("hide"));
      }
      return Promise.resolve();
    }
    toggle() {
      return this._showing ? this.hide() : this.show();
    }
  }

  function define(name, constructor) {
    if (!customElements.get(name)) customElements.define(name, constructor);
  }
  define("ui-nav-menu", UINavMenu);
  define("ui-title-bar", UITitleBar);
  define("ui-save-bar", UISaveBar);
  define("ui-modal", UIModal);

  function byId(tag) {
    return function (id) {
      var element = document.getElementById(id);
      if (!element || element.tagName !== tag) return Promise.reject(new Error("No <" + tag.toLowerCase() + "> with id " + id));
      return element;
    };
  }
  function elementApi(tag) {
    var find = byId(tag);
    return {
      show: function (id) {
        return Promise.resolve(find(id)).then(function (element) {
          return element.show();
        });
      },
      hide: function (id) {
        return Promise.resolve(find(id)).then(function (element) {
          return element.hide();
        });
      },
      toggle: function (id) {
        return Promise.resolve(find(id)).then(function (element) {
          return element.toggle();
        });
      },
    };
  }

  var saveBar = elementApi("UI-SAVE-BAR");
  saveBar.leaveConfirmation = function () {
    return Promise.resolve();
  };

  window.shopify = {
    config: {
      apiKey: apiKey,
      host: config.host,
      shop: config.shop,
      locale: config.locale || "en-US",
      disabledFeatures: [],
    },
    origin: "https://admin.shopify.com",
    ready: Promise.resolve(),
    environment: { embedded: true, mobile: false, pos: false, intent: false },
    idToken: idToken,
    loading: function (isLoading) {
      log.loading = isLoading !== false;
    },
    toast: toast,
    saveBar: saveBar,
    modal: elementApi("UI-MODAL"),
    user: function () {
      return Promise.resolve({ id: Number(config.userId || 42), name: "Stand-in Staff", accountAccess: "Account owner" });
    },
    scopes: scopes,
    resourcePicker: function () {
      return Promise.resolve(undefined);
    },
  };

  window.__appBridgeStandIn = {
    log: log,
    /** The hidden title bar of the page (not of a modal): its title and button labels. */
    titleBar: function () {
      var bar = Array.prototype.filter.call(document.querySelectorAll("ui-title-bar"), function (element) {
        return !element.closest("ui-modal");
      })[0];
      if (!bar) return null;
      return {
        title: bar.getAttribute("title") || "",
        buttons: childButtons(bar).map(function (b) {
          return (b.textContent || "").trim();
        }),
      };
    },
    /** Clicks the page title bar's button with this label, as the admin does when the merchant clicks it. */
    clickTitleBarButton: function (label) {
      var bar = Array.prototype.filter.call(document.querySelectorAll("ui-title-bar"), function (element) {
        return !element.closest("ui-modal");
      })[0];
      var button = bar && childButtons(bar).filter(function (b) {
        return (b.textContent || "").trim() === label;
      })[0];
      if (!button) throw new Error("No title-bar button labelled " + label);
      button.click();
    },
    navMenu: function () {
      return Array.prototype.map.call(document.querySelectorAll("ui-nav-menu a"), function (a) {
        return { label: (a.textContent || "").trim(), href: a.getAttribute("href"), rel: a.getAttribute("rel") };
      });
    },
  };
})();
