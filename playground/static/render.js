// How Slack shows a message: mrkdwn text, markdown blocks and Block Kit, as HTML strings.
// Pure functions: no DOM, no state. Everything from the bot or a person is escaped first;
// only the markup these functions add is HTML. `ctx` names ids: {users: {id: name},
// channels: {id: name}}.
"use strict";

(function (global) {
  const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function esc(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
  }

  // Slack escapes &, < and > in message text; what is left in <…> is markup.
  function unescapeSlack(text) {
    return String(text ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function safeUrl(url) {
    return /^(https?:\/\/|mailto:)/i.test(url) ? url : null;
  }

  function link(url, label) {
    const safe = safeUrl(url);
    if (!safe) return esc(label || url);
    return `<a href="${esc(safe)}" target="_blank" rel="noopener noreferrer">${esc(label || url)}</a>`;
  }

  // One <…> token of Slack's text: a user, channel or special mention, a date, or a link.
  function token(inner, ctx) {
    const [target, label] = splitOnce(inner, "|");
    if (target.startsWith("@")) {
      const id = target.slice(1);
      const name = (ctx.users && ctx.users[id]) || label || id;
      return `<span class="mention user" data-user="${esc(id)}">@${esc(name)}</span>`;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const name = (ctx.channels && ctx.channels[id]) || label || id;
      return `<span class="mention channel">#${esc(name)}</span>`;
    }
    if (target.startsWith("!subteam^")) {
      return `<span class="mention group">${esc(label || "@group")}</span>`;
    }
    if (target.startsWith("!date^")) {
      return esc(label || target);
    }
    if (target.startsWith("!")) {
      return `<span class="mention special">@${esc(target.slice(1))}</span>`;
    }
    return link(target, label);
  }

  function splitOnce(text, sep) {
    const at = text.indexOf(sep);
    return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
  }

  // Formatting spans are applied to escaped text whose links, mentions and code spans were
  // set aside as placeholders (so a URL's underscores never turn into italics).
  class Stash {
    constructor() {
      this.items = [];
    }
    put(html) {
      this.items.push(html);
      return `\u0000${this.items.length - 1}\u0000`;
    }
    restore(text) {
      // A restored item may itself hold placeholders (a link label with a code span).
      let out = text;
      for (let pass = 0; pass < 3 && out.includes("\u0000"); pass++) {
        out = out.replace(/\u0000(\d+)\u0000/g, (_, n) => this.items[Number(n)]);
      }
      return out;
    }
  }

  // The shortcodes the bot writes, as Slack's client draws them.
  const EMOJI = {
    white_check_mark: "✅",
    x: "❌",
    black_square_for_stop: "⏹️",
    hourglass_flowing_sand: "⏳",
    warning: "⚠️",
    eyes: "👀",
    robot_face: "🤖",
    thumbsup: "👍",
    "+1": "👍",
    question: "❓",
    lock: "🔒",
  };

  function emoji(text) {
    return text.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
  }

  function span(text, marker, tag) {
    const m = marker.replace(/[*~]/g, "\\$&");
    const re = new RegExp(`(^|[^\\w${m}])${m}(?=\\S)([^\\n]*?\\S)${m}(?![\\w${m}])`, "g");
    return text.replace(re, `$1<${tag}>$2</${tag}>`);
  }

  // --- mrkdwn ---------------------------------------------------------------------------

  function mrkdwnInline(text, ctx) {
    const stash = new Stash();
    let work = String(text ?? "").replace(/`([^`\n]+)`/g, (_, code) =>
      stash.put(`<code>${esc(unescapeSlack(code))}</code>`),
    );
    work = work.replace(/<([^<>\n]+)>/g, (_, inner) => stash.put(token(inner, ctx)));
    work = esc(unescapeSlack(work));
    work = span(work, "*", "b");
    work = span(work, "_", "i");
    work = span(work, "~", "s");
    return stash.restore(emoji(work));
  }

  function mrkdwnLines(text, ctx) {
    const out = [];
    let quote = [];
    const flush = () => {
      if (quote.length) out.push(`<blockquote>${quote.join("<br>")}</blockquote>`);
      quote = [];
    };
    for (const line of text.split("\n")) {
      const quoted = line.match(/^(?:&gt;|>) ?(.*)$/);
      if (quoted) {
        quote.push(mrkdwnInline(quoted[1], ctx));
        continue;
      }
      flush();
      out.push(mrkdwnInline(line, ctx) + "<br>");
    }
    flush();
    return out.join("").replace(/<br>$/, "");
  }

  function mrkdwn(text, ctx) {
    const parts = String(text ?? "").split("```");
    return parts
      .map((part, index) =>
        index % 2 === 1
          ? `<pre class="code">${esc(unescapeSlack(part.replace(/^\n/, "")))}</pre>`
          : mrkdwnLines(part, ctx),
      )
      .join("");
  }

  // --- markdown (the markdown block, and native streams) ---------------------------------

  function mdInline(text, ctx) {
    const stash = new Stash();
    let work = String(text ?? "");
    work = work.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, __, code) =>
      stash.put(`<code>${esc(code.trim() || code)}</code>`),
    );
    work = work.replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (_, label, url) => {
      const inner = mdInline(label, ctx);
      const safe = safeUrl(url);
      return stash.put(
        safe
          ? `<a href="${esc(safe)}" target="_blank" rel="noopener noreferrer">${inner}</a>`
          : inner,
      );
    });
    work = work.replace(/<((?:https?:\/\/|mailto:|[@#!])[^<>\s]*(?:\|[^<>]*)?)>/g, (_, inner) =>
      stash.put(token(inner, ctx)),
    );
    work = work.replace(/\bhttps?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/g, (url) => stash.put(link(url)));
    work = esc(work);
    work = work.replace(/\*\*(?=\S)([^\n]*?\S)\*\*/g, "<b>$1</b>");
    work = work.replace(/(^|[^\w])__(?=\S)([^\n]*?\S)__(?!\w)/g, "$1<b>$2</b>");
    work = work.replace(/~~(?=\S)([^\n]*?\S)~~/g, "<s>$1</s>");
    work = span(work, "*", "i");
    work = span(work, "_", "i");
    return stash.restore(work);
  }

  const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
  const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
  const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
  const QUOTE = /^ {0,3}> ?(.*)$/;
  const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

  function markdown(text, ctx) {
    const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
    const out = [];
    let i = 0;
    const startsBlock = (line) =>
      FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) ||
      ITEM.test(line);
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (!line.trim()) {
        i++;
      } else if ((m = line.match(FENCE))) {
        const marker = m[1];
        const body = [];
        i++;
        while (i < lines.length && !isClosing(lines[i], marker)) body.push(lines[i++]);
        i++; // the closing fence (or the end of a stream still being written)
        const lang = m[2] ? ` data-lang="${esc(m[2])}"` : "";
        out.push(`<pre class="code"${lang}><code>${esc(body.join("\n"))}</code></pre>`);
      } else if ((m = line.match(HEADING))) {
        const level = m[1].length;
        out.push(`<h${level}>${mdInline(m[2], ctx)}</h${level}>`);
        i++;
      } else if (RULE.test(line)) {
        out.push("<hr>");
        i++;
      } else if (QUOTE.test(line)) {
        const body = [];
        while (i < lines.length && (m = lines[i].match(QUOTE))) {
          body.push(m[1]);
          i++;
        }
        out.push(`<blockquote>${markdown(body.join("\n"), ctx)}</blockquote>`);
      } else if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
        const rows = [line];
        i += 2;
        while (i < lines.length && lines[i].includes("|") && lines[i].trim()) rows.push(lines[i++]);
        out.push(table(rows, ctx));
      } else if (ITEM.test(line)) {
        const items = [];
        while (i < lines.length) {
          const item = lines[i].match(ITEM);
          if (item) {
            items.push({ indent: item[1].length, ordered: /\d/.test(item[2]), start: parseInt(item[2], 10), text: item[3] });
          } else if (lines[i].trim() && /^\s+/.test(lines[i]) && items.length) {
            items[items.length - 1].text += "\n" + lines[i].trim();
          } else {
            break;
          }
          i++;
        }
        out.push(list(items, 0, items.length, ctx));
      } else {
        const body = [];
        while (i < lines.length && lines[i].trim() && !(body.length && startsBlock(lines[i]))) {
          body.push(lines[i++]);
        }
        out.push(`<p>${body.map((l) => mdInline(l, ctx)).join("<br>")}</p>`);
      }
    }
    return out.join("");
  }

  function isClosing(line, marker) {
    const trimmed = line.trim();
    return trimmed.length >= marker.length && trimmed === marker[0].repeat(trimmed.length);
  }

  // Items [from, to) at the first one's indent; deeper ones nest under the item above.
  function list(items, from, to, ctx) {
    const indent = items[from].indent;
    const tag = items[from].ordered ? "ol" : "ul";
    const start = items[from].ordered && items[from].start !== 1 ? ` start="${items[from].start}"` : "";
    let html = `<${tag}${start}>`;
    let i = from;
    while (i < to) {
      let end = i + 1;
      while (end < to && items[end].indent > indent) end++;
      const text = items[i].text.split("\n").map((l) => mdInline(l, ctx)).join("<br>");
      const nested = end > i + 1 ? list(items, i + 1, end, ctx) : "";
      html += `<li>${text}${nested}</li>`;
      i = end;
    }
    return html + `</${tag}>`;
  }

  function cells(row) {
    return row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
  }

  function table(rows, ctx) {
    const [head, ...body] = rows;
    const th = cells(head).map((c) => `<th>${mdInline(c, ctx)}</th>`).join("");
    const trs = body
      .map((r) => `<tr>${cells(r).map((c) => `<td>${mdInline(c, ctx)}</td>`).join("")}</tr>`)
      .join("");
    return `<table class="md-table"><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table>`;
  }

  // --- Block Kit ---------------------------------------------------------------------------

  function textObject(object, ctx) {
    if (!object) return "";
    if (object.type === "mrkdwn") return mrkdwn(object.text, ctx);
    return esc(object.text).replace(/\n/g, "<br>");
  }

  function plain(object) {
    return object ? esc(object.text) : "";
  }

  function button(element, blockId) {
    const style = element.style ? ` ${esc(element.style)}` : "";
    const data =
      `data-action-id="${esc(element.action_id || "")}" data-value="${esc(element.value || "")}" ` +
      `data-block-id="${esc(blockId || "")}"`;
    if (element.url && safeUrl(element.url)) {
      return `<a class="sl-button${style}" href="${esc(element.url)}" target="_blank" rel="noopener">${plain(element.text)}</a>`;
    }
    return `<button type="button" class="sl-button${style}" ${data}>${plain(element.text)}</button>`;
  }

  function element(element, blockId, ctx) {
    switch (element.type) {
      case "button":
        return button(element, blockId);
      case "image":
        return `<img class="b-context-image" src="${esc(element.image_url)}" alt="${esc(element.alt_text)}">`;
      case "mrkdwn":
      case "plain_text":
        return `<span class="b-context-text">${textObject(element, ctx)}</span>`;
      default:
        return `<span class="unsupported">[${esc(element.type)}]</span>`;
    }
  }

  function block(item, ctx) {
    const id = esc(item.block_id || "");
    switch (item.type) {
      case "markdown":
        return `<div class="b-markdown md" data-block-id="${id}" data-source="${esc(item.text)}">${markdown(item.text, ctx)}</div>`;
      case "section": {
        const fields = (item.fields || [])
          .map((f) => `<div class="b-field">${textObject(f, ctx)}</div>`)
          .join("");
        const accessory = item.accessory ? element(item.accessory, item.block_id, ctx) : "";
        return (
          `<div class="b-section" data-block-id="${id}"><div class="b-section-text">` +
          `${textObject(item.text, ctx)}${fields ? `<div class="b-fields">${fields}</div>` : ""}` +
          `</div>${accessory ? `<div class="b-accessory">${accessory}</div>` : ""}</div>`
        );
      }
      case "header":
        return `<div class="b-header" data-block-id="${id}">${plain(item.text)}</div>`;
      case "divider":
        return `<hr class="b-divider">`;
      case "context":
        return `<div class="b-context" data-block-id="${id}">${(item.elements || [])
          .map((e) => element(e, item.block_id, ctx))
          .join("")}</div>`;
      case "actions":
        return `<div class="b-actions" data-block-id="${id}">${(item.elements || [])
          .map((e) => element(e, item.block_id, ctx))
          .join("")}</div>`;
      case "image":
        return `<figure class="b-image"><img src="${esc(item.image_url)}" alt="${esc(item.alt_text)}">${
          item.title ? `<figcaption>${plain(item.title)}</figcaption>` : ""
        }</figure>`;
      case "rich_text":
        return `<div class="b-rich">${richText(item.elements || [], ctx)}</div>`;
      case "table":
        return `<table class="md-table">${(item.rows || [])
          .map((row) => `<tr>${row.map((c) => `<td>${esc(c.text ?? "")}</td>`).join("")}</tr>`)
          .join("")}</table>`;
      case "input":
        return input(item, ctx);
      default:
        return `<div class="unsupported">[${esc(item.type)} block]</div>`;
    }
  }

  function richText(elements, ctx) {
    return elements
      .map((part) => {
        const inner = (part.elements || [])
          .map((e) => {
            if (e.type === "text") return esc(e.text).replace(/\n/g, "<br>");
            if (e.type === "user") return token(`@${e.user_id}`, ctx);
            if (e.type === "channel") return token(`#${e.channel_id}`, ctx);
            if (e.type === "link") return link(e.url, e.text);
            if (e.type === "emoji") return `:${esc(e.name)}:`;
            return richText([e], ctx);
          })
          .join("");
        if (part.type === "rich_text_preformatted") return `<pre class="code">${inner}</pre>`;
        if (part.type === "rich_text_quote") return `<blockquote>${inner}</blockquote>`;
        if (part.type === "rich_text_list") return `<ul>${inner}</ul>`;
        return `<div>${inner}</div>`;
      })
      .join("");
  }

  // A modal's input block; the page reads the values back by block and action id.
  function input(item, ctx) {
    const e = item.element || {};
    const ids = `data-block-id="${esc(item.block_id)}" data-action-id="${esc(e.action_id)}"`;
    let field;
    if (e.type === "plain_text_input") {
      const hint = e.placeholder ? ` placeholder="${plain(e.placeholder)}"` : "";
      field = e.multiline
        ? `<textarea class="b-input" data-kind="plain_text_input" ${ids}${hint}>${esc(e.initial_value)}</textarea>`
        : `<input class="b-input" data-kind="plain_text_input" ${ids}${hint} value="${esc(e.initial_value)}">`;
    } else if (e.type === "radio_buttons") {
      field = `<div class="b-radios" data-kind="radio_buttons" ${ids}>${(e.options || [])
        .map(
          (o, n) =>
            `<label class="b-radio"><input type="radio" name="${esc(item.block_id)}" value="${n}">` +
            `<span>${textObject(o.text, ctx)}${
              o.description ? `<small>${textObject(o.description, ctx)}</small>` : ""
            }</span></label>`,
        )
        .join("")}</div>`;
    } else if (e.type === "static_select") {
      field = `<select class="b-input" data-kind="static_select" ${ids}><option value=""></option>${(
        e.options || []
      )
        .map((o, n) => `<option value="${n}">${plain(o.text)}</option>`)
        .join("")}</select>`;
    } else {
      field = `<div class="unsupported">[${esc(e.type)} input]</div>`;
    }
    return (
      `<div class="b-input-block" data-block-id="${esc(item.block_id)}">` +
      `<label class="b-label">${plain(item.label)}${item.optional ? " <small>(optional)</small>" : ""}</label>` +
      `${field}${item.hint ? `<div class="b-hint">${plain(item.hint)}</div>` : ""}` +
      `<div class="b-error" data-error-for="${esc(item.block_id)}"></div></div>`
    );
  }

  function blocks(list, ctx) {
    return (list || []).map((item) => block(item, ctx)).join("");
  }

  global.SlackRender = { esc, mrkdwn, markdown, blocks, plain };
})(window);
