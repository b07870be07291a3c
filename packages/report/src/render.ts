import { CHUNK_STATES, STAGES, type DayFigures, type ReportData, type StageFigures } from './data.js';
import { stackedBars, timeChart, type Series } from './svg.js';
import { esc, escRecord, formatDuration, formatNumber, formatTime } from './text.js';
import { STYLE } from './style.js';

const STATE_COLORS: Record<string, string> = { done: '#16a34a', stale: '#d97706', failed: '#dc2626', running: '#2563eb', pending: '#94a3b8', waiting: '#a78bfa' };
const SERIES = { source: '#2563eb', loaded: '#16a34a', verified: '#d97706' };
/** Beyond this many days a chart draws months: a slot per day would be thinner than a pixel. */
const DAILY_SPAN = 400;

/**
 * The report as one HTML file: inline style, inline SVG, no script and a content security policy
 * that forbids every request, so it opens the same offline, attached to an email or years later.
 * A pure function of `data`. Every figure a reader (or a test) checks carries `data-figure`.
 */
/** Chunks loaded again after their events changed: what was new, and the changed events kept out or sent again. */
function againPart(a: ReportData['load']['again']): string {
  if (!a) return '';
  const facts = `<dl class="facts">
<div><dt>chunks loaded again</dt><dd>${fig('load.again.chunks', a.chunks)}</dd></div>
<div><dt>already loaded</dt><dd>${fig('load.again.alreadyLoaded', a.alreadyLoaded)}</dd></div>
<div><dt>new</dt><dd>${fig('load.again.new', a.new)}</dd></div>
<div><dt>changed</dt><dd>${fig('load.again.changed', a.changed)}</dd></div>
<div><dt>changed, kept out</dt><dd>${fig('load.again.keptOut', a.keptOut)}</dd></div>
</dl>`;
  const rows = a.changedEvents.map((e) => `<tr><td><code>${esc(e.chunk)}</code></td><td><code>${esc(e.uuid)}</code></td><td>${escRecord(e.event)}</td><td>${escRecord(e.distinct_id)}</td><td>${esc(e.timestamp)}</td><td>${e.resent ? 'sent again' : 'kept out'}</td><td>${e.keyChanged ? 'name, distinct_id or day changed: both versions stay in PostHog once sent' : 'PostHog keeps the newer version once sent'}</td></tr>`).join('');
  const table = a.changedEvents.length === 0 ? '' : `<table><thead><tr><th>chunk</th><th>uuid</th><th>event</th><th>distinct_id</th><th>timestamp</th><th>load</th><th>re-sending</th></tr></thead><tbody>${rows}</tbody></table>${a.changed > a.changedEvents.length ? `<p class="muted">The first ${formatNumber(a.changedEvents.length)} of ${formatNumber(a.changed)}: hogport inspect &lt;definition&gt; &lt;chunk&gt; --changed lists a chunk's.</p>` : ''}`;
  const lead = `<p>Chunks whose events changed after they were loaded (re-extracted in another order, late events) were compared with what they had loaded, by uuid and content: only new events were sent.${a.keptOut > 0 ? ' Events whose content changed were kept out: hogport load &lt;definition&gt; --resend-changed sends them.' : ''}</p>`;
  return `<h3>Loaded again</h3>${lead}${facts}${table}`;
}

export function renderReport(data: ReportData): string {
  const title = `hogport report: ${data.migration}`;
  const body = [
    header(data),
    summary(data),
    chunksSection(data),
    stagesSection(data),
    daysSection(data),
    namesSection(data),
    rejectsSection(data),
    identitiesSection(data),
    samplesSection(data),
    loadSection(data),
    verifySection(data),
    profileSection(data),
    notesSection(data),
    `<footer>Written by hogport ${esc(data.hogportVersion)} from the store alone. This file loads nothing from the network.</footer>`,
  ].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/** A number shown with the name a test finds it by. */
function fig(name: string, value: number, tag = 'span'): string {
  return `<${tag}${tag === 'td' ? ' class="num"' : ''} data-figure="${esc(name)}">${formatNumber(value)}</${tag}>`;
}

function section(id: string, heading: string, content: string, lead?: string): string {
  return `<section id="${id}"><h2>${esc(heading)}</h2>${lead ? `<p class="lead">${lead}</p>` : ''}${content}</section>`;
}

function header(d: ReportData): string {
  const dest = d.destination.type === 'dry-run' ? 'dry run: the outbox in the store, nothing sent' : `PostHog at ${esc(d.destination.host)}`;
  // A sample's lane done is a test migration: the page says so before any figure is read.
  const shown = d.sample ? `<div><dt>load shown</dt><dd data-figure="sample">sample ${esc(d.sample)}: a test migration of whole persons, not the full load</dd></div>` : '';
  return `<header><div class="brand">hogport report</div><h1>${esc(d.migration)}</h1>
<dl class="meta"><div><dt>taken</dt><dd data-figure="generatedAt">${esc(formatTime(d.generatedAt))}</dd></div><div><dt>store</dt><dd>${esc(d.store)}</dd></div><div><dt>destination</dt><dd>${dest}</dd></div>${shown}</dl></header>`;
}

function summary(d: ReportData): string {
  const t = d.stages.transform;
  const l = d.stages.load;
  const verified = d.verify ? (d.verify.ok ? 'ok' : 'mismatch') : 'not run';
  const card = (label: string, value: string, note = '', cls = '') => `<div class="card ${cls}"><div class="label">${esc(label)}</div><div class="value">${value}</div>${note ? `<div class="note">${note}</div>` : ''}</div>`;
  const rate = d.load.eventsPerSecond !== undefined ? `${fig('summary.eventsPerSecond', Math.round(d.load.eventsPerSecond))}` : '–';
  return `<section class="summary" aria-label="summary">
${card('chunks', fig('summary.chunks', d.chunks.total), `${formatNumber(d.chunks.byStage.load.done)} loaded`)}
${card('source records', fig('summary.records', t.in), `${formatNumber(t.chunks)} chunks transformed`)}
${card('events made', fig('summary.events', t.events))}
${card(d.destination.type === 'dry-run' ? 'events in the outbox' : 'events loaded', fig('summary.loaded', l.out), '', 'good')}
${card('rejected', fig('summary.rejected', t.rejected + l.rejected), 'transform + load', t.rejected + l.rejected > 0 ? 'warn' : '')}
${card('dropped', fig('summary.dropped', t.dropped + l.dropped), 'by rules you set')}
${card('load rate', rate, 'events/s over the load')}
${card('verify', `<span data-figure="summary.verify">${verified}</span>`, d.verify ? `taken ${esc(formatTime(d.verify.takenAt))}` : 'run hogport verify', d.verify && !d.verify.ok ? 'bad' : '')}
</section>`;
}

function chunksSection(d: ReportData): string {
  const bars = stackedBars(STAGES.map((s) => ({ label: s, values: CHUNK_STATES.map((c) => d.chunks.byStage[s][c]) })), CHUNK_STATES.map((c) => ({ name: c, color: STATE_COLORS[c]! })), 'Chunks per stage, by state');
  const head = `<tr><th>stage</th>${CHUNK_STATES.map((c) => `<th class="num">${c}</th>`).join('')}</tr>`;
  const rows = STAGES.map((s) => `<tr><th scope="row">${s}</th>${CHUNK_STATES.map((c) => fig(`chunks.${s}.${c}`, d.chunks.byStage[s][c], 'td')).join('')}</tr>`).join('');
  const attention = d.chunks.attention.length === 0 ? '' : `<h3>Needing attention</h3><table><thead><tr><th>stage</th><th>chunk</th><th>state</th><th>what the store says</th></tr></thead><tbody>${d.chunks.attention.map((a) => `<tr><td>${a.stage}</td><td><code>${esc(a.chunk)}</code></td><td><span class="pill ${a.state}">${a.state}</span></td><td>${escRecord(a.detail)}</td></tr>`).join('')}</tbody></table>${d.chunks.attentionTotal > d.chunks.attention.length ? `<p class="muted">and ${formatNumber(d.chunks.attentionTotal - d.chunks.attention.length)} more: hogport status lists every one.</p>` : ''}`;
  return section('chunks', 'Chunks', `${bars}<table><thead>${head}</thead><tbody>${rows}</tbody></table>${attention}`,
    `${fig('chunks.total', d.chunks.total)} chunks. A chunk is done in a stage when its manifest is committed and up to date; stale when its upstream or configuration changed since.`);
}

function stagesSection(d: ReportData): string {
  const head = '<tr><th>stage</th><th class="num">chunks</th><th>counts</th><th class="num">in</th><th class="num">out</th><th class="num">rejected</th><th class="num">dropped</th><th class="num">events written</th></tr>';
  const rows = STAGES.map((s) => {
    const f = d.stages[s];
    return `<tr><th scope="row">${s}</th>${fig(`stage.${s}.chunks`, f.chunks, 'td')}<td>${f.unit}</td>${(['in', 'out', 'rejected', 'dropped', 'events'] as const).map((k) => fig(`stage.${s}.${k}`, f[k], 'td')).join('')}</tr>`;
  }).join('');
  const reasons = STAGES.map((s) => reasonTable(s, d.stages[s])).filter(Boolean).join('');
  return section('stages', 'Records and events per stage', `<table><thead>${head}</thead><tbody>${rows}</tbody></table>${reasons || '<p class="muted">Nothing was rejected or dropped.</p>'}`,
    'Over the done chunks of each stage. In every manifest, in = out + rejected + dropped: nothing leaves a stage without a count saying where it went.');
}

function reasonTable(stage: string, f: StageFigures): string {
  const rows = [
    ...ranked(f.rejectedBy).map(([code, n]) => ({ kind: 'rejected', key: code, n, figure: `rejectedBy.${stage}.${code}` })),
    ...ranked(f.droppedBy).map(([rule, n]) => ({ kind: 'dropped', key: rule, n, figure: `droppedBy.${stage}.${rule}` })),
  ];
  if (rows.length === 0) return '';
  const max = Math.max(...rows.map((r) => r.n));
  return `<h3>${esc(stage)}: why records did not go on</h3><table class="reasons"><thead><tr><th>outcome</th><th>code or rule</th><th class="num">${f.unit}</th><th class="bar-cell"></th></tr></thead><tbody>${rows.map((r) => `<tr><td><span class="pill ${r.kind}">${r.kind}</span></td><td><code>${escRecord(r.key)}</code></td>${fig(r.figure, r.n, 'td')}<td class="bar-cell">${meter(r.n, max, r.kind === 'rejected' ? '#dc2626' : '#94a3b8')}</td></tr>`).join('')}</tbody></table>`;
}

function meter(n: number, max: number, color: string): string {
  const pct = max > 0 ? Math.max(1, Math.round((n / max) * 100)) : 0;
  return `<div class="meter"><div style="width:${pct}%;background:${color}"></div></div>`;
}

function daysSection(d: ReportData): string {
  const missing = d.withoutFigures.length > 0
    ? `<p class="warn-text">${fig('days.withoutFigures', d.withoutFigures.length)} chunk(s) were transformed by an older hogport, whose manifests do not count events per day or per name (like ${d.withoutFigures.slice(0, 3).map((c) => `<code>${esc(c)}</code>`).join(', ')}): they are missing from the figures below. hogport transform --force on them adds the figures.</p>`
    : '';
  if (d.days.length === 0) return section('days', 'Events per day', `${missing}<p class="muted">No events with per-day figures yet.</p>`);
  const verified = d.days.some((x) => x.verified !== undefined);
  const line = timeline(d.days);
  const series: Series[] = [
    { name: 'source (transform output)', color: SERIES.source, values: line.map((x) => x.source) },
    { name: d.destination.type === 'dry-run' ? 'loaded (to the outbox)' : 'loaded', color: SERIES.loaded, values: line.map((x) => x.loaded) },
    ...(verified ? [{ name: 'verified in PostHog', color: SERIES.verified, values: line.map((x) => x.verified ?? 0), dashed: true }] : []),
  ];
  const monthly = line.length > 0 && line[0]!.day.length === 7;
  const chart = timeChart(line.map((x) => x.day), series, monthly ? 'Events per month (UTC), from the per-day figures' : 'Events per day (UTC)');
  const rows = d.days.map((x) => `<tr><td>${x.day}</td>${fig(`day.source.${x.day}`, x.source, 'td')}${fig(`day.loaded.${x.day}`, x.loaded, 'td')}${verified ? fig(`day.verified.${x.day}`, x.verified ?? 0, 'td') : ''}</tr>`).join('');
  const table = `<details><summary>Every day (${formatNumber(d.days.length)})</summary><table><thead><tr><th>day (UTC)</th><th class="num">source</th><th class="num">loaded</th>${verified ? '<th class="num">verified</th>' : ''}</tr></thead><tbody>${rows}</tbody></table></details>`;
  const lead = `By the UTC day of each event's timestamp. Loaded counts the events of chunks whose load is done${d.stages.load.rejected > 0 ? ` (${formatNumber(d.stages.load.rejected)} of them were refused while loading: see the rejects)` : ''}.${verified ? ' Verified counts the events of chunks the last hogport verify found complete in PostHog.' : ' Run hogport verify to add what PostHog holds.'}`;
  return section('days', 'Events per day', `${missing}${chart}${table}`, lead);
}

/** The days in order with the gaps filled; months when the span is too long to draw by day. */
function timeline(days: readonly DayFigures[]): DayFigures[] {
  const sorted = [...days].sort((a, b) => (a.day < b.day ? -1 : 1));
  const first = Date.parse(`${sorted[0]!.day}T00:00:00Z`);
  const last = Date.parse(`${sorted.at(-1)!.day}T00:00:00Z`);
  const span = Number.isFinite(first) && Number.isFinite(last) ? (last - first) / 86_400_000 : Infinity;
  const byKey = new Map<string, DayFigures>();
  const key = (day: string) => (span > DAILY_SPAN ? day.slice(0, 7) : day);
  for (const d of sorted) {
    const k = key(d.day);
    const cur = byKey.get(k) ?? { day: k, source: 0, loaded: 0 };
    cur.source += d.source;
    cur.loaded += d.loaded;
    if (d.verified !== undefined) cur.verified = (cur.verified ?? 0) + d.verified;
    byKey.set(k, cur);
  }
  if (!Number.isFinite(span) || span > 100 * 366) return [...byKey.values()];
  const out: DayFigures[] = [];
  for (let t = first; t <= last; t += 86_400_000) {
    const k = key(new Date(t).toISOString().slice(0, 10));
    if (out.at(-1)?.day === k) continue;
    out.push(byKey.get(k) ?? { day: k, source: 0, loaded: 0 });
  }
  return out;
}

function namesSection(d: ReportData): string {
  if (d.names.length === 0) return section('names', 'Event names', '<p class="muted">No events with per-name figures yet.</p>');
  const max = Math.max(...d.names.map((n) => n.source));
  const rows = d.names.map((n) => `<tr><td><code>${escRecord(n.name)}</code></td>${fig(`name.source.${n.name}`, n.source, 'td')}${fig(`name.loaded.${n.name}`, n.loaded, 'td')}<td class="bar-cell">${meter(n.source, max, SERIES.source)}</td></tr>`).join('');
  const other = d.otherNames.source > 0 ? `<tr class="other"><td>${d.distinctNames > d.names.length ? `${formatNumber(d.distinctNames - d.names.length)} other names, and ` : ''}names past a chunk's first 1,000</td>${fig('name.source.(other)', d.otherNames.source, 'td')}${fig('name.loaded.(other)', d.otherNames.loaded, 'td')}<td></td></tr>` : '';
  return section('names', 'Event names', `<table class="names"><thead><tr><th>event</th><th class="num">source</th><th class="num">loaded</th><th class="bar-cell"></th></tr></thead><tbody>${rows}${other}</tbody></table>`,
    `${fig('names.distinct', d.distinctNames)} names, most events first.`);
}

function rejectsSection(d: ReportData): string {
  if (d.rejects.groups.length === 0) return section('rejects', 'Rejects', '<p class="muted">No record was rejected.</p>');
  const groups = d.rejects.groups.map((g) => {
    const examples = g.examples.length === 0 ? '<p class="muted">No example read (the bound on reading was reached first).</p>'
      : `<ol class="examples" data-figure="reject.examples.${esc(g.stage)}.${esc(g.code)}" data-count="${g.examples.length}">${g.examples.map((e) => `<li><div class="why">${escRecord(e.reason)} <span class="muted">in <code>${esc(e.chunk)}</code></span></div><pre>${escRecord(e.record)}</pre></li>`).join('')}</ol>`;
    return `<article class="reject"><h3><span class="pill rejected">${g.stage}</span> <code>${escRecord(g.code)}</code> <span class="count">${fig(`reject.count.${g.stage}.${g.code}`, g.count)}</span></h3>${examples}</article>`;
  }).join('');
  const bound = d.rejects.complete ? '' : '<p class="muted">Reading examples stopped at its bound: some codes show fewer. hogport inspect shows every reject of a chunk.</p>';
  return section('rejects', 'Rejects', groups + bound, 'The first few rejects of each code, as stored in the rejects objects (secrets scrubbed). hogport inspect &lt;definition&gt; &lt;chunk&gt; --reject &lt;code&gt; shows them all.');
}

function identitiesSection(d: ReportData): string {
  const i = d.identities;
  if (i.chunks.length === 0 && !i.persons) return section('identities', 'Identities and persons', '<p class="muted">No identities or persons: this source has none, or the merge step has not run yet.</p>');
  const rows = i.chunks.map((c) => `<tr><td><code>${esc(c.chunk)}</code></td>${fig(`identities.${c.chunk}`, c.pairs, 'td')}<td>${c.loaded ? '<span class="pill done">loaded</span>' : '<span class="pill pending">not loaded</span>'}</td></tr>`).join('');
  const persons = i.persons ? `<tr><td><code>${esc(i.persons.chunk)}</code></td>${fig('persons.count', i.persons.persons, 'td')}<td>${i.persons.loaded ? '<span class="pill done">loaded</span>' : '<span class="pill pending">not loaded</span>'}</td></tr>` : '';
  return section('identities', 'Identities and persons', `<table><thead><tr><th>derived chunk</th><th class="num">pairs or persons</th><th>load</th></tr></thead><tbody>${rows}${persons}</tbody></table>`,
    `${fig('identities.pairs', i.pairs)} identity pairs ($identify or $create_alias), loaded before the events; ${i.persons ? fig('persons.total', i.persons.persons) : '0'} persons ($set of their latest properties), loaded after them.`);
}

function samplesSection(d: ReportData): string {
  if (d.samples.length === 0) return section('samples', 'Sample runs', '<p class="muted">No sampled test migration has run: hogport run &lt;definition&gt; --sample &lt;percent&gt; loads whole persons, in a lane of its own.</p>');
  const pair = (name: string, p: { total: number; sampled: number } | undefined) => (p ? `${fig(`${name}.sampled`, p.sampled, 'span')} of ${fig(`${name}.total`, p.total, 'span')}` : '–');
  const rows = d.samples.map((v) => {
    const f = `sample.${v.sample}`;
    const s = v.scope;
    return `<tr${v.sample === d.sample ? ' class="shown"' : ''}><td><code>${esc(v.sample)}</code></td><td>${s ? `${formatNumber(s.percent)}%` : '–'}</td>`
      + `<td class="num">${pair(`${f}.clusters`, s?.clusters)}</td><td class="num">${pair(`${f}.linkedIds`, s?.linkedIds)}</td><td class="num">${pair(`${f}.persons`, s?.persons)}</td>`
      + `${fig(`${f}.loaded`, v.loaded, 'td')}${fig(`${f}.out`, v.counts.out, 'td')}${fig(`${f}.notSampled`, v.counts.notSampled, 'td')}${fig(`${f}.rejected`, v.counts.rejected, 'td')}`
      + `<td>${s ? `${esc(formatTime(s.at))}<br><span class="muted">${esc(s.rule)}</span>` : '<span class="muted">not drawn: its load has not started</span>'}</td></tr>`;
  }).join('');
  const head = '<tr><th>sample</th><th>of persons</th><th class="num">linked persons</th><th class="num">their ids</th><th class="num">persons with properties</th><th class="num">chunks loaded</th><th class="num">events sent</th><th class="num">not in the sample</th><th class="num">rejected</th><th>drawn, by rule</th></tr>';
  return section('samples', 'Sample runs', `<table><thead>${head}</thead><tbody>${rows}</tbody></table>`,
    'Each sample is a test migration of whole persons: a person (a user id with every device id it was seen with) comes with all its events, its $identify and its $set, or not at all. Ids never linked to another are drawn one by one. A sample keeps its own load manifests, so the full load is unaffected.');
}

function loadSection(d: ReportData): string {
  const l = d.load;
  if (l.chunks === 0) return section('load', 'Load', '<p class="muted">No chunk is loaded yet.</p>');
  const wall = l.firstStartedAt && l.lastFinishedAt ? Date.parse(l.lastFinishedAt) - Date.parse(l.firstStartedAt) : 0;
  const facts = `<dl class="facts">
<div><dt>chunks loaded</dt><dd>${fig('load.chunks', l.chunks)}</dd></div>
<div><dt>events</dt><dd>${fig('load.events', l.events)}</dd></div>
<div><dt>refused while loading</dt><dd>${fig('load.rejected', l.rejected)}</dd></div>
<div><dt>batches</dt><dd>${fig('load.batches', l.batches)}</dd></div>
<div><dt>retries</dt><dd>${fig('load.retries', l.retries)}</dd></div>
<div><dt>events/s</dt><dd>${l.eventsPerSecond !== undefined ? fig('load.eventsPerSecond', Math.round(l.eventsPerSecond * 10) / 10) : '–'}</dd></div>
<div><dt>wall time</dt><dd>${formatDuration(wall)}</dd></div>
<div><dt>chunk time</dt><dd>${formatDuration(l.busyMs)}</dd></div>
</dl>`;
  const span = l.firstStartedAt && l.lastFinishedAt ? `<p class="muted">From ${esc(formatTime(l.firstStartedAt))} to ${esc(formatTime(l.lastFinishedAt))}. Chunk time adds up each chunk's own duration, so chunks loaded side by side count each.</p>` : '';
  const rows = l.slowest.map((c) => `<tr><td><code>${esc(c.chunk)}</code></td><td class="num">${formatNumber(c.events)}</td><td class="num">${formatNumber(c.rejected)}</td><td class="num">${formatNumber(c.batches)}</td><td class="num">${formatNumber(c.retries)}</td><td class="num">${formatDuration(c.durationMs)}</td><td class="num">${c.durationMs > 0 ? formatNumber(Math.round((c.events * 1000) / c.durationMs)) : '–'}</td><td>${esc(formatTime(c.startedAt))}</td></tr>`).join('');
  const table = `<h3>Slowest chunks</h3><table><thead><tr><th>chunk</th><th class="num">events</th><th class="num">refused</th><th class="num">batches</th><th class="num">retries</th><th class="num">took</th><th class="num">events/s</th><th>started</th></tr></thead><tbody>${rows}</tbody></table>`;
  return section('load', 'Load', facts + span + table + againPart(l.again), d.destination.type === 'dry-run' ? 'A dry run: the request bodies went to the outbox in the store, and nothing was sent.' : undefined);
}

function verifySection(d: ReportData): string {
  const v = d.verify;
  if (!v) return section('verify', 'Verify', '<p class="muted">hogport verify has not run (or its result is not in the store): it counts, per chunk, what PostHog holds against what was loaded.</p>');
  const t = v.totals;
  const facts = `<dl class="facts">${(['expected', 'found', 'uuids', 'duplicates', 'missing', 'unexpected'] as const).map((k) => `<div><dt>${k}</dt><dd>${fig(`verify.${k}`, t[k])}</dd></div>`).join('')}</dl>`;
  const rows = v.mismatched.map((m) => `<tr><td><code>${esc(m.chunk)}</code></td><td><span class="pill failed">${esc(m.verdict)}</span></td><td class="num">${formatNumber(m.expected)}</td><td class="num">${formatNumber(m.found)}</td></tr>`).join('');
  const table = rows ? `<table><thead><tr><th>chunk</th><th>verdict</th><th class="num">expected</th><th class="num">found</th></tr></thead><tbody>${rows}</tbody></table>` : '';
  return section('verify', 'Verify', facts + table, `Taken <span data-figure="verify.takenAt">${esc(formatTime(v.takenAt))}</span> over ${formatNumber(v.chunks)} chunks: <strong>${v.ok ? 'every chunk matches' : 'some chunks do not match'}</strong>. Chunks loaded since are not in it.`);
}

function profileSection(d: ReportData): string {
  const p = d.profile;
  if (!p) return section('profile', 'Profile', '<p class="muted">hogport profile has not run (or its result is not in the store): it reads the extracted chunks and names problems before anything is loaded.</p>');
  const problems = ranked(Object.fromEntries(Object.entries(p.problems).map(([k, v]) => [k, v.count])));
  const rows = problems.map(([k, n]) => `<tr><td><code>${escRecord(k)}</code></td>${fig(`profile.problem.${k}`, n, 'td')}<td>${p.problems[k]!.examples.slice(0, 3).map((e) => `<code>${escRecord(e)}</code>`).join(' ')}</td></tr>`).join('');
  const table = rows ? `<table><thead><tr><th>problem</th><th class="num">records</th><th>for example</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="muted">The profile found no problem.</p>';
  return section('profile', 'Profile', table, `Taken <span data-figure="profile.takenAt">${esc(formatTime(p.takenAt))}</span> over ${formatNumber(p.chunks.profiled)} of ${formatNumber(p.chunks.of)} extracted chunks: ${formatNumber(p.records)} records, ${formatNumber(p.events)} events.`);
}

function notesSection(d: ReportData): string {
  if (d.notes.length === 0) return '';
  return section('notes', 'Notes', `<ul>${d.notes.map((n) => `<li>${escRecord(n)}</li>`).join('')}</ul>`);
}

/** Most first; ties by name, so the same data always reads the same. */
function ranked(m: Record<string, number>): Array<[string, number]> {
  return Object.entries(m).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}
