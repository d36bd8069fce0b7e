"""The ``cairn report`` HTML: one self-contained file (inline CSS, inline SVG charts, no script, nothing fetched).

Rendered by Jinja2 with autoescaping on, so every path, name, prompt and term from the case is shown as text;
only the charts (drawn by :mod:`cairn.report.svg`, which escapes its labels) go in as markup. A
Content-Security-Policy forbids the browser any load but inline styles and ``data:`` pictures.
"""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape
from markupsafe import Markup

from cairn.report import svg

_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="referrer" content="no-referrer">
<title>cairn triage report: {{ f.case.name }}</title>
<style>
body { font-family: sans-serif; font-size: 13px; margin: 2em; color: #111; max-width: 1100px; }
h1 { font-size: 22px; } h2 { font-size: 17px; border-bottom: 2px solid #3b6ea5; margin-top: 2em; }
h3 { font-size: 14px; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { border: 1px solid #bbb; padding: 2px 6px;
  text-align: left; vertical-align: top; } th { background: #eef2f7; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: monospace; word-break: break-all; }
.banner { border: 3px solid #a33; background: #fbeaea; padding: 0.6em 1em; font-weight: bold; margin: 0.6em 0; }
.note { border: 1px solid #3b6ea5; background: #eef2f7; padding: 0.5em 1em; margin: 0.6em 0; }
.ok { color: #1a6b1a; font-weight: bold; } .bad { color: #a33; font-weight: bold; }
td.none { color: #666; font-style: italic; }
.pictures { display: flex; flex-wrap: wrap; gap: 8px; }
.picture { width: 270px; border: 1px solid #bbb; padding: 4px; break-inside: avoid; }
.picture img { max-width: 256px; max-height: 256px; display: block; }
svg.chart { display: block; margin: 0.5em 0; }
@media print { body { margin: 0; } h2 { break-after: avoid; } table, svg { break-inside: avoid; } }
</style>
</head>
<body>
<h1>cairn triage report: {{ f.case.name }}</h1>
{% if f.with_thumbnails %}
<p class="banner" id="contains-media">This report CONTAINS PICTURES: the stored thumbnails (at most 256 px) of
{{ thumbnails }} pictures of note, blurred and in greyscale, embedded in the file. Handle it as you handle the
media itself.</p>
{% else %}
<p class="note" id="no-media">This report contains no pictures and no media: only counts, names, paths and hashes.
(<code>--with-thumbnails</code> would embed blurred greyscale thumbnails.)</p>
{% endif %}
{% if f.terms.hits %}
<p class="banner" id="contains-terms">This report prints the investigator's own search terms that hit (section
"Term hits").</p>
{% endif %}
<p id="generated-at"><strong>Generated at:</strong> {% if f.audit.as_of %}{{ f.audit.as_of.at }}: the time of
the case's latest audit entry, #{{ f.audit.as_of.seq }} ({{ f.audit.as_of.action }}, entry hash
<span class="mono">{{ f.audit.as_of.entry_hash }}</span>){% else %}- (the case has no audit entry){% endif %}, not
the clock's, so the same case state always gives a byte-identical report (<code>report.generated</code> entries are
not described). Made by cairn {{ f.tool_version }}; making it is recorded in the case's audit log as
<code>report.generated</code> with this file's SHA-256.</p>
<p>Contents: <a href="#case">Case and evidence</a> · <a href="#counts">Counts</a> · <a href="#types">File types</a>
· <a href="#known">Known and unknown</a> · <a href="#groups">Near duplicates</a> · <a href="#provenance">AI
provenance</a> · <a href="#models">Model files</a> · <a href="#terms">Term hits</a> · <a href="#review">Review</a>
· <a href="#timeline">Timeline</a> · <a href="#pictures">Pictures of note</a></p>

<h2 id="case">Case and evidence</h2>
<table>
<tr><th>case</th><td>{{ f.case.name }}</td></tr>
<tr><th>case id</th><td class="mono">{{ f.case.uid or "-" }}</td></tr>
<tr><th>database</th><td class="mono">{{ f.case.database }}</td></tr>
<tr><th>audit chain (<code>cairn audit verify</code>)</th><td>{% if f.audit.problems %}<span class="bad">NOT
intact: {{ f.audit.problems|length }} problem(s)</span>{% else %}<span class="ok">intact</span>{% endif %}
({{ f.audit.entries }} entries described)</td></tr>
</table>
{% if f.audit.problems %}<ul>{% for p in f.audit.problems %}<li class="bad">{{ p }}</li>{% endfor %}</ul>{% endif %}
<h3>Evidence</h3>
<table>
<tr><th>#</th><th>root</th><th>kind</th><th>registered</th><th>files</th><th>evidence digest</th><th>rows digest</th>
<th>sealed by run</th></tr>
{% for e in f.evidence %}<tr><td class="n">{{ e.id }}</td><td class="mono">{{ e.root }}</td><td>{{ e.kind }}</td>
<td>{{ e.registered_at }}</td><td class="n">{{ "{:,}".format(e.files) }}</td>
<td class="mono">{{ e.sealed.evidence_digest if e.sealed else "- (no completed scan)" }}</td>
<td class="mono">{{ e.sealed.rows_digest if e.sealed else "-" }}</td><td>{{ e.sealed_by_run or "-" }}</td></tr>

{% else %}{{ NONE }}{% endfor %}</table>
<h3>Scan runs</h3>
{% for r in f.runs %}
<table>
<tr><th colspan="2">run #{{ r.id }} of evidence {{ r.evidence_id }}: {{ r.status }}</th></tr>
<tr><td>tool version</td><td>cairn {{ r.tool_version }}</td></tr>
<tr><td>started / ended</td><td>{{ r.started_at }} / {{ r.ended_at or "-" }}</td></tr>
<tr><td>host, user</td><td>{{ r.host or "-" }}, {{ r.os_user or "-" }}</td></tr>
{% for k, v in r.counts %}<tr><td>count {{ k }}</td><td class="n">{{ v }}</td></tr>{% endfor %}
{% for k, v in r.settings %}<tr><td>setting {{ k }}</td><td class="mono">{{ v }}</td></tr>{% endfor %}
</table>
{% else %}<p>No scan run.</p>{% endfor %}
<h3>Audit log actions</h3>
<table><tr><th>action</th><th>entries</th></tr>
{% for a, n in f.audit.actions %}<tr><td>{{ a }}</td><td class="n">{{ n }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>

<h2 id="counts">Counts</h2>
<table>
<tr><th>files</th><td class="n" id="count-files">{{ "{:,}".format(f.counts.files) }}</td></tr>
<tr><th>bytes (sum of sizes)</th><td class="n" id="count-bytes">{{ "{:,}".format(f.counts.bytes) }}</td></tr>
<tr><th>bytes read</th><td class="n">{{ "{:,}".format(f.counts.bytes_read) }}</td></tr>
<tr><th>pictures</th><td class="n" id="count-images">{{ "{:,}".format(f.counts.images) }}</td></tr>
<tr><th>containers</th><td class="n" id="count-containers">{{ "{:,}".format(f.counts.containers) }}</td></tr>
<tr><th>files with an error</th><td class="n" id="count-errors">{{ "{:,}".format(f.counts.errors) }}</td></tr>
</table>
<h3>Files per error code</h3>
{{ charts.errors }}
<table><tr><th>error</th><th>files</th></tr>
{% for c, n in f.errors_by_code %}<tr><td>{{ c }}</td><td class="n">{{ n }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<h3>Files per note code</h3>
<table><tr><th>note</th><th>files</th></tr>
{% for c, n in f.notes_by_code %}<tr><td>{{ c }}</td><td class="n">{{ n }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>

<h2 id="types">File types</h2>
{{ charts.types }}
<table><tr><th>type (from content)</th><th>files</th></tr>
{% for t, n in f.types %}<tr><td>{{ t }}</td><td class="n">{{ n }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>

<h2 id="known">Known and unknown</h2>
{% if f.match_run %}
{% set m = f.match_run %}
<p>From the latest <code>cairn match</code> run, #{{ m.id }} ({{ m.started_at }} to {{ m.ended_at or "-" }}): PDQ
within {{ m.settings.pdq_threshold }}, PDQ quality at least {{ m.settings.min_pdq_quality }},
rotations and mirrors {{ "matched" if m.settings.dihedral else "not matched" }}.</p>
<h3>Hash sets used</h3>
<table><tr><th>name</th><th>source SHA-256</th><th>lists</th><th>format</th><th>scheme</th><th>records</th></tr>
{% for s in m.settings.sets %}{% set d = sets.get(s.name, {}) %}<tr><td>{{ s.name }}</td>
<td class="mono">{{ s.source_sha256 }}</td><td>{{ "known-harmless" if s.known_harmless else "known material" }}</td>
<td>{{ d.get("format") or "-" }}</td><td>{{ d.get("scheme") or "-" }}</td>
<td class="n">{{ "{:,}".format(d.get("record_count")) if d.get("record_count") is not none else "-" }}</td></tr>
{% endfor %}
</table>
{{ charts.status }}
<table><tr><th>status</th><th>files</th></tr>
{% for k, n in f.match_status.items() %}<tr><td>{{ k }}</td><td class="n" id="status-{{ k }}">{{ n }}</td></tr>

{% else %}{{ NONE }}{% endfor %}</table>
<h3>Categories of known files (as the sets give them, with their scheme)</h3>
{{ charts.categories }}
<table><tr><th>scheme</th><th>value</th><th>category</th><th>files</th></tr>
{% for c in f.categories %}<tr><td>{{ c.scheme }}</td><td>{{ c.value }}</td><td>{{ c.label }}</td>
<td class="n">{{ c.files }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
{% else %}
<p id="no-match-run">No <code>cairn match</code> run: nothing is known or unknown yet
({{ f.hash_sets|length }} hash set(s) in the database).</p>
{% endif %}

<h2 id="groups">Near-duplicate groups</h2>
{% if f.group_run %}
<p>Latest <code>cairn groups</code> run #{{ f.group_run.id }} ({{ f.group_run.at }}), PDQ within
{{ f.group_run.settings.pdq_threshold }}: {{ f.groups.groups }} groups of {{ f.groups.files }} files.</p>
<table><tr><th>group size</th><th>groups</th></tr>
{% for k, n in f.groups.sizes %}<tr><td>{{ k }}</td><td class="n">{{ n }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<table><tr><th>group</th><th>files</th><th>first path</th></tr>
{% for g in f.groups.largest %}<tr><td class="n">{{ g.group }}</td><td class="n">{{ g.files }}</td>
<td class="mono">{{ g.first_path }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
{% else %}<p>No <code>cairn groups</code> run.</p>{% endif %}

<h2 id="provenance">AI provenance</h2>
{% set p = f.provenance %}
<p><span id="prov-images">{{ p.images_with_records }}</span> pictures carry {{ p.records }} generation records;
{{ p.declared_ai_images }} are declared AI by XMP/EXIF only; {{ p.pixels_only|length }} have records only in the
pixels (metadata stripped); provenance warnings: {{ p.warnings.findings }} in {{ p.warnings.images }} pictures.</p>
<h3>Generation records by tool</h3>
{{ charts.tools }}
<table><tr><th>tool</th><th>pictures</th><th>records</th></tr>
{% for r in p.by_tool %}<tr><td>{{ r.tool }}</td><td class="n">{{ r.images }}</td><td class="n">{{ r.records }}</td>
</tr>
{% else %}{{ NONE }}{% endfor %}</table>
{% for label, key in (("Models", "models"), ("LoRAs", "loras")) %}
<h3>{{ label }} named, by hash kind and hash</h3>
<table><tr><th>hash kind</th><th>hash</th><th>pictures</th><th>names seen</th></tr>
{% for r in p[key].by_hash %}<tr><td>{{ r.hash_kind }}</td><td class="mono">{{ r.hash }}</td>
<td class="n">{{ r.images }}</td><td>{{ (r.names or [])|join(", ") }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<h3>{{ label }} named, by name</h3>
<table><tr><th>name</th><th>pictures</th></tr>
{% for r in p[key].by_name %}<tr><td>{{ r.name }}</td><td class="n">{{ r.images }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
{% endfor %}
<h3>Invisible watermarks</h3>
<p>{{ p.watermarks.findings }} findings in {{ p.watermarks.images }} pictures (absence proves nothing).</p>
<table><tr><th>scheme</th><th>verdict</th><th>findings</th></tr>
{% for r in p.watermarks.by_scheme %}<tr><td>{{ r.scheme }}</td><td>{{ r.verdict }}</td>
<td class="n">{{ r.findings }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<h3>C2PA Content Credentials</h3>
<p>{{ p.c2pa.findings }} findings in {{ p.c2pa.images }} pictures; {{ p.c2pa.ai_generated_images }} declare
generative AI.</p>
<table><tr><th>validation state</th><th>findings</th></tr>
{% for k, n in p.c2pa.by_state.items() %}<tr><td>{{ k }}</td><td class="n">{{ n }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<table><tr><th>failure code</th><th>findings</th></tr>
{% for k, n in p.c2pa.failure_codes.items() %}<tr><td>{{ k }}</td><td class="n">{{ n }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<h3>Records only in the pixels</h3>
<ul>{% for path in p.pixels_only %}<li class="mono">{{ path }}</li>{% endfor %}</ul>
<h3>AI-image detector scores</h3>
{% for d in f.detectors %}
<p>{{ d.detector }} {{ d.version }} ({{ d.label }}): {{ d.scored }} pictures scored, {{ d.above }} at or above
the threshold {{ d.threshold }}. A score is a model's opinion, not proof.</p>
{{ charts.detectors[loop.index0] }}
{% else %}<p>No detector ran on this case.</p>{% endfor %}

<h2 id="models">Model files found</h2>
{% set mo = p.models_on_evidence %}
<table><tr><th>model file</th><th>evidence</th><th>format</th><th>kind</th><th>family</th><th>pictures naming it by
hash</th><th>by name only</th></tr>
{% for r in mo.model_files %}<tr><td class="mono">{{ r.path }}</td><td class="mono">{{ r.evidence }}</td>
<td>{{ r.format }}</td><td>{{ r.kind or "-" }}</td><td>{{ r.family or "-" }}</td>
<td class="n">{{ r.images_by_hash }}</td><td class="n">{{ r.images_by_name_only }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<h3>Pickles that would import callables outside the tensor allowlist (never run)</h3>
<table><tr><th>file</th><th>callables</th></tr>
{% for r in f.dangerous_pickles %}<tr><td class="mono">{{ r.path }}</td><td class="mono">{{ r.callables|join(", ") }}
</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<h3>Named models found in other cases</h3>
<table><tr><th>case</th><th>model file</th><th>by hash</th><th>by name only</th></tr>
{% for r in mo.model_files_in_other_cases %}<tr><td>{{ r.case }}</td><td class="mono">{{ r.path }}</td>
<td class="n">{{ r.images_by_hash }}</td><td class="n">{{ r.images_by_name_only }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<h3>Named models in reference lists</h3>
<table><tr><th>role</th><th>name</th><th>hash kind</th><th>hash</th><th>pictures</th><th>list: label</th></tr>
{% for r in mo.references_in_lists %}<tr><td>{{ r.role or "-" }}</td><td>{{ r.name or "-" }}</td>
<td>{{ r.hash_kind or "-" }}</td><td class="mono">{{ r.hash or "-" }}</td><td class="n">{{ r.images }}</td>
<td>{% for e in r.entries %}{{ e.set }}: {{ e.label or "-" }}{% if not loop.last %}; {% endif %}{% endfor %}</td></tr>

{% else %}{{ NONE }}{% endfor %}</table>
<h3>Named models not found on any evidence</h3>
<table><tr><th>role</th><th>name</th><th>hash kind</th><th>hash</th><th>pictures</th></tr>
{% for r in mo.references_not_found %}<tr><td>{{ r.role or "-" }}</td><td>{{ r.name or "-" }}</td>
<td>{{ r.hash_kind or "-" }}</td><td class="mono">{{ r.hash or "-" }}</td><td class="n">{{ r.images }}</td></tr>

{% else %}{{ NONE }}{% endfor %}</table>

<h2 id="terms">Term hits</h2>
{% if f.terms.lists %}
<table><tr><th>list</th><th>terms</th><th>file</th><th>SHA-256</th><th>imported</th><th>by</th></tr>
{% for l in f.terms.lists %}<tr><td>{{ l.name }}</td><td class="n">{{ l.term_count }}</td><td>{{ l.source_name }}</td>
<td class="mono">{{ l.source_sha256 }}</td><td>{{ l.imported_at }}</td><td>{{ l.imported_by }}</td></tr>
{% else %}{{ NONE }}{% endfor %}
</table>
<table><tr><th>list</th><th>term</th><th>hits</th><th>files</th></tr>
{% for h in f.terms.hits %}<tr><td>{{ h.list }}</td><td>{{ h.term }}</td><td class="n">{{ h.hits }}</td>
<td class="n">{{ h.files }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<table><tr><th>field</th><th>hits</th></tr>
{% for k, n in f.terms.by_field %}<tr><td>{{ k }}</td><td class="n">{{ n }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
{% else %}<p>No term list in this database (cairn ships none; <code>cairn terms import</code> loads yours).</p>
{% endif %}

<h2 id="review">Review</h2>
{% if f.review is none %}<p>This case has no review tables.</p>{% else %}
<h3>Reviewer exposure</h3>
<table><tr><th>user</th><th>role</th><th>reveals</th><th>pictures revealed</th><th>categorisations</th>
<th>pictures categorised</th></tr>
{% for u in f.review.exposure %}<tr><td>{{ u.name }}</td><td>{{ u.role }}</td><td class="n">{{ u.revealed }}</td>
<td class="n">{{ u.revealed_files }}</td><td class="n">{{ u.categorised }}</td><td class="n">{{ u.categorised_files }}
</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
<h3>Reviewers' categories (each picture's latest)</h3>
<table><tr><th>scheme</th><th>value</th><th>category</th><th>pictures</th></tr>
{% for c in f.review.categories %}<tr><td>{{ c.scheme }}</td><td>{{ c.value }}</td><td>{{ c.label }}</td>
<td class="n">{{ c.files }}</td></tr>
{% else %}{{ NONE }}{% endfor %}</table>
{% endif %}

<h2 id="timeline">Timeline of file modification dates</h2>
{% set t = f.timeline %}
<p>{{ t.dated }} files dated from {{ t.first or "-" }} to {{ t.last or "-" }} (UTC), drawn by {{ t.unit }};
{{ t.earlier }} earlier and {{ t.later }} later than the chart; {{ t.undated }} without a date;
{{ t.out_of_range }} with a time no calendar date shows.</p>
{{ charts.timeline }}

<h2 id="pictures">Pictures of note</h2>
<p>Pictures known in the latest match run, carrying a generation record, declared generative AI by C2PA, with a
watermark, or scored above a detector's threshold (the first {{ max_pictures }} by path{% if f.pictures_left %};
{{ f.pictures_left }} more not listed{% endif %}).</p>
<div class="pictures">
{% for pic in f.pictures %}<div class="picture">{% if f.with_thumbnails %}{% if pic.thumbnail %}<img
src="{{ pic.thumbnail }}" alt="blurred greyscale thumbnail">{% else %}<p>(no stored thumbnail)</p>{% endif %}{% endif %}
<div class="mono">{{ pic.path }}</div><div>{{ pic.reasons|join("; ") }}</div></div>
{% endfor %}</div>
<p>End of report. cairn {{ f.tool_version }}.</p>
</body>
</html>
"""

_ENV = Environment(
    loader=DictLoader({"report.html": _TEMPLATE}),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_ENV.globals["NONE"] = Markup('<tr><td colspan="9" class="none">none</td></tr>')  # an empty table's one row


def render(facts: dict[str, Any], *, max_pictures: int) -> str:
    """The report's HTML for ``facts`` (from :func:`cairn.report.facts.gather`)."""
    prov = facts["provenance"]
    status = facts["match_status"] or {}
    charts = {
        "errors": svg.bar_chart(facts["errors_by_code"], "Files per error code"),
        "types": svg.bar_chart(facts["types"], "File types"),
        "status": svg.bar_chart(list(status.items()), "Known, ignorable and unknown files"),
        "categories": svg.bar_chart(
            [(f"{c['scheme']} {c['value']} {c['label']}", c["files"]) for c in facts["categories"]],
            "Categories of known files",
        ),
        "tools": svg.bar_chart([(r["tool"], r["images"]) for r in prov["by_tool"]], "Pictures by generating tool"),
        "timeline": svg.histogram(facts["timeline"]["bins"], "Files by modification date"),
    }
    detectors = [
        Markup(svg.histogram([(f"{i / 10:.1f}", n) for i, n in enumerate(d["bins"])], f"Scores of {d['detector']}"))
        for d in facts["detectors"]
    ]
    marked: dict[str, Any] = {k: Markup(v) for k, v in charts.items()}  # svg escapes every label
    marked["detectors"] = detectors
    sets = {s["name"]: s for s in facts["hash_sets"]}
    thumbnails = sum(1 for p in facts["pictures"] if p.get("thumbnail"))
    return _ENV.get_template("report.html").render(
        f=facts, charts=marked, sets=sets, thumbnails=thumbnails, max_pictures=max_pictures
    )
