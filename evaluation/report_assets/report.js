// evaluation.report's episode browser and table filters (this project's own code, its licence).
// The data is the JSON inlined in #report-data: episodes, and one row per (episode, method).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const S = data.strings, E = data.episodes, R = data.rows, M = data.methods;
  const PAGE = 100;
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
                   "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"];
  const colour = (m) => palette[m % palette.length];
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const byEpisode = new Map();
  R.forEach((r) => { if (!byEpisode.has(r[0])) byEpisode.set(r[0], []); byEpisode.get(r[0]).push(r); });

  function fill(select, values) {
    for (const v of values) select.appendChild(el("option", { value: v }, v));
  }
  fill($("f-method"), M);
  fill($("f-category"), [...new Set(E.map((e) => S[e[1]]))]);
  fill($("f-reason"), [...new Set(R.map((r) => S[r[3]]))].filter((v) => v !== "success").sort());

  let matches = [], page = 0, selected = null;

  function filter() {
    const m = $("f-method").value, c = $("f-category").value, sp = $("f-split").value;
    const o = $("f-outcome").value, why = $("f-reason").value, vid = $("f-video").checked;
    matches = R.filter((r) => {
      const e = E[r[0]];
      return (!m || M[r[1]] === m) && (!c || S[e[1]] === c) && (!sp || S[e[2]] === sp) &&
             (o === "" || String(r[2]) === o) && (!why || S[r[3]] === why) && (!vid || r[8]);
    });
    page = 0;
    $("match-count").textContent = matches.length;
    $("match-count").dataset.count = matches.length;
    draw();
  }

  function draw() {
    const body = $("episode-rows");
    body.replaceChildren();
    const pages = Math.max(1, Math.ceil(matches.length / PAGE));
    page = Math.min(page, pages - 1);
    $("page").textContent = ` page ${page + 1} of ${pages} `;
    for (const r of matches.slice(page * PAGE, (page + 1) * PAGE)) {
      const e = E[r[0]];
      const tr = el("tr", { "data-key": e[0], "data-method": M[r[1]], "data-outcome": S[r[3]] });
      tr.appendChild(el("td", {}, e[0]));
      tr.appendChild(el("td", {}, M[r[1]]));
      tr.appendChild(el("td", { class: r[2] ? "ok" : "fail" }, S[r[3]]));
      tr.appendChild(el("td", {}, Math.abs(r[5]).toFixed(3)));
      tr.appendChild(el("td", {}, r[8] ? "yes" : ""));
      if (selected && selected[0] === r[0] && selected[1] === r[1]) tr.classList.add("selected");
      tr.addEventListener("click", () => { selected = r; draw(); detail(r); });
      body.appendChild(tr);
    }
  }

  function svgEl(tag, attrs) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  }

  function detail(sel) {
    const e = E[sel[0]], box = $("episode-detail");
    box.replaceChildren();
    box.appendChild(el("h3", {}, `${e[0]}: ${S[e[3]]}, target ${S[e[4]]}, ${S[e[2]]} category, episode seed ${e[7]}`));
    const stage = el("div", { class: "stage" });
    if (e[5]) stage.appendChild(el("img", { src: e[5], alt: `observation of ${e[0]}` }));
    else stage.appendChild(el("p", { style: "color:#fff;padding:8px" }, "no observation rendered for this episode"));
    const size = e[6];
    const svg = svgEl("svg", { viewBox: `0 0 ${size} ${size}`, id: "overlay" });
    const defs = svgEl("defs", {});
    svg.appendChild(defs);
    const rows = byEpisode.get(sel[0]) || [];
    for (const r of rows) {
      const ov = r[7];
      if (!ov) continue;
      const col = colour(r[1]), mine = r[1] === sel[1];
      const id = `head${r[1]}`;
      const marker = svgEl("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 5, markerHeight: 5,
                                       orient: "auto-start-reverse" });
      marker.appendChild(svgEl("path", { d: "M0,0 L10,5 L0,10 z", fill: col }));
      defs.appendChild(marker);
      const g = svgEl("g", { "data-method": M[r[1]], opacity: mine ? 1 : 0.55 });
      g.appendChild(svgEl("line", { x1: ov[2], y1: ov[3], x2: ov[0], y2: ov[1], stroke: col, "stroke-width": mine ? 3 : 2,
                                    "marker-end": `url(#${id})` }));
      g.appendChild(svgEl("line", { x1: ov[0], y1: ov[1], x2: ov[4], y2: ov[5], stroke: col, "stroke-width": 1.5,
                                    "stroke-dasharray": "4 2" }));
      g.appendChild(svgEl("circle", { cx: ov[0], cy: ov[1], r: mine ? 6 : 4, fill: "none", stroke: col,
                                      "stroke-width": mine ? 3 : 2 }));
      svg.appendChild(g);
    }
    stage.appendChild(svg);
    box.appendChild(stage);
    const t = el("table", { id: "episode-methods" });
    t.appendChild(el("thead")).appendChild(el("tr"));
    for (const h of ["method", "outcome", "|dq|", "cosine", "failure reason"]) t.tHead.rows[0].appendChild(el("th", {}, h));
    const tb = el("tbody");
    for (const r of rows) {
      const tr = el("tr", { "data-method": M[r[1]] });
      const td = el("td", {});
      td.appendChild(el("span", { class: "swatch", style: `background:${colour(r[1])}` }));
      td.appendChild(document.createTextNode(M[r[1]] + (r[1] === sel[1] ? " (chosen)" : "")));
      tr.appendChild(td);
      tr.appendChild(el("td", { class: r[2] ? "ok" : "fail" }, S[r[3]]));
      tr.appendChild(el("td", {}, Math.abs(r[5]).toFixed(3)));
      tr.appendChild(el("td", {}, r[6].toFixed(2)));
      tr.appendChild(el("td", { style: "text-align:left;white-space:normal" }, S[r[4]]));
      tb.appendChild(tr);
    }
    t.appendChild(tb);
    box.appendChild(t);
    for (const r of rows) {
      if (!r[8]) continue;
      const fig = el("figure", {});
      const v = el("video", { controls: "", muted: "", preload: "metadata", width: 336, src: r[8],
                              "data-method": M[r[1]] });
      v.muted = true;
      fig.appendChild(v);
      const same = r[9] === 1 ? " (filmed again: the same outcome, dq and action as the evaluated episode)"
        : r[9] === 0 ? " (filmed again, and it ended OTHERWISE than the evaluated episode: not what the tables count)"
        : "";
      fig.appendChild(el("figcaption", { class: r[9] === 0 ? "fail" : "" }, `${M[r[1]]}: its rollout${same}`));
      box.appendChild(fig);
    }
  }

  for (const id of ["f-method", "f-category", "f-split", "f-outcome", "f-reason", "f-video"]) {
    $(id).addEventListener("change", filter);
  }
  $("prev").addEventListener("click", () => { page = Math.max(0, page - 1); draw(); });
  $("next").addEventListener("click", () => { page += 1; draw(); });

  function filterComparisons() {
    const m = $("cmp-method").value, sp = $("cmp-split").value;
    for (const tr of document.querySelectorAll("#comparison-table tbody tr")) {
      const show = (!m || tr.dataset.a === m || tr.dataset.b === m) && (!sp || tr.dataset.split === sp);
      tr.style.display = show ? "" : "none";
    }
  }
  $("cmp-method").addEventListener("change", filterComparisons);
  $("cmp-split").addEventListener("change", filterComparisons);

  filter();
  window.robomambaReport = { filter, matches: () => matches.length };
})();
