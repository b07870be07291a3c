/** The report's one stylesheet: a light page that prints on A4 without its charts cut. */
export const STYLE = `
:root { --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --soft: #f8fafc; --accent: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; background: #f1f5f9; color: var(--ink); font: 14px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 24px 48px; }
header { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px; margin-bottom: 16px; }
.brand { color: var(--accent); font-weight: 600; letter-spacing: .04em; text-transform: uppercase; font-size: 12px; }
h1 { margin: 2px 0 10px; font-size: 26px; }
h2 { margin: 0 0 8px; font-size: 18px; }
h3 { margin: 18px 0 8px; font-size: 15px; }
.meta { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 0; }
.meta dt, .facts dt { color: var(--muted); font-size: 12px; }
.meta dd, .facts dd { margin: 0; }
.summary { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px; margin-bottom: 16px; background: none; border: none; padding: 0; }
.card { min-width: 0; background: #fff; border: 1px solid var(--line); border-left: 4px solid #cbd5e1; border-radius: 8px; padding: 10px 14px; }
.card.good { border-left-color: #16a34a; } .card.warn { border-left-color: #d97706; } .card.bad { border-left-color: #dc2626; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .note { color: var(--muted); font-size: 12px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 18px 24px; margin-bottom: 16px; }
.lead { color: #334155; margin: 0 0 12px; }
.muted { color: var(--muted); }
.warn-text { color: #92400e; background: #fffbeb; border: 1px solid #fde68a; border-radius: 6px; padding: 8px 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { color: var(--muted); font-weight: 600; font-size: 12px; background: var(--soft); }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.other td { color: var(--muted); font-style: italic; }
.bar-cell { width: 28%; }
.meter { background: #f1f5f9; border-radius: 3px; height: 10px; margin-top: 5px; }
.meter div { height: 10px; border-radius: 3px; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 4px 0 10px; white-space: pre-wrap; word-break: break-all; max-height: 12em; overflow: auto; }
.pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; background: #e2e8f0; }
.pill.done { background: #dcfce7; color: #166534; } .pill.failed, .pill.rejected { background: #fee2e2; color: #991b1b; }
.pill.stale { background: #fef3c7; color: #92400e; } .pill.running { background: #dbeafe; color: #1e40af; }
.pill.pending, .pill.dropped { background: #f1f5f9; color: #475569; } .pill.waiting { background: #ede9fe; color: #5b21b6; }
.reject { border-top: 1px solid var(--line); padding-top: 4px; }
.reject h3 .count { color: var(--muted); font-weight: 500; margin-left: 6px; }
.examples { margin: 0; padding-left: 20px; }
.why { margin-top: 4px; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 8px 16px; margin: 0 0 8px; }
.facts dd { font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
figure.chart { margin: 8px 0 12px; }
figure.chart svg { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12px; text-align: center; }
svg .grid { stroke: #e2e8f0; stroke-width: 1; }
svg .axis { stroke: #94a3b8; stroke-width: 1; }
svg .tick { fill: #475569; font-size: 12px; }
svg .axis-label { fill: #64748b; font-size: 12px; }
svg .in-bar { fill: #fff; font-size: 12px; font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; justify-content: center; font-size: 12px; color: #334155; margin-top: 4px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
details summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 24px; }
@media (max-width: 640px) { .summary { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
@media print {
  body { background: #fff; font-size: 11px; }
  main { max-width: none; padding: 0; }
  section, header, .card { border-color: #cbd5e1; break-inside: avoid; }
  section { padding: 10px 0; border: none; border-top: 1px solid #cbd5e1; border-radius: 0; }
  details { display: block; } details > summary { display: none; }
  pre { max-height: none; }
}
`;
