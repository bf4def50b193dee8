var __defProp = Object.defineProperty;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __esm = (fn, res, err) => function __init() {
  if (err) throw err[0];
  try {
    return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;
  } catch (e) {
    throw err = [e], e;
  }
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// src/report/metrics-csv.ts
import { readFile } from "node:fs/promises";
import { join as join7 } from "node:path";
import { parse as parseYaml2 } from "yaml";
function parseCell(raw) {
  const s = raw.trim().replace(/^"(.*)"$/, "$1");
  if (MISSING.has(s)) return null;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) && s !== "Infinity" && s !== "-Infinity") {
    return void 0;
  }
  const v = Number(s);
  return Number.isNaN(v) ? void 0 : v;
}
function parseMetricsCsv(text) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i].trim() === "") i++;
  if (i >= lines.length) return { rows: [], header: [], skipped: 0 };
  const header = lines[i].split(",").map((h) => h.trim().replace(/^"(.*)"$/, "$1"));
  const index = new Map(header.map((h, j) => [h, j]));
  const rows = [];
  let skipped = 0;
  for (const line of lines.slice(i + 1)) {
    if (line.trim() === "") continue;
    const cells = line.split(",");
    if (cells.length !== header.length) {
      skipped++;
      continue;
    }
    const values = cells.map(parseCell);
    if (values.some((v) => v === void 0)) {
      skipped++;
      continue;
    }
    const row = {};
    for (const col of METRICS_COLUMNS2) {
      const j = index.get(col);
      row[col] = j === void 0 ? null : values[j];
    }
    if (row.step === null || !Number.isFinite(row.step)) {
      skipped++;
      continue;
    }
    rows.push(row);
  }
  return { rows, header, skipped };
}
async function readOptional(path3) {
  try {
    return await readFile(path3, "utf8");
  } catch (err) {
    if (err.code === "ENOENT") return null;
    throw err;
  }
}
function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
async function readRunArtifacts(outDir) {
  const [csv, summaryText, configYaml] = await Promise.all([
    readOptional(join7(outDir, "metrics.csv")),
    readOptional(join7(outDir, "summary.json")),
    readOptional(join7(outDir, "config.yaml"))
  ]);
  let summary = null;
  if (summaryText !== null) {
    try {
      const parsed = JSON.parse(summaryText);
      if (isObject(parsed)) summary = parsed;
    } catch {
      summary = null;
    }
  }
  let config = isObject(summary?.config) ? summary.config : null;
  if (config === null && configYaml !== null) {
    try {
      const parsed = parseYaml2(configYaml);
      if (isObject(parsed)) config = parsed;
    } catch {
      config = null;
    }
  }
  return { outDir, metrics: csv === null ? null : parseMetricsCsv(csv), summary, configYaml, config };
}
var METRICS_COLUMNS2, MISSING;
var init_metrics_csv = __esm({
  "src/report/metrics-csv.ts"() {
    "use strict";
    METRICS_COLUMNS2 = [
      "step",
      "epoch",
      "eta",
      "train_loss",
      "train_cost",
      "train_acc",
      "val_loss",
      "val_cost",
      "val_acc",
      "elapsed_s"
    ];
    MISSING = /* @__PURE__ */ new Set(["", "NA", "NaN", "nan", "null", "undefined"]);
  }
});

// src/report/plots.ts
var plots_exports = {};
__export(plots_exports, {
  RUN_FIGURES: () => RUN_FIGURES,
  accuracySpec: () => accuracySpec,
  formatNumber: () => formatNumber,
  lossSpec: () => lossSpec,
  lrSpec: () => lrSpec,
  renderMetricsPlots: () => renderMetricsPlots,
  renderRunFigures: () => renderRunFigures,
  renderRunPlots: () => renderRunPlots,
  renderScatter: () => renderScatter,
  renderSvg: () => renderSvg,
  runInfoFromConfig: () => runInfoFromConfig,
  runPlotTitle: () => runPlotTitle,
  runTitle: () => runTitle,
  scatterSpec: () => scatterSpec,
  statusNote: () => statusNote,
  svgToPng: () => svgToPng,
  writeFigure: () => writeFigure,
  writeFileAtomic: () => writeFileAtomic2
});
import { existsSync as existsSync3 } from "node:fs";
import { rename as rename2, unlink, writeFile } from "node:fs/promises";
import { basename as basename2, dirname as dirname4, join as join8 } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile } from "vega-lite";
async function writeFileAtomic2(path3, data) {
  const tmp = join8(dirname4(path3), `.${basename2(path3)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename2(tmp, path3);
  } catch (err) {
    await unlink(tmp).catch(() => void 0);
    throw err;
  }
}
function installedSansFamily() {
  if (sansFamily === void 0) {
    sansFamily = FONT_CANDIDATES.find(([, files]) => files.some((f) => existsSync3(f)))?.[0] ?? null;
  }
  return sansFamily;
}
async function renderSvg(spec) {
  const { spec: vgSpec } = compile(spec);
  const view = new vega.View(vega.parse(vgSpec), { renderer: "none", logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
function svgToPng(svg, scale = 2) {
  const family = installedSansFamily();
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    font: {
      loadSystemFonts: true,
      ...family ? { defaultFontFamily: family, sansSerifFamily: family } : {}
    },
    logLevel: "off"
  });
  return resvg.render().asPng();
}
async function writeFigure(spec, basePath) {
  const svg = await renderSvg(spec);
  const png = svgToPng(svg);
  const svgPath = `${basePath}.svg`;
  const pngPath = `${basePath}.png`;
  await writeFileAtomic2(svgPath, svg);
  await writeFileAtomic2(pngPath, png);
  return { name: basename2(basePath), svg, png, svgPath, pngPath };
}
function num2(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : void 0;
}
function obj(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
}
function runInfoFromConfig(config) {
  const c = obj(config);
  const train = obj(c.train);
  const schedule = obj(c.schedule ?? train.schedule);
  const model = obj(c.model);
  return {
    name: typeof c.name === "string" ? c.name : void 0,
    lambda: num2(train.lambda) ?? num2(c.lambda),
    ns: num2(schedule.ns),
    batchSize: num2(train.batchSize) ?? num2(train.nBatch) ?? num2(c.batchSize),
    hidden: num2(model.hidden) ?? num2(model.m),
    cycles: num2(schedule.cycles),
    epochs: num2(schedule.epochs) ?? num2(train.epochs),
    etaMin: num2(schedule.etaMin),
    etaMax: num2(schedule.etaMax)
  };
}
function formatNumber(v) {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}
function runTitle(info) {
  const parts = [];
  if (info.name) parts.push(info.name);
  if (info.lambda !== void 0) parts.push(`\u03BB=${formatNumber(info.lambda)}`);
  if (info.ns !== void 0) parts.push(`ns=${formatNumber(info.ns)}`);
  if (info.batchSize !== void 0) parts.push(`n_batch=${formatNumber(info.batchSize)}`);
  if (info.hidden !== void 0) parts.push(`m=${formatNumber(info.hidden)}`);
  if (info.cycles !== void 0) parts.push(`${formatNumber(info.cycles)} cycle${info.cycles === 1 ? "" : "s"}`);
  else if (info.epochs !== void 0) parts.push(`${formatNumber(info.epochs)} epoch${info.epochs === 1 ? "" : "s"}`);
  return parts.length > 0 ? parts.join(" \xB7 ") : "training run";
}
function statusNote(status) {
  if (status === null || status === void 0) return "incomplete run: no summary.json";
  if (["completed", "complete", "done", "ok", "finished", "success"].includes(status.toLowerCase())) return void 0;
  return `run ${status}`;
}
function titleSpec(heading, t) {
  return { text: heading, subtitle: t.subtitle ? [t.title, t.subtitle] : t.title };
}
function lrSpec(rows, t) {
  const values = rows.filter((r) => r.eta !== null && Number.isFinite(r.eta)).map((r) => ({ step: r.step, eta: r.eta }));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: titleSpec("Learning rate", t),
    width: 560,
    height: 300,
    config: BASE_CONFIG,
    data: { values },
    mark: { type: "line", strokeWidth: 2, color: "#4c78a8", point: values.length <= MAX_POINTS_WITH_MARKERS },
    encoding: {
      x: STEP_AXIS,
      y: { field: "eta", type: "quantitative", title: "learning rate \u03B7", axis: { format: "~g" } }
    }
  };
}
function longFormat(rows, series) {
  const out = [];
  for (const s of series) {
    for (const r of rows) {
      const v = r[s.field];
      if (v !== null && Number.isFinite(v)) out.push({ step: r.step, value: v, series: s.label });
    }
  }
  return out;
}
function seriesSpec(rows, series, heading, yTitle, yFormat, t) {
  const values = longFormat(rows, series);
  const perSeries = Math.max(0, ...series.map((s) => values.filter((v) => v.series === s.label).length));
  const legend = { title: null, orient: "bottom", direction: "horizontal", columns: 2, symbolType: "stroke", columnPadding: 24 };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: titleSpec(heading, t),
    width: 560,
    height: 300,
    config: BASE_CONFIG,
    data: { values },
    mark: { type: "line", strokeWidth: 2, point: perSeries <= MAX_POINTS_WITH_MARKERS ? { size: 25 } : false },
    encoding: {
      x: STEP_AXIS,
      y: { field: "value", type: "quantitative", title: yTitle, scale: { zero: false }, axis: { format: yFormat } },
      color: {
        field: "series",
        type: "nominal",
        scale: { domain: series.map((s) => s.label), range: series.map((s) => s.color) },
        legend
      },
      strokeDash: {
        field: "series",
        type: "nominal",
        scale: { domain: series.map((s) => s.label), range: series.map((s) => s.dash) },
        legend
      }
    }
  };
}
function lossSpec(rows, t) {
  return seriesSpec(
    rows,
    [
      { field: "train_loss", label: "training loss", color: BLUE, dash: [1, 0] },
      { field: "val_loss", label: "validation loss", color: ORANGE, dash: [1, 0] },
      { field: "train_cost", label: "training cost", color: "#6baed6", dash: [6, 3] },
      { field: "val_cost", label: "validation cost", color: "#fdae6b", dash: [6, 3] }
    ],
    "Loss and cost",
    "loss / cost",
    "~g",
    t
  );
}
function accuracySpec(rows, t) {
  return seriesSpec(
    rows,
    [
      { field: "train_acc", label: "training accuracy", color: BLUE, dash: [1, 0] },
      { field: "val_acc", label: "validation accuracy", color: ORANGE, dash: [1, 0] }
    ],
    "Accuracy",
    "accuracy",
    ".0%",
    t
  );
}
async function renderMetricsPlots(rows, title, outDir) {
  const t = typeof title === "string" ? { title } : title;
  const sorted = [...rows].sort((a, b) => a.step - b.step);
  const specs = {
    lr: lrSpec(sorted, t),
    loss: lossSpec(sorted, t),
    accuracy: accuracySpec(sorted, t)
  };
  const figures = [];
  for (const name of RUN_FIGURES) figures.push(await writeFigure(specs[name], join8(outDir, name)));
  return figures;
}
function runPlotTitle(run) {
  const info = runInfoFromConfig(run.config);
  const notes = [];
  const status = statusNote(run.summary ? typeof run.summary.status === "string" ? run.summary.status : "unknown" : null);
  if (status) notes.push(status);
  if (run.metrics && run.metrics.rows.length === 0) notes.push("no evaluation points recorded yet");
  return { title: runTitle(info), subtitle: notes.length > 0 ? notes.join(" \xB7 ") : void 0 };
}
async function renderRunFigures(outDir) {
  const run = await readRunArtifacts(outDir);
  if (run.metrics === null) throw new Error(`cannot plot ${outDir}: no metrics.csv there`);
  const figures = await renderMetricsPlots(run.metrics.rows, runPlotTitle(run), outDir);
  return { run, figures };
}
async function renderRunPlots(outDir) {
  const { figures } = await renderRunFigures(outDir);
  return figures.flatMap((f) => [f.svgPath, f.pngPath]);
}
function scatterSpec(o) {
  const values = o.points.filter((p) => Number.isFinite(p[o.x]) && Number.isFinite(p[o.y]));
  const encoding = {
    x: { field: o.x, type: "quantitative", title: o.xLabel, scale: { zero: false, nice: true, padding: 10 }, axis: { tickCount: 8, ...o.xFormat ? { format: o.xFormat } : {} } },
    y: { field: o.y, type: "quantitative", title: o.yLabel, scale: { zero: o.yZero ?? false, padding: 10 }, ...o.yFormat ? { axis: { format: o.yFormat } } : {} }
  };
  if (o.color) encoding.color = { field: o.color, type: "nominal", title: o.colorLabel ?? o.color };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: o.subtitle ? { text: o.title, subtitle: o.subtitle } : o.title,
    width: o.width ?? 560,
    height: o.height ?? 320,
    config: BASE_CONFIG,
    data: { values },
    mark: o.line ? { type: "line", strokeWidth: 2, point: { size: 50, filled: true } } : { type: "point", filled: true, size: 70, opacity: 0.85 },
    encoding: o.line ? { ...encoding, order: { field: o.x, type: "quantitative" } } : encoding
  };
}
async function renderScatter(o, basePath) {
  return writeFigure(scatterSpec(o), basePath);
}
var FONT_CANDIDATES, sansFamily, FONT, BASE_CONFIG, MAX_POINTS_WITH_MARKERS, STEP_AXIS, BLUE, ORANGE, RUN_FIGURES;
var init_plots = __esm({
  "src/report/plots.ts"() {
    "use strict";
    init_metrics_csv();
    FONT_CANDIDATES = [
      ["DejaVu Sans", ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"]],
      ["Liberation Sans", ["/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf"]],
      ["Noto Sans", ["/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/noto/NotoSans-Regular.ttf"]],
      ["Arial", ["/Library/Fonts/Arial.ttf", "/System/Library/Fonts/Supplemental/Arial.ttf", "C:\\Windows\\Fonts\\arial.ttf"]]
    ];
    FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";
    BASE_CONFIG = {
      font: FONT,
      background: "white",
      padding: 8,
      title: { fontSize: 15, subtitleFontSize: 13, subtitleColor: "#333", subtitlePadding: 4, anchor: "middle", offset: 10 },
      axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 8, gridColor: "#e5e5e5" },
      legend: { labelFontSize: 12, titleFontSize: 12, symbolStrokeWidth: 2.5, symbolSize: 220, labelLimit: 260 },
      view: { stroke: "#cccccc" }
    };
    MAX_POINTS_WITH_MARKERS = 60;
    STEP_AXIS = { field: "step", type: "quantitative", title: "update step", axis: { format: ",~r", tickCount: 8 } };
    BLUE = "#1f77b4";
    ORANGE = "#ff7f0e";
    RUN_FIGURES = ["lr", "loss", "accuracy"];
  }
});

// src/report/page.ts
var page_exports = {};
__export(page_exports, {
  escapeHtml: () => escapeHtml,
  formatDuration: () => formatDuration,
  renderReportHtml: () => renderReportHtml,
  writeReportPage: () => writeReportPage
});
import { readFile as readFile2 } from "node:fs/promises";
import { join as join9 } from "node:path";
import { stringify as toYaml2 } from "yaml";
function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}
function pct2(v) {
  return isNum(v) ? `${(v * 100).toFixed(2)}%` : "\u2014";
}
function fixed(v, digits = 4) {
  return isNum(v) ? v.toFixed(digits) : "\u2014";
}
function int(v) {
  return isNum(v) ? Math.round(v).toLocaleString("en-US") : "\u2014";
}
function formatDuration(seconds) {
  if (!isNum(seconds)) return "\u2014";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor(seconds % 3600 / 60);
  const s = seconds % 60;
  return h > 0 ? `${h} h ${m} min ${Math.round(s)} s` : `${m} min ${s.toFixed(1)} s`;
}
function statusClass(status) {
  if (status === null) return "incomplete";
  const s = status.toLowerCase();
  if (["completed", "complete", "done", "ok", "finished", "success"].includes(s)) return "ok";
  if (s === "interrupted") return "warn";
  return "bad";
}
function lastWith(rows, key) {
  for (let i = rows.length - 1; i >= 0; i--) if (isNum(rows[i][key])) return rows[i];
  return void 0;
}
function summarySection(run) {
  const s = run.summary;
  const rows = run.metrics?.rows ?? [];
  const status = s ? typeof s.status === "string" ? s.status : "unknown" : null;
  const kv = [
    ["status", `<span class="status ${statusClass(status)}">${escapeHtml(status ?? "incomplete (no summary.json)")}</span>`]
  ];
  if (s) {
    kv.push(
      ["backend", escapeHtml(typeof s.backend === "string" ? s.backend : "\u2014")],
      ["seed", isNum(s.seed) ? String(s.seed) : "\u2014"],
      ["update steps", int(s.steps)],
      ["epochs", isNum(s.epochs) ? String(Number(s.epochs.toFixed(3))) : "\u2014"],
      ["training time", formatDuration(s.seconds)],
      ["throughput", isNum(s.samplesPerSecond) ? `${int(s.samplesPerSecond)} samples/s` : "\u2014"]
    );
  } else {
    const last = rows[rows.length - 1];
    kv.push(
      ["evaluation points recorded", String(rows.length)],
      ["last recorded step", last ? int(last.step) : "\u2014"],
      ["last recorded epoch", last && isNum(last.epoch) ? String(Number(last.epoch.toFixed(3))) : "\u2014"],
      ["elapsed at last point", last ? formatDuration(last.elapsed_s) : "\u2014"]
    );
  }
  if (run.metrics && run.metrics.skipped > 0) {
    kv.push(["metrics.csv lines skipped", `${run.metrics.skipped} (incomplete or malformed)`]);
  }
  const kvHtml = kv.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${v}</td></tr>`).join("\n");
  let finalHtml;
  const f = s?.final;
  if (f && (f.train || f.val || f.test)) {
    const splits = [
      ["training", "train"],
      ["validation", "val"],
      ["test", "test"]
    ];
    const body = splits.map(([label, k]) => {
      const m = f[k];
      return `<tr><th scope="row">${label}</th><td class="acc">${pct2(m?.accuracy)}</td><td>${fixed(m?.loss)}</td><td>${fixed(m?.cost)}</td></tr>`;
    }).join("\n");
    finalHtml = `<table class="final"><caption>Final metrics</caption><thead><tr><th></th><th>accuracy</th><th>loss</th><th>cost</th></tr></thead><tbody>
${body}
</tbody></table>`;
  } else {
    const lt = lastWith(rows, "train_acc");
    const lv = lastWith(rows, "val_acc");
    finalHtml = lt || lv ? `<table class="final"><caption>Last recorded metrics (no final evaluation)</caption><thead><tr><th></th><th>step</th><th>accuracy</th><th>loss</th><th>cost</th></tr></thead><tbody>
<tr><th scope="row">training</th><td>${lt ? int(lt.step) : "\u2014"}</td><td class="acc">${pct2(lt?.train_acc)}</td><td>${fixed(lt?.train_loss)}</td><td>${fixed(lt?.train_cost)}</td></tr>
<tr><th scope="row">validation</th><td>${lv ? int(lv.step) : "\u2014"}</td><td class="acc">${pct2(lv?.val_acc)}</td><td>${fixed(lv?.val_loss)}</td><td>${fixed(lv?.val_cost)}</td></tr>
</tbody></table>` : '<p class="note">No metrics recorded.</p>';
  }
  return `<section id="summary"><h2>Summary</h2><div class="cols"><table class="kv"><tbody>
${kvHtml}
</tbody></table>
${finalHtml}</div></section>`;
}
function figuresSection(figures, note) {
  const items = figures.map((f) => {
    const src = f.svg !== void 0 ? `data:image/svg+xml;base64,${Buffer.from(f.svg, "utf8").toString("base64")}` : `data:image/png;base64,${Buffer.from(f.png ?? new Uint8Array()).toString("base64")}`;
    return `<figure id="fig-${escapeHtml(f.name)}"><img class="plot" src="${src}" alt="${escapeHtml(f.caption)}"><figcaption>${escapeHtml(f.caption)} <span class="files">(<a href="${escapeHtml(f.name)}.svg">${escapeHtml(f.name)}.svg</a>, <a href="${escapeHtml(f.name)}.png">${escapeHtml(f.name)}.png</a>)</span></figcaption></figure>`;
  }).join("\n");
  return `<section id="plots"><h2>Plots</h2>${note ? `<p class="note">${escapeHtml(note)}</p>` : ""}
${items}</section>`;
}
function configSection(run) {
  const text = run.configYaml ?? (run.config ? toYaml2(run.config) : null);
  return `<section id="config"><h2>Resolved configuration</h2>${text === null ? '<p class="note">No config.yaml and no config in summary.json.</p>' : `<pre>${escapeHtml(text)}</pre>`}</section>`;
}
function renderReportHtml(run, figures, generatedAt = /* @__PURE__ */ new Date()) {
  const info = runInfoFromConfig(run.config);
  const title = runTitle(info);
  const plotTitle = runPlotTitle(run);
  const noteForPlots = run.metrics === null ? "No metrics.csv in this run directory: nothing to plot." : plotTitle.subtitle;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`Training report \u2014 ${title}`)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>Training report: ${escapeHtml(info.name ?? "run")}</h1><p class="sub">${escapeHtml(title)}</p></header>
${summarySection(run)}
${figuresSection(figures, noteForPlots)}
${configSection(run)}
<footer>Generated ${escapeHtml(generatedAt.toISOString())} from ${escapeHtml(run.outDir)}</footer>
</body>
</html>
`;
}
async function writeReportPage(outDir, options = {}) {
  const run = await readRunArtifacts(outDir);
  const figures = [];
  if (run.metrics !== null && options.renderPlots !== false) {
    for (const f of await renderMetricsPlots(run.metrics.rows, runPlotTitle(run), outDir)) {
      figures.push({ name: f.name, caption: CAPTIONS[f.name] ?? f.name, svg: f.svg });
    }
  } else if (run.metrics !== null) {
    for (const name of RUN_FIGURES) {
      try {
        figures.push({ name, caption: CAPTIONS[name], svg: await readFile2(join9(outDir, `${name}.svg`), "utf8") });
      } catch {
      }
    }
  }
  const path3 = join9(outDir, "report.html");
  await writeFileAtomic2(path3, renderReportHtml(run, figures));
  return path3;
}
var CAPTIONS, CSS;
var init_page = __esm({
  "src/report/page.ts"() {
    "use strict";
    init_metrics_csv();
    init_plots();
    CAPTIONS = {
      lr: "Learning rate vs update step",
      loss: "Training and validation loss and cost vs update step",
      accuracy: "Training and validation accuracy vs update step"
    };
    CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; margin: 2rem auto; max-width: 1000px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
.sub { color: #555; margin-top: 0; }
.cols { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
table { border-collapse: collapse; }
th, td { padding: .25rem .75rem; text-align: left; }
table.kv th { font-weight: normal; color: #555; }
table.final caption { text-align: left; font-weight: bold; padding-bottom: .3rem; }
table.final td, table.final thead th { text-align: right; }
table.final tbody tr:nth-child(odd) { background: #f6f6f6; }
td.acc { font-weight: bold; }
.status { padding: .1rem .5rem; border-radius: .3rem; font-weight: bold; }
.status.ok { background: #d8f0d8; color: #1a5e1a; }
.status.warn { background: #fdebc8; color: #7a4b00; }
.status.bad { background: #f8d2d2; color: #8a1010; }
.status.incomplete { background: #e4e4e4; color: #333; }
figure { margin: 1.5rem 0; }
img.plot { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; }
.files { font-size: .8rem; }
pre { background: #f6f6f6; padding: .8rem; overflow-x: auto; font-size: .85rem; }
.note { color: #8a5a00; }
footer { margin-top: 2rem; color: #888; font-size: .8rem; }
`;
  }
});

// src/cli/main.ts
import { Command, CommanderError, Option } from "commander";

// src/config/load.ts
import { readFileSync, statSync } from "node:fs";
import { parse as parseYaml, stringify } from "yaml";

// src/config/errors.ts
var UsageError = class extends Error {
  constructor(message, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
  exitCode;
  name = "UsageError";
};
var ConfigError = class extends UsageError {
  constructor(problems) {
    super(problems.join("\n"));
    this.problems = problems;
  }
  problems;
  name = "ConfigError";
};

// src/config/train-schema.ts
import { z } from "zod";
var OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
var OFFICIAL_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";
var batchName = z.string().regex(/^[A-Za-z0-9_.-]+$/, "a batch file name such as data_batch_1");
var dataSchema = z.strictObject({
  dir: z.string().min(1).optional().describe("Folder with the CIFAR-10 binary batches (else --data, $CIFAR10_DIR, ./data/cifar-10-batches-bin, then download)."),
  url: z.string().url().default(OFFICIAL_URL).describe("Where to download cifar-10-binary.tar.gz when no local copy exists."),
  md5: z.string().regex(/^[0-9a-f]{32}$/).default(OFFICIAL_MD5).describe("md5 of the downloaded archive."),
  train: z.array(batchName).min(1).default(["data_batch_1"]).describe("Training batch files."),
  validation: z.array(batchName).optional().describe("Validation batch files (default [data_batch_2] unless `holdout` is used)."),
  holdout: z.int().min(0).default(0).describe("Hold out the last N records of the training files for validation (instead of `validation`)."),
  test: z.array(batchName).default(["test_batch"]).describe("Test batch files."),
  trainLimit: z.int().positive().optional().describe("Use only the first N training records (e.g. 100 for the sanity check).")
}).prefault({}).refine((d) => !(d.holdout > 0 && d.validation?.length), {
  message: "give data.validation (files) or data.holdout > 0, not both",
  path: ["holdout"]
});
var scheduleSchema = z.strictObject({
  etaMin: z.number().positive().default(1e-5).describe("Lowest learning rate of the cycle."),
  etaMax: z.number().positive().default(0.1).describe("Highest learning rate of the cycle."),
  ns: z.int().positive().default(500).describe("Half-cycle length in update steps."),
  cycles: z.number().positive().optional().describe("Run length in cycles of 2\xB7ns steps (give this or `epochs`; default 1 cycle)."),
  epochs: z.number().positive().optional().describe("Run length in epochs (give this or `cycles`).")
}).prefault({}).refine((s) => s.etaMin <= s.etaMax, { message: "etaMin must be \u2264 etaMax", path: ["etaMin"] }).refine((s) => !(s.cycles !== void 0 && s.epochs !== void 0), { message: "give cycles or epochs, not both", path: ["epochs"] });
var trainSchema = z.strictObject({
  kind: z.literal("train").default("train").describe("Config kind: train, gradcheck or search."),
  name: z.string().min(1).default("run").describe("Run name, used in titles and output folder names."),
  seed: z.int().min(0).max(2 ** 32 - 1).default(1).describe("Seed of every random choice (initialisation, shuffling)."),
  data: dataSchema,
  model: z.strictObject({ hidden: z.int().positive().max(4096).default(50).describe("Hidden units m.") }).prefault({}),
  train: z.strictObject({
    lambda: z.number().min(0).default(0.01).describe("L2 strength lambda."),
    batchSize: z.int().positive().default(100).describe("Mini-batch size n_batch.")
  }).prefault({}),
  schedule: scheduleSchema,
  eval: z.strictObject({
    pointsPerCycle: z.int().positive().default(10).describe("Evaluation points per cycle (metrics.csv rows)."),
    every: z.int().positive().optional().describe("Evaluate every N steps (overrides pointsPerCycle)."),
    trainSubset: z.int().positive().optional().describe("Evaluate training metrics on the first N training records only (default: all).")
  }).prefault({}),
  kernels: z.strictObject({
    backend: z.enum(["auto", "wasm-simd", "webasm", "cpu", "headlessgl", "webgpu", "reference"]).default("auto").describe("Kernel backend; auto picks the fastest that loads (GPU via gpu.js, else wasm-simd)."),
    threads: z.int().min(0).default(0).describe("Threads for the kernels; 0 = all available cores (divided among search workers).")
  }).prefault({}),
  checkpoint: z.strictObject({ every: z.int().min(0).default(0).describe("Also save model.json every N steps (0 = only at the end).") }).prefault({})
});

// src/config/schema.ts
var configSchemas = {
  train: trainSchema
};

// src/config/load.ts
var MAX_CONFIG_BYTES = 1 << 20;
function show(value) {
  if (value === void 0) return "missing";
  const s = JSON.stringify(value);
  return s === void 0 ? String(value) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
function formatIssues(source, issues) {
  return issues.map((i) => {
    const path3 = i.path.length ? i.path.join(".") : "(top level)";
    const keys = i.code === "unrecognized_keys" ? ` ${i.keys.map((k) => JSON.stringify(k)).join(", ")}` : "";
    const got = i.code === "unrecognized_keys" ? "" : ` (got ${show(i.input)})`;
    return `${source}: ${path3}: ${i.message}${keys}${got}`;
  });
}
function applySet(raw, assignment, source = "--set") {
  const eq = assignment.indexOf("=");
  if (eq <= 0) throw new ConfigError([`${source} ${JSON.stringify(assignment)}: expected key.path=value`]);
  const path3 = assignment.slice(0, eq).trim().split(".");
  if (path3.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) || path3.some((p) => p === "__proto__" || p === "constructor" || p === "prototype")) {
    throw new ConfigError([`${source} ${JSON.stringify(assignment)}: bad key path ${JSON.stringify(path3.join("."))}`]);
  }
  let value;
  try {
    value = parseYaml(assignment.slice(eq + 1), { maxAliasCount: 0 });
  } catch (e) {
    throw new ConfigError([`${source} ${JSON.stringify(assignment)}: value is not valid YAML (${e.message.split("\n")[0]})`]);
  }
  let node = raw;
  for (const key of path3.slice(0, -1)) {
    const next = node[key];
    if (next === void 0 || next === null) node[key] = {};
    else if (typeof next !== "object" || Array.isArray(next)) {
      throw new ConfigError([`${source} ${JSON.stringify(assignment)}: ${key} is not a section`]);
    }
    node = node[key];
  }
  node[path3[path3.length - 1]] = value;
}
function readYamlFile(path3) {
  let text;
  try {
    const st = statSync(path3);
    if (st.isDirectory()) throw new ConfigError([`${path3}: is a directory, expected a YAML config file`]);
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError([`${path3}: ${st.size} bytes is too large for a config file`]);
    text = readFileSync(path3, "utf8");
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([`${path3}: cannot read config file (${e.code ?? e.message})`]);
  }
  let raw;
  try {
    raw = parseYaml(text, { maxAliasCount: 50, prettyErrors: true });
  } catch (e) {
    throw new ConfigError([`${path3}: invalid YAML: ${e.message.split("\n")[0]}`]);
  }
  if (raw === null || raw === void 0) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError([`${path3}: expected a mapping of config fields at the top level`]);
  return raw;
}
function validateConfig(raw, source) {
  const kind = raw.kind ?? "train";
  const schema = configSchemas[kind];
  if (!schema) {
    throw new ConfigError([`${source}: kind: must be one of ${Object.keys(configSchemas).join(", ")} (got ${show(raw.kind)})`]);
  }
  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(source, result.error.issues));
  return result.data;
}
function loadConfig(path3, sets = []) {
  const raw = readYamlFile(path3);
  for (const s of sets) applySet(raw, s);
  return validateConfig(raw, path3);
}
function toYaml(config) {
  return stringify(config, { lineWidth: 0 });
}

// src/data/acquire.ts
import { dirname as dirname2 } from "node:path";

// src/data/download.ts
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
var CIFAR10_ARCHIVE_NAME = "cifar-10-binary.tar.gz";
var CIFAR10_DIR_NAME = "cifar-10-batches-bin";
var CIFAR10_BATCH_FILES = [
  "data_batch_1.bin",
  "data_batch_2.bin",
  "data_batch_3.bin",
  "data_batch_4.bin",
  "data_batch_5.bin",
  "test_batch.bin"
];
var CIFAR10_META_FILE = "batches.meta.txt";
var CIFAR10_RECORD_BYTES = 3073;
var DownloadError = class extends Error {
  code;
  constructor(code, message, options) {
    super(message, options);
    this.name = "DownloadError";
    this.code = code;
  }
};
var DEFAULT_TIMEOUT_MS = 3e4;
var DEFAULT_MAX_EXTRACTED = 1024 ** 3;
function manualInstallHint(destDir, url) {
  const target = path.join(destDir, CIFAR10_DIR_NAME);
  return `To install CIFAR-10 manually, download ${url} on a machine with internet access and unpack it so that ${target}${path.sep} holds ${CIFAR10_BATCH_FILES.join(", ")} and ${CIFAR10_META_FILE} (e.g. \`tar -xzf ${CIFAR10_ARCHIVE_NAME} -C ${destDir}\`), or point the tool at an existing ${CIFAR10_DIR_NAME} folder with --data DIR, the config key data.dir, or the environment variable CIFAR10_DIR (default location: ./data/${CIFAR10_DIR_NAME}).`;
}
async function downloadCifar10(opts) {
  const destDir = path.resolve(opts.destDir);
  const finalDir = path.join(destDir, CIFAR10_DIR_NAME);
  const archive = path.join(destDir, CIFAR10_ARCHIVE_NAME);
  const md5 = opts.md5.trim().toLowerCase();
  if (await exists(finalDir)) {
    throw new DownloadError(
      "exists",
      `Not downloading CIFAR-10: ${finalDir} already exists; use it with --data ${finalDir}, or remove it to download again.`
    );
  }
  let created;
  try {
    created = await fsp.mkdir(destDir, { recursive: true });
  } catch (e) {
    throw ioError(`cannot create the data folder ${destDir}`, e);
  }
  try {
    return await fetchAndExtract(opts, destDir, finalDir, archive, md5);
  } catch (e) {
    if (created !== void 0) {
      for (let d = destDir; d.length >= created.length; d = path.dirname(d)) {
        try {
          await fsp.rmdir(d);
        } catch {
          break;
        }
      }
    }
    throw e;
  }
}
async function fetchAndExtract(opts, destDir, finalDir, archive, md5) {
  await removeStaleTemporaries(destDir);
  checkAborted(opts.signal);
  let haveArchive = false;
  if (await exists(archive)) {
    const got = await md5OfFile(archive).catch(() => null);
    if (got === md5) haveArchive = true;
    else await fsp.rm(archive, { force: true });
  }
  if (!haveArchive) await fetchArchive(opts, destDir, archive, md5);
  try {
    await extractArchive(archive, destDir, finalDir, opts);
  } catch (e) {
    if (e instanceof DownloadError && ["unsafe-entry", "bad-archive", "missing-files"].includes(e.code)) {
      await fsp.rm(archive, { force: true }).catch(() => {
      });
    }
    throw e;
  }
  if (opts.keepArchive === false) await fsp.rm(archive, { force: true });
  return finalDir;
}
async function fetchArchive(opts, destDir, archive, md5) {
  const { url } = opts;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fetchImpl = opts.fetchImpl ?? fetch;
  const part = path.join(destDir, `.${CIFAR10_ARCHIVE_NAME}.${process.pid}.part`);
  const controller = new AbortController();
  let timedOut = null;
  let timer;
  const arm = (phase) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = phase;
      controller.abort(new Error(`timed out (${phase})`));
    }, timeoutMs);
  };
  const onCallerAbort = () => controller.abort(new Error("aborted"));
  opts.signal?.addEventListener("abort", onCallerAbort, { once: true });
  let fh;
  let received = 0;
  let total = null;
  const secs = `${+(timeoutMs / 1e3).toFixed(3)} s`;
  try {
    arm("connect");
    let res;
    try {
      res = await fetchImpl(url, {
        signal: controller.signal,
        redirect: "follow",
        headers: { "accept-encoding": "identity" }
      });
    } catch (e) {
      if (opts.signal?.aborted) throw abortedError();
      if (timedOut) {
        throw new DownloadError(
          "timeout",
          `Download of CIFAR-10 timed out: ${url} did not answer within ${secs}. ${manualInstallHint(destDir, url)}`,
          { cause: e }
        );
      }
      if (isOfflineError(e)) {
        throw new DownloadError(
          "offline",
          `Download of CIFAR-10 failed: this machine seems to be offline (${describeNetError(e)} for ${url}). ` + manualInstallHint(destDir, url),
          { cause: e }
        );
      }
      throw new DownloadError(
        "network",
        `Download of CIFAR-10 from ${url} failed (${describeNetError(e)}). ${manualInstallHint(destDir, url)}`,
        { cause: e }
      );
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {
      });
      throw new DownloadError(
        "http",
        `Download of CIFAR-10 failed: ${url} answered HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}. ` + manualInstallHint(destDir, url)
      );
    }
    if (!res.body) {
      throw new DownloadError("truncated", `Download of CIFAR-10 failed: ${url} sent an empty response.`);
    }
    const lenHeader = res.headers.get("content-length");
    const encoded = (res.headers.get("content-encoding") ?? "identity").toLowerCase() !== "identity";
    if (lenHeader !== null && /^\d+$/.test(lenHeader.trim()) && !encoded) total = Number(lenHeader);
    try {
      fh = await fsp.open(part, "wx");
    } catch (e) {
      await res.body.cancel().catch(() => {
      });
      throw ioError(`cannot write ${part}`, e);
    }
    const hash = createHash("md5");
    const reader = res.body.getReader();
    opts.onProgress?.(0, total);
    arm("body");
    for (; ; ) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (opts.signal?.aborted) throw abortedError();
        if (timedOut) {
          throw new DownloadError(
            "timeout",
            `Download of CIFAR-10 timed out: ${url} sent no data for ${secs} (after ${fmtBytes(received)}${total !== null ? " of " + fmtBytes(total) : ""}); the partial download was removed. ` + manualInstallHint(destDir, url),
            { cause: e }
          );
        }
        throw new DownloadError(
          "truncated",
          `Download of CIFAR-10 was interrupted after ${fmtBytes(received)}${total !== null ? " of " + fmtBytes(total) : ""} (${describeNetError(e)}); the partial download was removed, please try again.`,
          { cause: e }
        );
      }
      if (chunk.done) break;
      const bytes = chunk.value;
      clearTimeout(timer);
      hash.update(bytes);
      try {
        await fh.write(bytes);
      } catch (e) {
        await reader.cancel().catch(() => {
        });
        throw ioError(`cannot write ${part}`, e);
      }
      received += bytes.length;
      opts.onProgress?.(received, total);
      if (opts.signal?.aborted) throw abortedError();
      arm("body");
    }
    clearTimeout(timer);
    if (total !== null && received !== total) {
      throw new DownloadError(
        "truncated",
        `Download of CIFAR-10 was incomplete: received ${fmtBytes(received)} of ${fmtBytes(total)} from ${url}; the partial download was removed, please try again.`
      );
    }
    try {
      await fh.sync();
      await fh.close();
      fh = void 0;
    } catch (e) {
      throw ioError(`cannot write ${part}`, e);
    }
    const got = hash.digest("hex");
    if (got !== md5) {
      throw new DownloadError(
        "checksum",
        `Checksum mismatch for ${url}: expected md5 ${md5}, got ${got} (${fmtBytes(received)}); the corrupt download was removed, please try again.`
      );
    }
    try {
      await fsp.rename(part, archive);
    } catch (e) {
      throw ioError(`cannot rename ${part} to ${archive}`, e);
    }
  } catch (e) {
    clearTimeout(timer);
    controller.abort();
    await fh?.close().catch(() => {
    });
    await fsp.rm(part, { force: true }).catch(() => {
    });
    throw e;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onCallerAbort);
  }
}
var OFFLINE_CODES = /* @__PURE__ */ new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_NONAME",
  "EAI_FAIL",
  "ECONNREFUSED",
  "ECONNRESET",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT"
]);
function errorChain(e) {
  const out = [];
  const seen = /* @__PURE__ */ new Set();
  const walk = (x2) => {
    if (!x2 || typeof x2 !== "object" || seen.has(x2)) return;
    seen.add(x2);
    const o = x2;
    out.push(o);
    walk(o.cause);
    if (Array.isArray(o.errors)) o.errors.forEach(walk);
  };
  walk(e);
  return out;
}
function isOfflineError(e) {
  return errorChain(e).some((o) => typeof o.code === "string" && OFFLINE_CODES.has(o.code));
}
function describeNetError(e) {
  const chain = errorChain(e);
  const parts = [];
  for (const o of chain) {
    if (typeof o.code === "string" && /^E[A-Z_]+$/.test(o.code)) {
      const where = typeof o.hostname === "string" ? ` ${o.hostname}` : typeof o.address === "string" ? ` ${o.address}${typeof o.port === "number" ? ":" + o.port : ""}` : "";
      parts.push(o.code + where);
    }
  }
  if (parts.length > 0) return [...new Set(parts)].join(", ");
  const msg = chain.map((o) => typeof o.message === "string" ? o.message : "").filter((m) => m && m !== "fetch failed" && m !== "terminated");
  return msg[0] ?? (e instanceof Error ? e.message : String(e));
}
var SAFE_TYPES = /* @__PURE__ */ new Set(["File", "OldFile", "ContiguousFile", "Directory"]);
function unsafeEntryReason(entryPath, type, linkpath) {
  if (!SAFE_TYPES.has(type)) {
    const what = {
      SymbolicLink: "a symbolic link",
      Link: "a hard link",
      CharacterDevice: "a character device",
      BlockDevice: "a block device",
      FIFO: "a FIFO"
    };
    return `it is ${what[type] ?? `of unsupported type ${type}`}`;
  }
  if (linkpath) return "it carries a link target";
  if (entryPath.length === 0) return "its path is empty";
  if (entryPath.includes("\0")) return "its path contains a NUL byte";
  if (entryPath.includes("\\")) return "its path contains a backslash";
  if (entryPath.startsWith("/") || /^[A-Za-z]:/.test(entryPath)) return "its path is absolute";
  if (entryPath.split("/").includes("..")) return 'its path contains ".."';
  return null;
}
async function extractArchive(archive, destDir, finalDir, opts) {
  const maxBytes = opts.maxExtractedBytes ?? DEFAULT_MAX_EXTRACTED;
  let bad = null;
  let sum = 0;
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      if (!bad) {
        const why = unsafeEntryReason(entry.path, entry.type, entry.linkpath);
        sum += entry.size ?? 0;
        if (why) {
          bad = new DownloadError(
            "unsafe-entry",
            `Refusing to extract ${archive}: entry "${entry.path}" ${why}, which could write outside ${destDir}; nothing was extracted.`
          );
        } else if (sum > maxBytes) {
          bad = new DownloadError(
            "bad-archive",
            `Refusing to extract ${archive}: its contents exceed ${fmtBytes(maxBytes)}; nothing was extracted.`
          );
        }
        if (bad) parser.abort(bad);
      }
      entry.resume();
    }
  });
  try {
    await pipeline(createReadStream(archive), parser);
  } catch (e) {
    if (bad) throw bad;
    if (opts.signal?.aborted) throw abortedError();
    throw new DownloadError("bad-archive", `Cannot read ${archive}: ${errMessage(e)}; nothing was extracted.`, {
      cause: e
    });
  }
  if (bad) throw bad;
  checkAborted(opts.signal);
  const tmp = path.join(destDir, `.cifar-10-extract.${process.pid}.tmp`);
  await fsp.rm(tmp, { recursive: true, force: true });
  try {
    try {
      await fsp.mkdir(tmp);
    } catch (e) {
      throw ioError(`cannot create ${tmp}`, e);
    }
    let bad2 = null;
    try {
      await pipeline(
        createReadStream(archive),
        tar.x({
          cwd: tmp,
          strict: true,
          preservePaths: false,
          preserveOwner: false,
          noChmod: true,
          filter: (p, entry) => {
            const e = entry;
            const why = unsafeEntryReason(p, e.type, e.linkpath);
            if (why && !bad2) {
              bad2 = new DownloadError("unsafe-entry", `Refusing to extract ${archive}: entry "${p}" ${why}.`);
            }
            return why === null && !bad2;
          }
        })
      );
    } catch (e) {
      if (bad2) throw bad2;
      throw new DownloadError("bad-archive", `Cannot extract ${archive}: ${errMessage(e)}.`, { cause: e });
    }
    if (bad2) throw bad2;
    checkAborted(opts.signal);
    const extracted = path.join(tmp, CIFAR10_DIR_NAME);
    const problems = await verifyCifar10Dir(extracted);
    if (problems.length > 0) {
      throw new DownloadError(
        "missing-files",
        `The CIFAR-10 archive ${archive} did not yield the expected files in ${CIFAR10_DIR_NAME}/: ${problems.join("; ")}.`
      );
    }
    try {
      await fsp.rename(extracted, finalDir);
    } catch (e) {
      const code = e.code;
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        throw new DownloadError("exists", `Cannot install CIFAR-10: ${finalDir} appeared meanwhile; not overwriting it.`);
      }
      throw ioError(`cannot rename ${extracted} to ${finalDir}`, e);
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {
    });
  }
}
async function verifyCifar10Dir(dir) {
  const problems = [];
  const missing = [];
  for (const name of [...CIFAR10_BATCH_FILES, CIFAR10_META_FILE]) {
    let st;
    try {
      st = await fsp.stat(path.join(dir, name));
    } catch {
      missing.push(name);
      continue;
    }
    if (!st.isFile()) problems.push(`${name} is not a file`);
    else if (name !== CIFAR10_META_FILE && (st.size === 0 || st.size % CIFAR10_RECORD_BYTES !== 0)) {
      problems.push(`${name} has ${st.size} bytes, not a positive multiple of ${CIFAR10_RECORD_BYTES}`);
    }
  }
  if (missing.length > 0) problems.unshift(`missing ${missing.join(", ")}`);
  return problems;
}
async function removeStaleTemporaries(destDir) {
  let names;
  try {
    names = await fsp.readdir(destDir);
  } catch {
    return;
  }
  const re = /^\.(?:cifar-10-binary\.tar\.gz\.(\d+)\.part|cifar-10-extract\.(\d+)\.tmp)$/;
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1] ?? m[2]);
    if (pid === process.pid || !isAlive(pid)) {
      await fsp.rm(path.join(destDir, name), { recursive: true, force: true }).catch(() => {
      });
    }
  }
}
function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}
async function exists(p) {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}
async function md5OfFile(file) {
  const hash = createHash("md5");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}
function checkAborted(signal) {
  if (signal?.aborted) throw abortedError();
}
function abortedError() {
  return new DownloadError("aborted", "Download of CIFAR-10 was cancelled; temporary files were removed.");
}
function ioError(what, e) {
  return new DownloadError("io", `CIFAR-10 download: ${what}: ${errMessage(e)}`, { cause: e });
}
function errMessage(e) {
  return e instanceof Error ? e.message : String(e);
}
function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

// src/data/download-progress.ts
import cliProgress from "cli-progress";
var MiB = 1024 * 1024;
var mb = (n) => (n / MiB).toFixed(1);
function progressBar(options = {}) {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const label = options.label ?? "Downloading CIFAR-10";
  const intervalMs = options.intervalMs ?? 5e3;
  const started = Date.now();
  let last = { received: 0, total: null };
  let stopped = false;
  if (tty) {
    let bar = null;
    let barTotal = 0;
    const report2 = ((received, total) => {
      if (stopped) return;
      last = { received, total };
      const t = total ?? Math.max(received, 1);
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${label} |{bar}| {percentage}% | {recv}/{tot} MiB | {speed} MiB/s | ETA {eta_formatted}`,
            hideCursor: true,
            barsize: 30,
            etaBuffer: 50
          },
          cliProgress.Presets.shades_classic
        );
        barTotal = t;
        bar.start(t, received, payload(received, total));
      } else {
        if (t !== barTotal) {
          barTotal = t;
          bar.setTotal(t);
        }
        bar.update(received, payload(received, total));
      }
    });
    report2.stop = () => {
      if (stopped) return;
      stopped = true;
      bar?.stop();
    };
    return report2;
  }
  let lastDecile = -1;
  let lastLineAt = 0;
  const report = ((received, total) => {
    if (stopped) return;
    last = { received, total };
    const now = Date.now();
    if (total !== null && total > 0) {
      const decile = Math.min(10, Math.floor(received / total * 10));
      if (decile === lastDecile) return;
      lastDecile = decile;
      stream.write(`${label}: ${decile * 10}% (${mb(received)} of ${mb(total)} MiB)
`);
    } else if (lastLineAt === 0 || now - lastLineAt >= intervalMs) {
      lastLineAt = now;
      stream.write(`${label}: ${mb(received)} MiB
`);
    }
  });
  report.stop = () => {
    if (stopped) return;
    stopped = true;
    const { received, total } = last;
    if (received > 0 && (total === null || lastDecile < 10)) {
      stream.write(`${label}: ${mb(received)} MiB received
`);
    }
  };
  return report;
  function payload(received, total) {
    const secs = Math.max((Date.now() - started) / 1e3, 1e-3);
    return { recv: mb(received), tot: total === null ? "?" : mb(total), speed: (received / MiB / secs).toFixed(1) };
  }
}

// src/data/locate.ts
import { statSync as statSync2 } from "node:fs";
import { homedir } from "node:os";
import * as path2 from "node:path";
var DataDirError = class extends Error {
  source;
  path;
  constructor(source, p, message) {
    super(message);
    this.name = "DataDirError";
    this.source = source;
    this.path = p;
  }
};
var SOURCE_LABEL = {
  cli: "--data",
  config: "config data.dir",
  env: "environment variable CIFAR10_DIR"
};
function defaultDataRoot(cwd = process.cwd()) {
  return path2.resolve(cwd, "data");
}
function resolveDataDir(opts = {}) {
  const env = opts.env ?? process.env;
  const cwd = path2.resolve(opts.cwd ?? process.cwd());
  const tried = [];
  const explicit = [
    ["cli", opts.cliDir, cwd],
    ["config", opts.configDir, opts.configBase ? path2.resolve(cwd, opts.configBase) : cwd],
    ["env", env.CIFAR10_DIR, cwd]
  ];
  for (const [source, raw, base] of explicit) {
    if (raw === void 0 || raw.trim() === "") continue;
    const given = path2.resolve(base, expandHome(raw.trim()));
    tried.push(given);
    if (!isDir(given)) {
      throw new DataDirError(
        source,
        given,
        `CIFAR-10 folder given by ${SOURCE_LABEL[source]} does not exist or is not a directory: ${given}` + (given !== raw ? ` (from "${raw}")` : "") + `; it should contain ${CIFAR10_BATCH_FILES.join(", ")} and batches.meta.txt.`
      );
    }
    const sub = path2.join(given, CIFAR10_DIR_NAME);
    if (!isFile(path2.join(given, CIFAR10_BATCH_FILES[0])) && isDir(sub)) {
      tried.push(sub);
      return { dir: sub, source, tried };
    }
    return { dir: given, source, tried };
  }
  const def = path2.join(defaultDataRoot(cwd), CIFAR10_DIR_NAME);
  tried.push(def);
  return { dir: isDir(def) ? def : null, source: "default", tried };
}
function expandHome(p) {
  if (p === "~") return homedir();
  if (p.startsWith("~/")) return path2.join(homedir(), p.slice(2));
  return p;
}
function isDir(p) {
  try {
    return statSync2(p).isDirectory();
  } catch {
    return false;
  }
}
function isFile(p) {
  try {
    return statSync2(p).isFile();
  } catch {
    return false;
  }
}

// src/data/acquire.ts
async function acquireDataDir(opts) {
  try {
    const found = resolveDataDir({ cliDir: opts.cliDir, configDir: opts.data.dir, configBase: opts.configPath ? dirname2(opts.configPath) : void 0 });
    if (found.dir) return found.dir;
    const dest = defaultDataRoot();
    opts.log?.(`No CIFAR-10 folder found (looked in ${found.tried.join(", ")}); downloading ${opts.data.url} into ${dest}`);
    const progress = progressBar();
    try {
      return await downloadCifar10({ url: opts.data.url, md5: opts.data.md5, destDir: dest, onProgress: progress, signal: opts.signal });
    } finally {
      progress.stop();
    }
  } catch (e) {
    if (e instanceof DataDirError || e instanceof DownloadError) throw new UsageError(e.message);
    throw e;
  }
}

// src/data/cifar.ts
import { closeSync, fstatSync, openSync, readSync, statSync as statSync3 } from "node:fs";
import { join as join3 } from "node:path";
var RECORD_BYTES = 3073;
var PIXELS = 3072;
var CLASSES = 10;
var DataError = class extends Error {
  name = "DataError";
};
function recordCount(path3) {
  let st;
  try {
    st = statSync3(path3);
  } catch {
    throw new DataError(`${path3}: file not found`);
  }
  if (st.isDirectory()) throw new DataError(`${path3}: is a directory, expected a CIFAR-10 batch file`);
  if (!st.isFile()) throw new DataError(`${path3}: not a regular file`);
  if (st.size === 0) throw new DataError(`${path3}: file is empty`);
  if (st.size % RECORD_BYTES !== 0) {
    throw new DataError(`${path3}: size ${st.size} is not a multiple of ${RECORD_BYTES} bytes (truncated or not a CIFAR-10 binary batch)`);
  }
  return st.size / RECORD_BYTES;
}
function readBatches(paths) {
  const counts = paths.map(recordCount);
  const count = counts.reduce((a, b) => a + b, 0);
  const pixels = new Uint8Array(new SharedArrayBuffer(count * PIXELS));
  const labels = new Uint8Array(new SharedArrayBuffer(count));
  const chunkRecords = 1e3;
  const buf = Buffer.allocUnsafe(chunkRecords * RECORD_BYTES);
  let at2 = 0;
  paths.forEach((path3, f) => {
    const fd = openSync(path3, "r");
    try {
      if (fstatSync(fd).size !== counts[f] * RECORD_BYTES) throw new DataError(`${path3}: file changed while reading`);
      for (let done = 0; done < counts[f]; ) {
        const n = Math.min(chunkRecords, counts[f] - done);
        const bytes = n * RECORD_BYTES;
        let got = 0;
        while (got < bytes) {
          const r = readSync(fd, buf, got, bytes - got, null);
          if (r === 0) throw new DataError(`${path3}: unexpected end of file`);
          got += r;
        }
        for (let i = 0; i < n; i++) {
          const o = i * RECORD_BYTES, label = buf[o];
          if (label >= CLASSES) {
            throw new DataError(`${path3}: record ${done + i} has label ${label}, expected 0..9 (not a CIFAR-10 binary batch?)`);
          }
          labels[at2] = label;
          pixels.set(buf.subarray(o + 1, o + RECORD_BYTES), at2 * PIXELS);
          at2++;
        }
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  });
  return { pixels, labels, count };
}
function batchPath(dir, name) {
  return join3(dir, name.endsWith(".bin") ? name : `${name}.bin`);
}
function slice(ds, start, end) {
  return { pixels: ds.pixels.subarray(start * PIXELS, end * PIXELS), labels: ds.labels.subarray(start, end), count: end - start };
}

// src/data/splits.ts
function validationFiles(data) {
  return data.validation ?? (data.holdout > 0 ? [] : ["data_batch_2"]);
}
function loadSplits(data, dir) {
  const pool = readBatches(data.train.map((n) => batchPath(dir, n)));
  let train = pool, val;
  if (data.holdout > 0) {
    if (data.holdout >= pool.count) {
      throw new UsageError(`config: data.holdout: ${data.holdout} held-out records leave no training data (the training files hold ${pool.count})`);
    }
    train = slice(pool, 0, pool.count - data.holdout);
    val = slice(pool, pool.count - data.holdout, pool.count);
  } else {
    val = readBatches(validationFiles(data).map((n) => batchPath(dir, n)));
  }
  if (data.trainLimit !== void 0) {
    if (data.trainLimit > train.count) {
      throw new UsageError(`config: data.trainLimit: ${data.trainLimit} is more than the ${train.count} training records`);
    }
    train = slice(train, 0, data.trainLimit);
  }
  const test = data.test.length ? readBatches(data.test.map((n) => batchPath(dir, n))) : slice(val, 0, 0);
  return { train, val, test };
}

// src/kernels/select.ts
import { availableParallelism } from "node:os";

// src/kernels/gpujs.ts
import { GPU } from "gpu.js";

// src/kernels/js-ops.ts
function addRowVector(a, bias) {
  const { rows, cols, data } = a;
  const b = bias.data;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) data[o + j] += b[j];
  }
}
function relu(s, h) {
  const x2 = s.data, y = h.data, n = s.rows * s.cols;
  for (let i = 0; i < n; i++) y[i] = x2[i] > 0 ? x2[i] : 0;
}
function reluBackward(g, h) {
  const x2 = g.data, y = h.data, n = g.rows * g.cols;
  for (let i = 0; i < n; i++) if (!(y[i] > 0)) x2[i] = 0;
}
function softmaxRows(s, p) {
  const { rows, cols } = s;
  const x2 = s.data, y = p.data;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x2[o + j] > max) max = x2[o + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x2[o + j] - max);
      y[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < cols; j++) y[o + j] *= inv;
  }
}
function crossEntropy(p, labels, rows = p.rows) {
  const { cols, data } = p;
  let lossSum = 0, correct = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * cols, y = labels[i];
    lossSum -= Math.log(Math.max(data[o + y], 1e-300));
    let arg = 0;
    for (let j = 1; j < cols; j++) if (data[o + j] > data[o + arg]) arg = j;
    if (arg === y) correct++;
  }
  return { lossSum, correct };
}
function subtractOneHot(p, labels) {
  for (let i = 0; i < p.rows; i++) p.data[i * p.cols + labels[i]] -= 1;
}
function columnSums(a, out, scale) {
  const { rows, cols, data } = a;
  const o = out.data;
  o.fill(0, 0, cols);
  for (let i = 0; i < rows; i++) {
    const r = i * cols;
    for (let j = 0; j < cols; j++) o[j] += data[r + j];
  }
  for (let j = 0; j < cols; j++) o[j] *= scale;
}
function sumSquares(a) {
  const d = a.data, n = a.rows * a.cols;
  let s = 0;
  for (let i = 0; i < n; i++) s += d[i] * d[i];
  return s;
}
function sgdUpdate(w, g, eta, lambda) {
  const x2 = w.data, d = g.data, n = w.rows * w.cols;
  const decay = 1 - 2 * eta * lambda;
  for (let i = 0; i < n; i++) x2[i] = decay * x2[i] - eta * d[i];
}
function gatherNormalized(records, rows, count, mean, invStd, out) {
  const d = out.cols, y = out.data;
  for (let r = 0; r < count; r++) {
    const src = rows[r] * d, dst = r * d;
    for (let k = 0; k < d; k++) y[dst + k] = (records[src + k] * (1 / 255) - mean[k]) * invStd[k];
  }
}
function read(a) {
  return Float64Array.from(a.data.subarray(0, a.rows * a.cols));
}
function write(a, values) {
  const n = a.rows * a.cols;
  if (values.length !== n) throw new Error(`write: expected ${n} values, got ${values.length}`);
  for (let i = 0; i < n; i++) a.data[i] = values[i];
}

// src/kernels/gpujs.ts
function nn(a, b) {
  const i = Math.floor(this.thread.x / this.constants.m), j = this.thread.x % this.constants.m;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[i * this.constants.k + p] * b[p * this.constants.m + j];
  return s;
}
function nt(a, b) {
  const i = Math.floor(this.thread.x / this.constants.m), j = this.thread.x % this.constants.m;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[i * this.constants.k + p] * b[j * this.constants.k + p];
  return s;
}
function tn(a, b) {
  const i = Math.floor(this.thread.x / this.constants.m), j = this.thread.x % this.constants.m;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[p * this.constants.n + i] * b[p * this.constants.m + j];
  return s;
}
function tt(a, b) {
  const i = Math.floor(this.thread.x / this.constants.m), j = this.thread.x % this.constants.m;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[p * this.constants.n + i] * b[j * this.constants.k + p];
  return s;
}
var layouts = { nn, nt, tn, tt };
var GpuJsBackend = class _GpuJsBackend {
  constructor(gpu, mode, threads, asyncMode) {
    this.gpu = gpu;
    this.mode = mode;
    this.threads = threads;
    this.asyncMode = asyncMode;
    this.name = `gpujs-${mode}`;
  }
  gpu;
  mode;
  threads;
  asyncMode;
  dtype = "float32";
  name;
  kernels = /* @__PURE__ */ new Map();
  /** Throws when the mode does not load on this machine. */
  static async create(mode, opts = {}) {
    const supported = {
      headlessgl: async () => GPU.isHeadlessGLSupported,
      webgpu: async () => Boolean(await GPU.isWebGPUAvailable?.()),
      webasm: async () => GPU.isWebAssemblySupported,
      cpu: async () => true
    }[mode];
    if (!await supported().catch(() => false)) throw new Error(`gpu.js ${mode} is not supported on this machine`);
    const threaded = mode === "webasm" && (opts.threads ?? 1) > 1;
    const gpu = new GPU({ mode, ...threaded ? { poolSize: opts.threads } : {} });
    const backend = new _GpuJsBackend(gpu, mode, threaded ? opts.threads : 0, threaded || mode === "webgpu");
    const probe = backend.matrix(2, 2);
    backend.write(probe, [1, 2, 3, 4]);
    const out = backend.matrix(2, 2);
    await backend.gemm(probe, false, probe, false, out);
    const ran = backend.kernels.values().next().value;
    const ranMode = ran?.kernel?.constructor?.mode;
    if (out.data[0] !== 7 || ranMode && ranMode !== mode) {
      backend.dispose();
      throw new Error(`gpu.js ${mode} did not run (ran ${ranMode ?? "unknown"})`);
    }
    return backend;
  }
  matrix(rows, cols) {
    return { rows, cols, data: new Float32Array(rows * cols) };
  }
  kernel(layout, n, m, k) {
    const key = `${layout}:${n}:${m}:${k}`;
    let kernel = this.kernels.get(key);
    if (!kernel) {
      kernel = this.gpu.createKernel(layouts[layout], {
        output: [n * m],
        constants: { n, m, k },
        precision: "single",
        tactic: "precision",
        ...this.asyncMode ? { asyncMode: true } : {}
      });
      this.kernels.set(key, kernel);
    }
    return kernel;
  }
  async gemm(a, ta, b, tb, c, alpha = 1, beta = 0) {
    const n = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols;
    const m = tb ? b.rows : b.cols;
    if ((tb ? b.cols : b.rows) !== k || c.rows !== n || c.cols !== m) throw new Error("gemm: shapes do not fit");
    const layout = `${ta ? "t" : "n"}${tb ? "t" : "n"}`;
    const result = await this.kernel(layout, n, m, k)(a.data, b.data);
    const out = c.data;
    for (let i = 0; i < n * m; i++) out[i] = alpha * result[i] + (beta === 0 ? 0 : beta * out[i]);
  }
  addRowVector(a, bias) {
    addRowVector(a, bias);
  }
  relu(s, h) {
    relu(s, h);
  }
  reluBackward(g, h) {
    reluBackward(g, h);
  }
  softmaxRows(s, p) {
    softmaxRows(s, p);
  }
  crossEntropy(p, labels, rows) {
    return crossEntropy(p, labels, rows);
  }
  subtractOneHot(p, labels) {
    subtractOneHot(p, labels);
  }
  columnSums(a, out, scale) {
    columnSums(a, out, scale);
  }
  sumSquares(a) {
    return sumSquares(a);
  }
  sgdUpdate(w, g, eta, lambda) {
    sgdUpdate(w, g, eta, lambda);
  }
  gatherNormalized(records, rows, count, mean, invStd, out) {
    gatherNormalized(records, rows, count, mean, invStd, out);
  }
  read(a) {
    return read(a);
  }
  write(a, values) {
    write(a, values);
  }
  dispose() {
    for (const k of this.kernels.values()) k.destroy?.();
    this.kernels.clear();
    this.gpu.destroy();
  }
};

// src/kernels/reference.ts
var at = (m, i, j, t) => t ? m.data[j * m.cols + i] : m.data[i * m.cols + j];
var ReferenceBackend = class {
  name = "reference-f64";
  dtype = "float64";
  threads = 0;
  matrix(rows, cols) {
    return { rows, cols, data: new Float64Array(rows * cols) };
  }
  gemm(a, ta, b, tb, c, alpha = 1, beta = 0) {
    const n = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols;
    const kb = tb ? b.cols : b.rows, m = tb ? b.rows : b.cols;
    if (k !== kb || c.rows !== n || c.cols !== m) {
      throw new Error(`gemm: shapes ${a.rows}\xD7${a.cols}${ta ? "\u1D40" : ""} \xB7 ${b.rows}\xD7${b.cols}${tb ? "\u1D40" : ""} \u2192 ${c.rows}\xD7${c.cols} do not fit`);
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += at(a, i, p, ta) * at(b, p, j, tb);
        const o = i * m + j;
        c.data[o] = alpha * s + (beta === 0 ? 0 : beta * c.data[o]);
      }
    }
  }
  addRowVector(a, bias) {
    for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) a.data[i * a.cols + j] += bias.data[j];
  }
  relu(s, h) {
    s.data.forEach((v, i) => {
      h.data[i] = Math.max(0, v);
    });
  }
  reluBackward(g, h) {
    h.data.forEach((v, i) => {
      if (v <= 0) g.data[i] = 0;
    });
  }
  softmaxRows(s, p) {
    for (let i = 0; i < s.rows; i++) {
      const row = Array.from(s.data.subarray(i * s.cols, (i + 1) * s.cols));
      const max = Math.max(...row);
      const e = row.map((v) => Math.exp(v - max));
      const z2 = e.reduce((x2, y) => x2 + y, 0);
      e.forEach((v, j) => {
        p.data[i * p.cols + j] = v / z2;
      });
    }
  }
  crossEntropy(p, labels, rows = p.rows) {
    let lossSum = 0, correct = 0;
    for (let i = 0; i < rows; i++) {
      const row = Array.from(p.data.subarray(i * p.cols, (i + 1) * p.cols));
      lossSum += -Math.log(row[labels[i]]);
      if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
    }
    return { lossSum, correct };
  }
  subtractOneHot(p, labels) {
    for (let i = 0; i < p.rows; i++) p.data[i * p.cols + labels[i]] -= 1;
  }
  columnSums(a, out, scale) {
    for (let j = 0; j < a.cols; j++) {
      let s = 0;
      for (let i = 0; i < a.rows; i++) s += a.data[i * a.cols + j];
      out.data[j] = scale * s;
    }
  }
  sumSquares(a) {
    let s = 0;
    for (const v of a.data) s += v * v;
    return s;
  }
  sgdUpdate(w, g, eta, lambda) {
    for (let i = 0; i < w.data.length; i++) w.data[i] -= eta * (g.data[i] + 2 * lambda * w.data[i]);
  }
  gatherNormalized(records, rows, count, mean, invStd, out) {
    for (let r = 0; r < count; r++) {
      for (let k = 0; k < out.cols; k++) {
        out.data[r * out.cols + k] = (records[rows[r] * out.cols + k] / 255 - mean[k]) * invStd[k];
      }
    }
  }
  read(a) {
    return Float64Array.from(a.data);
  }
  write(a, values) {
    if (values.length !== a.data.length) throw new Error(`write: expected ${a.data.length} values, got ${values.length}`);
    a.data.set(Array.from(values));
  }
  dispose() {
  }
};

// src/kernels/select.ts
var AUTO_ORDER = ["headlessgl", "webgpu", "wasm-simd", "webasm", "cpu"];
async function load(name, threads) {
  switch (name) {
    case "reference":
      return new ReferenceBackend();
    case "wasm-simd": {
      const { WasmSimdBackend } = await import("./wasm-simd.js");
      return WasmSimdBackend.create({ threads });
    }
    default:
      return GpuJsBackend.create(name, { threads });
  }
}
async function selectBackend(name, threads = 0) {
  const t = threads > 0 ? threads : availableParallelism();
  if (name !== "auto") {
    try {
      return { backend: await load(name, t), skipped: [] };
    } catch (e) {
      throw new Error(`kernel backend ${name} is not available here: ${e.message}`);
    }
  }
  const skipped = [];
  for (const candidate of AUTO_ORDER) {
    try {
      return { backend: await load(candidate, t), skipped };
    } catch (e) {
      skipped.push({ name: candidate, reason: e.message });
    }
  }
  throw new Error(`no kernel backend loads here: ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}`);
}

// src/pipeline/train.ts
import { mkdirSync } from "node:fs";
import { join as join5 } from "node:path";
import { concatMap as concatMap5, defaultIfEmpty, EMPTY, fromEvent, lastValueFrom, of, pipe, range, takeUntil, tap } from "rxjs";

// src/data/normalization.ts
function computeNormalization(ds) {
  const sum = new Float64Array(PIXELS), sq = new Float64Array(PIXELS);
  const { pixels, count } = ds;
  for (let i = 0; i < count; i++) {
    const o = i * PIXELS;
    for (let k = 0; k < PIXELS; k++) {
      const v = pixels[o + k];
      sum[k] += v;
      sq[k] += v * v;
    }
  }
  const mean = new Float32Array(PIXELS), invStd = new Float32Array(PIXELS);
  for (let k = 0; k < PIXELS; k++) {
    const mu = sum[k] / count;
    const variance = Math.max(0, sq[k] / count - mu * mu);
    mean[k] = mu / 255;
    const std = Math.sqrt(variance) / 255;
    invStd[k] = std > 1e-12 ? 1 / std : 1;
  }
  return { mean, invStd };
}

// src/model/evaluator.ts
var Evaluator = class {
  constructor(net, norm, chunk = 1e3) {
    this.net = net;
    this.norm = norm;
    this.chunk = chunk;
    this.X = net.backend.matrix(chunk, net.shape.d);
    this.rows = new Int32Array(chunk);
    this.labels = new Uint8Array(chunk);
  }
  net;
  norm;
  chunk;
  X;
  rows;
  labels;
  /** Wall time spent evaluating so far. */
  seconds = 0;
  /** Metrics over the first `limit` records of `data` (all by default). */
  async evaluate(data, lambda, limit = data.count) {
    const count = Math.min(limit, data.count);
    if (count === 0) return { loss: NaN, cost: NaN, accuracy: NaN };
    const b = this.net.backend, t0 = performance.now();
    let lossSum = 0, correct = 0;
    for (let start = 0; start < count; start += this.chunk) {
      const n = Math.min(this.chunk, count - start);
      for (let i = 0; i < n; i++) {
        this.rows[i] = start + i;
        this.labels[i] = data.labels[start + i];
      }
      await b.gatherNormalized(data.pixels, this.rows, n, this.norm.mean, this.norm.invStd, this.X);
      const r = await this.net.evaluate(this.X, this.labels, n);
      lossSum += r.lossSum;
      correct += r.correct;
    }
    const loss = lossSum / count;
    this.seconds += (performance.now() - t0) / 1e3;
    return { loss, cost: loss + await this.net.penalty(lambda), accuracy: correct / count };
  }
};

// src/model/network.ts
var PARAM_NAMES = ["W1", "b1", "W2", "b2"];
var Network = class {
  constructor(backend, shape) {
    this.backend = backend;
    this.shape = shape;
    const { d, m, k } = shape;
    const b = backend;
    this.params = { W1: b.matrix(m, d), b1: b.matrix(1, m), W2: b.matrix(k, m), b2: b.matrix(1, k) };
    this.grads = { W1: b.matrix(m, d), b1: b.matrix(1, m), W2: b.matrix(k, m), b2: b.matrix(1, k) };
  }
  backend;
  shape;
  params;
  grads;
  workspaces = /* @__PURE__ */ new Map();
  /** W1 ~ N(0, 1/√d), W2 ~ N(0, 1/√m) (standard deviations), biases 0. */
  initialise(rng) {
    const { d, m, k } = this.shape;
    const gaussian = (count, std) => Float64Array.from({ length: count }, () => rng.normal() * std);
    this.backend.write(this.params.W1, gaussian(m * d, 1 / Math.sqrt(d)));
    this.backend.write(this.params.W2, gaussian(k * m, 1 / Math.sqrt(m)));
    this.backend.write(this.params.b1, new Float64Array(m));
    this.backend.write(this.params.b2, new Float64Array(k));
  }
  workspace(n) {
    let ws = this.workspaces.get(n);
    if (!ws) {
      const { m, k } = this.shape;
      ws = { n, S1H: this.backend.matrix(n, m), SP: this.backend.matrix(n, k), G1: this.backend.matrix(n, m) };
      this.workspaces.set(n, ws);
    }
    return ws;
  }
  /** P = softmax(W2 relu(W1 x + b1) + b2) for the n rows of X; returns the workspace holding H and P. */
  async forward(X) {
    const b = this.backend, { W1, b1, W2, b2 } = this.params;
    const ws = this.workspace(X.rows);
    await b.gemm(X, false, W1, true, ws.S1H);
    await b.addRowVector(ws.S1H, b1);
    await b.relu(ws.S1H, ws.S1H);
    await b.gemm(ws.S1H, false, W2, true, ws.SP);
    await b.addRowVector(ws.SP, b2);
    await b.softmaxRows(ws.SP, ws.SP);
    return ws;
  }
  /** Loss sum and correct count of the first `count` rows of X (rows beyond are padding). */
  async evaluate(X, labels, count = X.rows) {
    const ws = await this.forward(X);
    return this.backend.crossEntropy(ws.SP, labels, count);
  }
  /** Fills this.grads with the gradient of the mean cross-entropy (without the L2 term) and returns the batch's loss. */
  async backward(X, labels) {
    const b = this.backend, { W2 } = this.params, g = this.grads;
    const ws = await this.forward(X);
    const n = X.rows;
    const result = await b.crossEntropy(ws.SP, labels);
    await b.subtractOneHot(ws.SP, labels);
    await b.gemm(ws.SP, true, ws.S1H, false, g.W2, 1 / n);
    await b.columnSums(ws.SP, g.b2, 1 / n);
    await b.gemm(ws.SP, false, W2, false, ws.G1);
    await b.reluBackward(ws.G1, ws.S1H);
    await b.gemm(ws.G1, true, X, false, g.W1, 1 / n);
    await b.columnSums(ws.G1, g.b1, 1 / n);
    return result;
  }
  /** One step of mini-batch gradient descent with L2 strength lambda; returns the batch's loss before the step. */
  async trainStep(X, labels, eta, lambda) {
    const result = await this.backward(X, labels);
    const b = this.backend, p = this.params, g = this.grads;
    await b.sgdUpdate(p.W1, g.W1, eta, lambda);
    await b.sgdUpdate(p.b1, g.b1, eta, 0);
    await b.sgdUpdate(p.W2, g.W2, eta, lambda);
    await b.sgdUpdate(p.b2, g.b2, eta, 0);
    return result;
  }
  /** lambda (‖W1‖² + ‖W2‖²): add to the mean loss to get the cost J. */
  async penalty(lambda) {
    if (lambda === 0) return 0;
    const b = this.backend;
    return lambda * (await b.sumSquares(this.params.W1) + await b.sumSquares(this.params.W2));
  }
  /** ∂J/∂param after backward(): the data gradient plus 2 lambda W for the weights. */
  regularisedGradient(name, lambda) {
    const g = this.backend.read(this.grads[name]);
    if (name === "W1" || name === "W2") {
      const w = this.backend.read(this.params[name]);
      for (let i = 0; i < g.length; i++) g[i] += 2 * lambda * w[i];
    }
    return g;
  }
  /** Parameter values as float64 arrays, for checkpoints and tests. */
  snapshot() {
    return Object.fromEntries(PARAM_NAMES.map((p) => [p, this.backend.read(this.params[p])]));
  }
  restore(values) {
    for (const p of PARAM_NAMES) this.backend.write(this.params[p], values[p]);
  }
};

// src/util/rng.ts
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
var Rng = class {
  gen;
  spare = null;
  constructor(seed) {
    this.gen = xoroshiro128plus(seed >>> 0);
  }
  /** Uniform integer in [min, max]. */
  int(min, max) {
    return uniformInt(this.gen, min, max);
  }
  /** Uniform in [0, 1) with 53 random bits. */
  uniform() {
    const hi = uniformInt(this.gen, 0, (1 << 26) - 1);
    const lo = uniformInt(this.gen, 0, (1 << 27) - 1);
    return (hi * 134217728 + lo) / 9007199254740992;
  }
  /** Standard normal (Box–Muller). */
  normal() {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** Fisher–Yates shuffle in place. */
  shuffle(a) {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
};
function deriveSeed(seed, label) {
  let h = (seed ^ 2654435769) >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 2246822507) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

// src/util/atomic.ts
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname as dirname3, join as join4 } from "node:path";
function writeFileAtomic(path3, data) {
  const tmp = join4(dirname3(path3), `.${basename(path3)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path3);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
function writeJsonAtomic(path3, value) {
  writeFileAtomic(path3, `${JSON.stringify(value, null, 2)}
`);
}

// src/stages/evaluate.ts
import { concatMap } from "rxjs";
function evaluate(plan) {
  return concatMap(async (s) => {
    if (!plan.isEvaluationPoint(s.step)) return s;
    const train = await plan.evaluator.evaluate(plan.train, plan.lambda, plan.trainLimit);
    const val = await plan.evaluator.evaluate(plan.val, plan.lambda);
    return { ...s, metrics: { step: s.step, epoch: s.epoch, eta: s.eta, train, val, elapsed_s: plan.elapsedSeconds() } };
  });
}

// src/stages/metrics-sink.ts
import { createWriteStream, existsSync, statSync as statSync4 } from "node:fs";
import { format } from "fast-csv";
import { concatMap as concatMap2 } from "rxjs";
var METRICS_COLUMNS = ["step", "epoch", "eta", "train_loss", "train_cost", "train_acc", "val_loss", "val_cost", "val_acc", "elapsed_s"];
var num = (v) => Number.isFinite(v) ? v : "NA";
function metricsRecord(m) {
  return {
    step: m.step,
    epoch: num(Number(m.epoch.toFixed(6))),
    eta: num(m.eta),
    train_loss: num(m.train.loss),
    train_cost: num(m.train.cost),
    train_acc: num(m.train.accuracy),
    val_loss: num(m.val.loss),
    val_cost: num(m.val.cost),
    val_acc: num(m.val.accuracy),
    elapsed_s: Number(m.elapsed_s.toFixed(3))
  };
}
var CsvLog = class {
  csv;
  done;
  constructor(path3, columns, append = false) {
    const hasContent = append && existsSync(path3) && statSync4(path3).size > 0;
    const file = createWriteStream(path3, { flags: hasContent ? "a" : "w" });
    this.csv = format({ headers: [...columns], writeHeaders: !hasContent, includeEndRowDelimiter: true });
    this.done = new Promise((resolve3, reject) => {
      file.on("finish", resolve3);
      file.on("error", reject);
      this.csv.on("error", reject);
    });
    this.csv.pipe(file);
  }
  /** Resolves once the row has been handed to the file. */
  write(row) {
    return new Promise((resolve3, reject) => this.csv.write(row, (e) => e ? reject(e) : resolve3()));
  }
  close() {
    this.csv.end();
    return this.done;
  }
};
function metricsSink(log2) {
  return concatMap2(async (s) => {
    if (s.metrics) await log2.write(metricsRecord(s.metrics));
    return s;
  });
}

// src/stages/normalize.ts
import { concatMap as concatMap3 } from "rxjs";
function normalize(backend, data, norm, X) {
  const labels = new Uint8Array(X.rows);
  return concatMap3(async (plan) => {
    await backend.gatherNormalized(data.pixels, plan.rows, plan.rows.length, norm.mean, norm.invStd, X);
    for (let i = 0; i < plan.rows.length; i++) labels[i] = data.labels[plan.rows[i]];
    return { ...plan, X, labels };
  });
}

// src/stages/shuffle.ts
import { map } from "rxjs";
function shuffle(seed, records, batchSize) {
  const stepsPerEpoch = Math.floor(records / batchSize);
  const order = new Int32Array(records);
  let epochInOrder = -1;
  return map((step) => {
    const epoch = Math.floor(step / stepsPerEpoch);
    if (epoch !== epochInOrder) {
      for (let i = 0; i < records; i++) order[i] = i;
      new Rng(deriveSeed(seed, `shuffle:${epoch}`)).shuffle(order);
      epochInOrder = epoch;
    }
    const start = step % stepsPerEpoch * batchSize;
    return { step, epoch, rows: order.subarray(start, start + batchSize) };
  });
}

// src/stages/train-step.ts
import { concatMap as concatMap4 } from "rxjs";

// src/model/schedule.ts
function cyclicalEta({ etaMin, etaMax, ns }, step) {
  const t = step % (2 * ns);
  const rising = t <= ns;
  const frac = rising ? t / ns : (2 * ns - t) / ns;
  return etaMin + frac * (etaMax - etaMin);
}

// src/stages/train-step.ts
var DivergedError = class extends Error {
  constructor(step, value) {
    super(`training diverged at step ${step}: batch loss is ${value}`);
    this.step = step;
    this.value = value;
  }
  step;
  value;
  name = "DivergedError";
};
function trainStep(net, schedule, lambda, stepsPerEpoch) {
  return concatMap4(async (batch) => {
    const eta = cyclicalEta(schedule, batch.step);
    const { lossSum } = await net.trainStep(batch.X, batch.labels, eta, lambda);
    const batchLoss = lossSum / batch.X.rows;
    if (!Number.isFinite(batchLoss)) throw new DivergedError(batch.step + 1, batchLoss);
    return { step: batch.step + 1, epoch: (batch.step + 1) / stepsPerEpoch, eta, batchLoss };
  });
}

// src/pipeline/plan.ts
function planRun(config, trainRecords) {
  const { batchSize } = config.train;
  if (batchSize > trainRecords) {
    throw new UsageError(`config: train.batchSize: ${batchSize} is larger than the training split (${trainRecords} records)`);
  }
  const { ns, cycles, epochs } = config.schedule;
  const stepsPerEpoch = Math.floor(trainRecords / batchSize);
  const totalSteps = epochs !== void 0 ? Math.round(epochs * stepsPerEpoch) : Math.round((cycles ?? 1) * 2 * ns);
  if (totalSteps < 1) throw new UsageError("config: schedule: the run has no update step (cycles or epochs too small)");
  const evalEvery = config.eval.every ?? Math.max(1, Math.round(2 * ns / config.eval.pointsPerCycle));
  return { stepsPerEpoch, totalSteps, evalEvery };
}

// src/pipeline/train.ts
async function runTraining(opts) {
  const { config, splits, backend, outDir, signal } = opts;
  const started = Date.now();
  const plan = planRun(config, splits.train.count);
  mkdirSync(outDir, { recursive: true });
  writeFileAtomic(join5(outDir, "config.yaml"), toYaml(config));
  const norm = opts.normalization ?? computeNormalization(splits.train);
  const net = new Network(backend, { d: PIXELS, m: config.model.hidden, k: CLASSES });
  net.initialise(new Rng(deriveSeed(config.seed, "init")));
  const firstStep = opts.resume?.step ?? 0;
  if (opts.resume) net.restore(opts.resume.params);
  const lambda = config.train.lambda;
  const evaluator = new Evaluator(net, norm);
  const X = backend.matrix(config.train.batchSize, PIXELS);
  const log2 = new CsvLog(join5(outDir, "metrics.csv"), METRICS_COLUMNS, firstStep > 0);
  const stepClock = Date.now();
  const elapsedSeconds = () => (Date.now() - started) / 1e3;
  const checkpointEvery = config.checkpoint.every;
  let status = "completed";
  let stepsDone = firstStep;
  let lastMetrics = null;
  let divergedAtStep;
  let error;
  const stop$ = signal ? fromEvent(signal, "abort") : EMPTY;
  const oneStep = pipe(
    shuffle(config.seed, splits.train.count, config.train.batchSize),
    normalize(backend, splits.train, norm, X),
    trainStep(net, config.schedule, lambda, plan.stepsPerEpoch),
    evaluate({
      evaluator,
      train: splits.train,
      val: splits.val,
      lambda,
      trainLimit: config.eval.trainSubset,
      isEvaluationPoint: (s) => s % plan.evalEvery === 0 || s === plan.totalSteps,
      elapsedSeconds
    }),
    metricsSink(log2)
  );
  const steps$ = range(firstStep, plan.totalSteps - firstStep).pipe(
    takeUntil(stop$),
    concatMap5((step) => of(step).pipe(oneStep)),
    tap((s) => {
      stepsDone = s.step;
      if (s.metrics) lastMetrics = s.metrics;
      opts.onStep?.(s, plan);
    }),
    concatMap5(async (s) => {
      if (opts.onCheckpoint && checkpointEvery > 0 && s.step % checkpointEvery === 0 && s.step < plan.totalSteps) {
        await opts.onCheckpoint(net, s.step, norm);
      }
      return s;
    }),
    defaultIfEmpty(null)
  );
  try {
    await lastValueFrom(steps$);
    if (signal?.aborted) status = "interrupted";
  } catch (e) {
    if (e instanceof DivergedError) {
      status = "diverged";
      divergedAtStep = e.step;
      error = e.message;
    } else {
      status = "failed";
      error = e.message;
    }
  } finally {
    await log2.close();
  }
  const trainSeconds = (Date.now() - stepClock) / 1e3 - evaluator.seconds;
  let final = null;
  if (status === "completed") {
    final = {
      train: await evaluator.evaluate(splits.train, lambda),
      val: await evaluator.evaluate(splits.val, lambda),
      test: await evaluator.evaluate(splits.test, lambda)
    };
  }
  if (opts.onCheckpoint && status !== "failed" && status !== "diverged") await opts.onCheckpoint(net, stepsDone, norm);
  const trained = stepsDone - firstStep;
  const summary = {
    status,
    name: config.name,
    backend: backend.name,
    threads: backend.threads + 1,
    seed: config.seed,
    steps: stepsDone,
    totalSteps: plan.totalSteps,
    epochs: stepsDone / plan.stepsPerEpoch,
    seconds: (Date.now() - started) / 1e3,
    samplesPerSecond: trainSeconds > 0 ? trained * config.train.batchSize / trainSeconds : 0,
    ...divergedAtStep !== void 0 ? { divergedAtStep } : {},
    ...error !== void 0 ? { error } : {},
    startedAt: new Date(started).toISOString(),
    finishedAt: (/* @__PURE__ */ new Date()).toISOString(),
    config,
    final,
    lastMetrics
  };
  writeJsonAtomic(join5(outDir, "summary.json"), summary);
  return { summary, network: net, normalization: norm };
}

// src/cli/out-dir.ts
import { existsSync as existsSync2, mkdirSync as mkdirSync2, readdirSync, statSync as statSync5 } from "node:fs";
import { join as join6 } from "node:path";
var isNonEmptyDir = (p) => existsSync2(p) && statSync5(p).isDirectory() && readdirSync(p).length > 0;
function timestamp(d = /* @__PURE__ */ new Date()) {
  return d.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}
function prepareOutDir(name, out, opts = {}) {
  let dir;
  if (out) {
    if (existsSync2(out) && !statSync5(out).isDirectory()) throw new UsageError(`--out ${out}: exists and is not a directory`);
    if (isNonEmptyDir(out) && !opts.force && !opts.resume) {
      throw new UsageError(`--out ${out}: folder is not empty; pass --force to overwrite it, --resume to continue the run in it, or choose another --out`);
    }
    dir = out;
  } else {
    const safe = name.replace(/[^A-Za-z0-9_.-]+/g, "-");
    dir = join6("runs", safe);
    if (isNonEmptyDir(dir)) dir = join6("runs", `${safe}-${timestamp()}`);
    for (let i = 2; isNonEmptyDir(dir); i++) dir = join6("runs", `${safe}-${timestamp()}-${i}`);
  }
  mkdirSync2(dir, { recursive: true });
  return dir;
}

// src/cli/progress.ts
import cliProgress2 from "cli-progress";
var pct = (v) => v === void 0 || !Number.isFinite(v) ? "  -  " : `${(100 * v).toFixed(2)}%`;
function trainingProgress(label, stream = process.stderr) {
  let valAcc;
  if (stream.isTTY) {
    const bar = new cliProgress2.SingleBar(
      { stream, format: `${label} [{bar}] {value}/{total} steps | epoch {epoch} | eta {lr} | val acc {valAcc} | {duration_formatted} (ETA {eta_formatted})`, hideCursor: true, etaBuffer: 200, fps: 5 },
      cliProgress2.Presets.shades_classic
    );
    let started = false;
    return {
      update(s, plan) {
        if (s.metrics) valAcc = s.metrics.val.accuracy;
        const payload = { epoch: s.epoch.toFixed(2), lr: s.eta.toExponential(2), valAcc: pct(valAcc) };
        if (!started) {
          bar.start(plan.totalSteps, s.step, payload);
          started = true;
        }
        bar.update(s.step, payload);
      },
      stop: () => {
        if (started) bar.stop();
      }
    };
  }
  const t0 = Date.now();
  return {
    update(s, plan) {
      if (!s.metrics) return;
      const m = s.metrics;
      stream.write(`${label} step ${s.step}/${plan.totalSteps} epoch ${s.epoch.toFixed(2)} eta ${s.eta.toExponential(2)} train loss ${m.train.loss.toFixed(4)} acc ${pct(m.train.accuracy)} | val loss ${m.val.loss.toFixed(4)} acc ${pct(m.val.accuracy)} | ${((Date.now() - t0) / 1e3).toFixed(1)}s
`);
    },
    stop() {
    }
  };
}

// src/cli/artifacts.ts
async function renderRunArtifacts(outDir, log2) {
  try {
    const { renderRunPlots: renderRunPlots2 } = await Promise.resolve().then(() => (init_plots(), plots_exports));
    await renderRunPlots2(outDir);
    const { writeReportPage: writeReportPage2 } = await Promise.resolve().then(() => (init_page(), page_exports));
    await writeReportPage2(outDir);
  } catch (e) {
    log2(`cifar-mlp: warning: could not render plots for ${outDir}: ${e.message}`);
  }
}

// src/cli/commands/train.ts
var log = (line) => process.stderr.write(`${line}
`);
function loadSplitsOrExplain(config, dir) {
  try {
    return loadSplits(config.data, dir);
  } catch (e) {
    if (e instanceof DataError) throw new UsageError(e.message);
    throw e;
  }
}
var exitCodeOf = (s) => ({ completed: 0, interrupted: 130, diverged: 3, failed: 1 })[s];
var pct3 = (v) => `${(100 * v).toFixed(2)}%`;
async function trainCommand(config, opts) {
  const dataDir = await acquireDataDir({ cliDir: opts.data, configPath: opts.configPath, data: config.data, signal: opts.signal, log });
  const splits = loadSplitsOrExplain(config, dataDir);
  const outDir = prepareOutDir(config.name, opts.out, opts);
  const { backend, skipped } = await selectBackend(config.kernels.backend, config.kernels.threads);
  log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); backend ${backend.name} (${backend.threads + 1} thread${backend.threads ? "s" : ""})` + (skipped.length ? `; not loaded: ${skipped.map((s) => s.name).join(", ")}` : "") + `; out ${outDir}`);
  const progress = trainingProgress(config.name);
  let summary;
  try {
    ({ summary } = await runTraining({ config, splits, backend, outDir, signal: opts.signal, onStep: (s, plan) => progress.update(s, plan) }));
  } finally {
    progress.stop();
    await backend.dispose();
  }
  await renderRunArtifacts(outDir, log);
  const f = summary.final;
  log(`cifar-mlp: ${summary.status} after ${summary.steps} steps in ${summary.seconds.toFixed(1)}s (${Math.round(summary.samplesPerSecond)} samples/s on ${summary.backend})` + (f ? `; accuracy train ${pct3(f.train.accuracy)}, val ${pct3(f.val.accuracy)}, test ${pct3(f.test.accuracy)}` : summary.error ? `; ${summary.error}` : "") + `; results in ${outDir}`);
  return exitCodeOf(summary.status);
}

// src/cli/main.ts
import { existsSync as existsSync4 } from "node:fs";
var collect = (v, prev) => [...prev, v];
function interruptSignal() {
  const controller = new AbortController();
  let count = 0;
  const onSignal = (sig) => {
    count++;
    if (count === 1) {
      process.stderr.write(`
cifar-mlp: ${sig} received: stopping after the current step and saving results (again to quit at once)
`);
      controller.abort();
    } else process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return controller.signal;
}
async function main(argv) {
  let exitCode = 0;
  const program = new Command("cifar-mlp").description("Train a two-layer network on CIFAR-10 from scratch: gradient check, sanity check, cyclical learning rates, lambda search, final training.").version("0.1.0").exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.command("run").description("Run the experiment a config file describes (kind: train, gradcheck or search).").argument("<config>", "YAML config file, e.g. config/cycle1.yaml").option("--data <dir>", "CIFAR-10 folder (else config data.dir, $CIFAR10_DIR, ./data/cifar-10-batches-bin, else download)").option("--out <dir>", "output folder (default runs/<name>, or runs/<name>-<time> when taken)").option("--set <key=value>", "override a config field, e.g. --set train.lambda=0.001 (repeatable)", collect, []).option("--force", "overwrite a non-empty --out folder").option("--resume", "continue an interrupted run or search in --out").addOption(new Option("--backend <name>", "kernel backend (same as --set kernels.backend=\u2026)").choices(["auto", "wasm-simd", "webasm", "cpu", "headlessgl", "webgpu", "reference"])).action(async (configPath, o) => {
    const sets = [...o.set, ...o.backend ? [`kernels.backend=${o.backend}`] : []];
    const config = loadConfig(configPath, sets);
    const opts = { data: o.data, out: o.out, force: o.force, resume: o.resume, configPath, signal: interruptSignal() };
    switch (config.kind) {
      case "train":
        exitCode = await trainCommand(config, opts);
        break;
    }
  });
  program.command("plot").description("Re-render the plots and report.html of a run folder from its metrics.csv (also for an interrupted run).").argument("<out-dir>", "a run folder holding metrics.csv").action(async (dir) => {
    if (!existsSync4(`${dir}/metrics.csv`)) throw new UsageError(`${dir}: no metrics.csv in this folder`);
    let failed = false;
    await renderRunArtifacts(dir, (l) => {
      failed = true;
      process.stderr.write(`${l}
`);
    });
    if (failed) exitCode = 1;
    else process.stderr.write(`cifar-mlp: plots and report.html written to ${dir}
`);
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message.split("\n").map((l) => `cifar-mlp: ${l}`).join("\n")}
`);
      return e.exitCode;
    }
    process.stderr.write(`cifar-mlp: error: ${e.message}
`);
    if (process.env.CIFAR_MLP_DEBUG) process.stderr.write(`${e.stack}
`);
    return 1;
  }
  return exitCode;
}
main(process.argv).then((code) => {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 200).unref();
});
