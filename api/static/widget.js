/*
 * Verbatim chat widget: plain browser JavaScript, no build step, no dependencies.
 * Embed:  <script src="https://HOST/widget.js" data-title="Ask the transcript" defer></script>
 * Options: data-endpoint, data-document, data-open="true", data-api-key.
 * Scripting: window.Verbatim.open() / .close() / .ask(question) -> Promise<answer|null>.
 */
(function () {
  "use strict";
  // document.currentScript is only set while this file first executes, so capture it now;
  // the querySelector fallback covers environments that leave it null.
  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  // Host pages sometimes paste the embed tag twice (CMS templates); mount only once.
  if (window.Verbatim || document.getElementById("verbatim-widget")) return;

  const opts = (script && script.dataset) || {};
  const TITLE = opts.title || "Ask the transcript";
  const ENDPOINT = (opts.endpoint ||
    (script && script.src ? new URL(script.src, location.href).origin : location.origin)).replace(/\/+$/, "");
  const DOCUMENT = opts.document || null;
  const API_KEY = opts.apiKey || "";
  const HISTORY_SENT = 6;
  const UNREACHABLE = "The service is unreachable. Please try again later.";

  // Sizes are in px, never rem: rem follows the host page's <html> font-size, which a
  // hostile page can set to anything. :host rules are !important because, for important
  // declarations, the shadow tree beats the page (e.g. `* { color: red !important }`).
  const CSS = `
:host { all: initial !important; display: block !important; }
[hidden] { display: none !important; }
.root { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1d2330; -webkit-font-smoothing: antialiased; }
.root *, .root *::before, .root *::after { box-sizing: border-box; }
button, textarea { font: inherit; color: inherit; }
:focus-visible { outline: 2px solid #2563eb; outline-offset: 2px; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px;
  border: 0; border-radius: 50%; background: #1f3f7a; color: #fff; cursor: pointer; display: grid;
  place-items: center; box-shadow: 0 6px 20px rgba(15, 30, 60, .28); }
.launcher:hover { background: #18335f; }
.launcher svg { width: 26px; height: 26px; fill: currentColor; }
.panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: 380px;
  max-width: calc(100vw - 24px); height: 600px; max-height: calc(100vh - 108px); display: flex;
  flex-direction: column; background: #fff; border: 1px solid #dfe3ea; border-radius: 14px;
  box-shadow: 0 18px 48px rgba(15, 30, 60, .22); overflow: hidden; }
header { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: #1f3f7a; color: #fff; }
h2 { flex: 1; margin: 0; font-size: 15px; font-weight: 600; }
.icon-btn { border: 0; background: transparent; color: inherit; cursor: pointer; border-radius: 6px;
  width: 28px; height: 28px; font-size: 20px; line-height: 1; }
.icon-btn:hover { background: rgba(255, 255, 255, .15); }
.log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; background: #f7f8fb; }
.hint { color: #5b6475; font-size: 13px; margin: 0; }
.msg { max-width: 92%; padding: 9px 12px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.user { align-self: flex-end; background: #1f3f7a; color: #fff; border-bottom-right-radius: 4px; }
.msg.assistant { align-self: flex-start; background: #fff; border: 1px solid #e3e6ec; border-bottom-left-radius: 4px; }
.msg.refused { align-self: flex-start; background: #fff8e6; border: 1px solid #f0d48a; color: #5c4300; }
.msg.error { align-self: flex-start; background: #fdecec; border: 1px solid #f3b4b4; color: #8a1c1c; }
.msg.notice { align-self: center; background: none; color: #5b6475; font-size: 12px; padding: 2px; }
.msg .note { color: #5b6475; font-size: 12px; }
.ctx-error { margin: 0; color: #8a1c1c; }
.cite { border: 0; background: none; padding: 0 1px; margin: 0; color: #1d4ed8; cursor: pointer;
  font-size: 12px; font-weight: 600; text-decoration: underline; vertical-align: baseline; }
.cite:hover { color: #1e3a8a; }
.citations { list-style: none; margin: 10px 0 0; padding: 8px 0 0; border-top: 1px solid #e3e6ec; white-space: normal; }
.citations li { display: grid; grid-template-columns: auto 1fr; gap: 2px 8px; margin: 0 0 8px; font-size: 13px; }
.citations .num { color: #1d4ed8; font-weight: 600; }
.citations .speaker { font-weight: 600; }
.citations .source { color: #5b6472; font-size: 12px; }
.quote-link { grid-column: 2; border: 0; border-left: 3px solid #c7d2e6; background: none; padding: 1px 0 1px 8px;
  text-align: left; cursor: pointer; font-family: Georgia, "Times New Roman", serif; font-size: 14px; color: #2a3140; }
.quote-link:hover { border-left-color: #1d4ed8; }
.status { display: flex; align-items: center; gap: 8px; padding: 6px 14px; font-size: 12px; color: #5b6475;
  border-top: 1px solid #eef0f4; }
.status .dot { width: 8px; height: 8px; border-radius: 50%; background: #1f3f7a; animation: pulse 1s infinite alternate; }
@keyframes pulse { from { opacity: .25; } to { opacity: 1; } }
.status span { flex: 1; }
.stop, .send, .context-close { border: 1px solid #c9cfda; background: #fff; border-radius: 8px; padding: 4px 10px; cursor: pointer; }
.stop:hover, .context-close:hover { background: #f0f2f6; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e3e6ec; background: #fff; margin: 0; }
textarea { flex: 1; resize: none; height: 44px; max-height: 120px; padding: 10px; border: 1px solid #c9cfda;
  border-radius: 10px; background: #fff; font-size: 14px; line-height: 1.4; }
textarea:focus-visible { outline-offset: 0; }
.send { background: #1f3f7a; border-color: #1f3f7a; color: #fff; font-weight: 600; padding: 0 16px; }
.send:disabled { opacity: .5; cursor: default; }
.context { position: absolute; inset: 52px 0 0 0; display: flex; flex-direction: column; background: #fff; z-index: 1; }
.context-head { display: flex; align-items: center; gap: 8px; padding: 10px 14px; border-bottom: 1px solid #e3e6ec; }
.context-head div { flex: 1; min-width: 0; }
h3 { margin: 0; font-size: 14px; }
.meta { font-size: 12px; color: #5b6475; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.context-body { position: relative; flex: 1; overflow-y: auto; padding: 14px; }
.passage { margin: 0; white-space: pre-wrap; font-family: Georgia, "Times New Roman", serif; font-size: 15px; line-height: 1.6; }
@media (max-width: 440px) { .panel { left: 12px; right: 12px; width: auto; max-width: none; } .launcher { right: 12px; } }
mark.quote-highlight { background: #fff1a8; color: inherit; padding: 1px 0; box-shadow: 0 0 0 2px #fff1a8; }
`;

  const TEMPLATE = `
<div class="root">
  <section class="panel" id="panel" role="dialog" aria-labelledby="title" hidden>
    <header><h2 id="title"></h2>
      <button type="button" class="icon-btn close" aria-label="Close chat">&times;</button></header>
    <div class="log" role="log" aria-live="polite" aria-label="Conversation">
      <p class="hint">Answers are verbatim quotations from the transcript. Click a number to see the quote in context.</p>
    </div>
    <div class="status" role="status" hidden><i class="dot"></i><span>Searching the transcript…</span>
      <button type="button" class="stop" aria-label="Stop answering">Stop</button></div>
    <form class="composer">
      <textarea class="question" rows="1" aria-label="Your question" placeholder="Ask a question…"></textarea>
      <button type="submit" class="send" aria-label="Send question">Send</button>
    </form>
    <div class="context" role="dialog" aria-labelledby="ctx-title" hidden>
      <div class="context-head"><div><h3 id="ctx-title"></h3><div class="meta"></div></div>
        <button type="button" class="context-close" aria-label="Close context">Close</button></div>
      <div class="context-body" tabindex="-1"></div>
    </div>
  </section>
  <button type="button" class="launcher" aria-controls="panel" aria-expanded="false">
    <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z"/></svg>
  </button>
</div>`;

  const host = document.createElement("div");
  host.id = "verbatim-widget";
  const shadow = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = CSS;
  shadow.appendChild(style);
  // Static markup only; every server-provided string below goes through textContent.
  shadow.appendChild(document.createRange().createContextualFragment(TEMPLATE));
  const $ = (sel) => shadow.querySelector(sel);
  const launcher = $(".launcher"), panel = $(".panel"), log = $(".log"), form = $("form");
  const input = $("textarea.question"), sendBtn = $("button.send"), status = $(".status");
  const ctx = $(".context"), ctxBody = $(".context-body");
  $("h2").textContent = TITLE;
  launcher.setAttribute("aria-label", "Open " + TITLE);

  const history = [];      // [{role, content}] of completed exchanges only
  let controller = null;   // AbortController of the running request, if any
  let ctxOpener = null;    // element to refocus when the context pane closes
  let ctxSeq = 0;          // drops responses of superseded context requests

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function headers(extra) {
    const h = Object.assign({}, extra);
    if (API_KEY) h.Authorization = "Bearer " + API_KEY;
    return h;
  }

  function errorText(body, res) {
    return (body && body.error && body.error.message) || `Request failed (HTTP ${res.status}).`;
  }

  // Only follow the stream if the reader is already at the bottom, so scrolling up to
  // read an earlier answer is not yanked away by incoming tokens.
  // Measure before mutating: a citation list can add hundreds of pixels at once.
  function follow(mutate) {
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    mutate();
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function addMsg(kind, text) {
    const msg = el("div", "msg " + kind);
    msg.appendChild(el("div", "text", text || ""));
    log.appendChild(msg);
    log.scrollTop = log.scrollHeight;
    return msg;
  }

  function setMsg(msg, kind, text) {
    msg.className = "msg " + kind;
    msg.textContent = "";
    msg.appendChild(el("div", "text", text));
  }

  function isOpen() { return !panel.hidden; }

  function open(focus) {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", "Close " + TITLE);
    if (focus !== false) input.focus();
  }

  function close() {
    const hadFocus = !!shadow.activeElement;
    closeContext(false);
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Open " + TITLE);
    if (hadFocus) launcher.focus();
  }

  function setBusy(busy) {
    sendBtn.disabled = busy;
    status.hidden = !busy;
    // aria-busy makes screen readers wait for the finished answer instead of reading
    // every streamed token as it lands in the live region.
    log.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function citeLabel(c) { return `Quote ${c.id}: ${c.speaker || c.label || "unknown speaker"}`; }

  function citeButton(c) {
    const b = el("button", "cite", `[${c.id}]`);
    b.type = "button";
    b.dataset.cite = String(c.id);
    b.title = citeLabel(c);
    b.setAttribute("aria-label", citeLabel(c));
    b.addEventListener("click", () => showContext(c, b));
    return b;
  }

  // The answer event is authoritative: replace the streamed text so the final wording,
  // citation links and refusal state always match what the server verified.
  function renderAnswer(msg, answer) {
    const cites = Array.isArray(answer.citations) ? answer.citations : [];
    const byId = new Map(cites.map((c) => [String(c.id), c]));
    const text = String(answer.answer || "");
    msg.className = "msg " + (answer.refused ? "refused" : "assistant");
    msg.textContent = "";
    const body = el("div", "text");
    const marker = /\[(\d+)\]/g;
    let last = 0, m;
    while ((m = marker.exec(text))) {
      const c = byId.get(m[1]);
      if (!c) continue; // a bracketed number that is not a citation stays plain text
      body.append(text.slice(last, m.index), citeButton(c));
      last = marker.lastIndex;
    }
    body.append(text.slice(last));
    msg.appendChild(body);
    if (cites.length) {
      const list = el("ol", "citations");
      list.setAttribute("aria-label", "Quotations");
      for (const c of cites) {
        const li = el("li");
        li.append(el("span", "num", `[${c.id}]`), el("span", "speaker", c.speaker || c.label || ""));
        const q = el("button", "quote-link", `\u201C${c.quote}\u201D`);
        q.type = "button";
        q.setAttribute("aria-label", `Show quote ${c.id} in the transcript: ${c.speaker || ""}`);
        q.addEventListener("click", () => showContext(c, q));
        li.appendChild(q);
        li.append(el("span"), el("span", "source", sourceLine(c)));
        list.appendChild(li);
      }
      msg.appendChild(list);
    }
  }

  // Minimal SSE reader: EventSource cannot POST, so parse the stream ourselves.
  // onEvent(name, data) returning true stops reading early.
  async function readSSE(res, onEvent) {
    const dispatch = (block) => {
      let name = "message", data = [];
      for (const line of block.split(/\r?\n/)) {
        if (!line || line[0] === ":") continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      }
      if (!data.length) return false;
      let parsed;
      try { parsed = JSON.parse(data.join("\n")); } catch (e) { return false; }
      return onEvent(name, parsed);
    };
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      // Search the whole buffer, not each chunk: a CRLF or a UTF-8 character may be split
      // across network chunks.
      buf += decoder.decode(value || new Uint8Array(), { stream: !done });
      let m;
      while ((m = /\r?\n\r?\n/.exec(buf))) {
        const block = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (dispatch(block)) { reader.cancel().catch(() => {}); return; }
      }
      if (done) { if (buf.trim()) dispatch(buf); return; }
    }
  }

  async function ask(question) {
    question = String(question == null ? "" : question).trim();
    if (!question || controller) return null;
    if (!isOpen()) open(false);
    addMsg("user", question);
    const msg = addMsg("assistant", "");
    const textNode = msg.firstChild;
    controller = new AbortController();
    setBusy(true);
    let streamed = "", answer = null, failure = null;
    const citations = [];
    try {
      let res;
      try {
        res = await fetch(ENDPOINT + "/ask/stream", {
          method: "POST",
          headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
          body: JSON.stringify({ question, history: history.slice(-HISTORY_SENT), document: DOCUMENT }),
          signal: controller.signal,
        });
      } catch (e) {
        if (e.name === "AbortError") throw e;
        throw new Error(UNREACHABLE); // fetch only rejects on network/CORS failure
      }
      if (!res.ok) {
        failure = errorText(await res.json().catch(() => null), res);
      } else if (/application\/json/.test(res.headers.get("Content-Type") || "")) {
        answer = await res.json(); // tolerate a non-streaming server answering in one piece
      } else {
        await readSSE(res, (name, data) => {
          if (name === "token" && data.text) {
            streamed += data.text;
            follow(() => { textNode.textContent = streamed; });
          } else if (name === "citation") citations.push(data);
          else if (name === "answer") { answer = data; return true; }
          else if (name === "error") {
            failure = (data.error && data.error.message) || "Something went wrong.";
            return true;
          }
          return false;
        });
      }
      if (answer) {
        if (!Array.isArray(answer.citations)) answer.citations = citations;
        follow(() => renderAnswer(msg, answer));
        history.push({ role: "user", content: question }, { role: "assistant", content: String(answer.answer || "") });
        return answer;
      }
      throw new Error(failure || (streamed ? "The answer was interrupted." : "The response ended unexpectedly."));
    } catch (e) {
      if (e.name === "AbortError") {
        follow(() => streamed ? textNode.appendChild(el("span", "note", " (stopped)")) : setMsg(msg, "notice", "Stopped."));
      } else {
        // A dropped connection mid-stream surfaces as a TypeError from reader.read().
        const text = e instanceof TypeError ? UNREACHABLE : e.message;
        if (streamed) addMsg("error", text); else follow(() => setMsg(msg, "error", text));
      }
      return null;
    } finally {
      controller = null;
      setBusy(false);
    }
  }

  // Where a quote comes from: the document's title, date and place, and the recording time if any.
  function sourceLine(c) {
    const parts = [c.title || c.document, c.date, c.place];
    if (c.media_start != null) parts.push("at " + clock(c.media_start));
    return parts.filter(Boolean).join(" \u00B7 ");
  }

  function clock(seconds) {
    const s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }

  async function showContext(c, opener) {
    const seq = ++ctxSeq;
    ctxOpener = opener;
    ctx.hidden = false;
    $("h3").textContent = c.label || c.speaker || "Transcript";
    $(".meta").textContent = [sourceLine(c), c.turn != null ? "turn " + c.turn : ""].filter(Boolean).join(" \u00B7 ");
    ctxBody.textContent = "Loading the passage…";
    $(".context-close").focus();
    let text;
    try {
      const url = `${ENDPOINT}/documents/${encodeURIComponent(c.document)}/context` +
        `?start=${encodeURIComponent(c.char_start)}&end=${encodeURIComponent(c.char_end)}`;
      let res;
      try { res = await fetch(url, { headers: headers({ Accept: "application/json" }) }); }
      catch (e) { throw new Error(UNREACHABLE); }
      const data = await res.json().catch(() => null);
      if (!res.ok || !data) throw new Error(errorText(data, res));
      if (seq !== ctxSeq) return;
      text = String(data.text || "");
      const offset = Number(data.offset) || 0;
      const clamp = (n) => Math.max(0, Math.min(text.length, n - offset));
      const a = clamp(c.char_start), b = clamp(c.char_end);
      $("h3").textContent = data.label || data.speaker || c.label || c.speaker || "Transcript";
      const passage = el("p", "passage");
      const mark = el("mark", "quote-highlight", text.slice(a, b));
      passage.append(offset > 0 ? "\u2026" : "", text.slice(0, a), mark, text.slice(b));
      ctxBody.textContent = "";
      ctxBody.appendChild(passage);
      // Scroll only the pane (not scrollIntoView) so the host page never jumps.
      ctxBody.scrollTop = Math.max(0, mark.offsetTop - ctxBody.clientHeight / 3);
    } catch (e) {
      if (seq !== ctxSeq) return;
      ctxBody.textContent = "";
      ctxBody.appendChild(el("p", "ctx-error", e.message));
    }
  }

  function closeContext(refocus) {
    ctxSeq++;
    ctx.hidden = true;
    if (refocus !== false && ctxOpener && ctxOpener.isConnected) ctxOpener.focus();
    ctxOpener = null;
  }

  launcher.addEventListener("click", () => (isOpen() ? close() : open()));
  $(".close").addEventListener("click", close);
  $(".context-close").addEventListener("click", () => closeContext());
  $(".stop").addEventListener("click", () => controller && controller.abort());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (controller || !input.value.trim()) return;
    const q = input.value;
    input.value = "";
    ask(q);
  });
  input.addEventListener("keydown", (e) => {
    // isComposing: Enter confirms an IME candidate (CJK input) and must not send.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  $(".root").addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (!ctx.hidden) closeContext();
    else if (isOpen()) close();
    else return;
    e.preventDefault();
    e.stopPropagation();
  });

  window.Verbatim = {
    open: () => open(),
    close: () => close(),
    ask: (question) => ask(question),
  };

  function mount() {
    document.body.appendChild(host);
    if (opts.open === "true") open(false); // don't steal focus from the host page on load
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
