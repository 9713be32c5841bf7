#!/usr/bin/env python3
"""Turns scrawl-bench RESULT lines (JSON, one a line) into bench/RESULTS.md and a gnuplot PNG.
Usage: report.py results.jsonl RESULTS.md fanout.png   (called by scripts/bench)
       report.py --check results.jsonl RESULTS.md     (scripts/bench runs it after writing)

Every figure and verdict in the report comes from the run's results: a figure is either a value
of a result line or computed from them here (through `d()`, which records it). `--check` finds
every number in the written text and fails, naming the line, on one that is neither: not from
the run (a figure carried over in the prose), unless it is one of METHOD below (a target of the
issue or a setting of the benchmark code the text describes)."""
import json, os, re, subprocess, sys, tempfile, datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_cluster

# --cluster: only the Cluster section (scrawl-bench cluster-soak and cluster-fanout), put in
# place of the one RESULTS.md has, or appended (scripts/bench --cluster-only); its plot to PNG.
# --check-cluster: --check of that section alone.
cluster_only = len(sys.argv) > 1 and sys.argv[1] in ("--cluster", "--check-cluster")
check = len(sys.argv) > 1 and sys.argv[1] in ("--check", "--check-cluster")
if check:
    src, out_md = sys.argv[2:4]
    out_png = None
elif cluster_only:
    src, out_md, out_png = sys.argv[2:5]
else:
    src, out_md, out_png = sys.argv[1:4]
rows = [json.loads(l) for l in open(src) if l.strip()]

# Figures computed from the results (ratios, percentages, differences): what --check accepts
# besides the results' own values.
DERIVED = []

def d(v):
    DERIVED.append(v)
    return v

# Phrases with numbers that no run measures: the issue's targets and what the benchmark code does
# (its settings), each with where it comes from. --check takes these out of a line before it
# looks for numbers; any other number must come from the run.
METHOD = [
    (r"[Ii]ssues? 5\b|[Ii]ssue 15\b|[Ii]ssues 5 and 15", "the issues that set the targets"),
    (r"≥ 2×|≥ 5×|≤ 10 ms|≤ 3 bytes|< 500 ms|< 16 ms|\(200 Hz pen", "issue 5's targets"),
    (r"≥ 1\.5×|≥ 15×|≥ 90 %|within 10 %|up to 3× saturation", "issue 15's targets"),
    (r"2-core|taskset -c 0|core 1\b", "scripts/bench pins the server to core 0, the generator to 1"),
    (r"N up to N = 100, 50 beyond", "bench_fanout.cpp: publishers"),
    (r"every 100 ms|up to 10 s|within 1 % over a second", "fanoutgen.cpp: RSS sampling and settling"),
    (r"1 MiB|16 MiB|10 s without", "lws-relay.c: its limits"),
    (r"2 s without any arriving, or four times", "bench_fanout.cpp: the drain after a step"),
    (r"within 12 %", "three halvings of a doubling (bench_fanout.cpp)"),
    (r"below 100 %|below 90 %", "thresholds the text explains"),
    (r"±5 %|0\.15 px|100 pen samples", "strokegen.cpp: the generated strokes"),
    (r"12 points are waiting or the oldest has waited 60 ms|12 points or 60 ms",
     "core/points.h: the app's batching"),
    (r"±3 quarter|protocol [13]\b|one per 16 ms frame", "the protocol (proto/scrawl.proto)"),
    (r"1600 x 1000|IDLE_TIME=0|5 ms update-request|256 px tile|at 100 % painted",
     "bench_canvas.cpp and app/canvasitem: window, timer, tile"),
    (r"20 natural strokes at 200 Hz", "bench_canvas.cpp remote mode"),
    (r"201 response", "HTTP status Created"),
    (r"[Ii]ssue 16\b|≤ 6 bytes|≤ 3\.5 bytes|under 16 ms", "issue 16's targets"),
    (r"20 strokes of 200 samples|50 ms each way|100 ms round trip|--rtt 100",
     "bench_ink.cpp: its strokes and the fault proxy's delay"),
    (r"100 images of 1600 x 1200|20 distinct pictures|640 x 480|10 x 10 grid",
     "bench_canvas.cpp images mode: its pictures"),
    (r"10,000 strokes nearest|3 px a frame", "bench_canvas.cpp: the selection it drags"),
    (r"[Ii]ssue 19\b|under 50 ms|1/1000 of the range", "issue 19's target; bench_timeline.cpp's steps"),
] + report_cluster.METHOD

by = lambda kind: [r for r in rows if r.get("bench") == kind]
machine = (by("machine") or [{}])[0]
machine_end = (by("machine_end") or [{}])[0]
fan = by("fanout")
strokes = by("strokes")
joins = by("join")
speed = by("speedtest")
equal = by("fanout_equal")
canvas = by("canvas")
overload = by("fanout_overload")
ink = by("ink")
timeline = by("timeline")
ORDER = ["scrawl", "scrawl-tmpfs", "baseline", "node-ws", "socket.io", "lws"]
order = lambda name: ORDER.index(name) if name in ORDER else len(ORDER)

def fmt(v, d=0):
    if v is None:
        return "—"
    return f"{v:,.{d}f}"

def verdict(ok):
    return "**met**" if ok else "**not met**"

def fan_get(server, n):
    for r in fan:
        if r["server"] == server and r["clients"] == n:
            return r
    return None

md = []
md.append("# Scrawl benchmark results\n")
md.append(f"Written by `scripts/bench{' --quick' if machine.get('quick') else ''}` on "
          f"{machine.get('date') or datetime.date.today().isoformat()} at commit `{machine.get('commit','?')}`: "
          f"{machine.get('cpus','?')} cores ({machine.get('cpu','?')}), Node {machine.get('node','?')}; "
          f"load average {machine.get('loadavg_start','?')} at the start and "
          f"{machine_end.get('loadavg_end','?')} at the end"
          f"{', server and generator at nice ' + machine['nice'] if machine.get('nice') else ''}; "
          f"{machine_end.get('seconds','?')} s in all.\n")
md.append("The server under test runs under `taskset -c 0`, the load generator on core 1. "
          "Absolute figures on a shared 2-core machine are noisy; the comparisons that matter "
          "(Scrawl against Node `ws` and Socket.IO) are measured side by side in the same run, "
          "with the same generator, payloads and N. Rerun with `scripts/bench` (`--quick` for a "
          "short pass).\n")

# ---- targets
md.append("## Issue 5 targets, measured against target\n")
md.append("| target | measured | verdict |")
md.append("|---|---|---|")
for n in (100, 1000):
    s, w, io = fan_get("scrawl", n), fan_get("node-ws", n), fan_get("socket.io", n)
    if s and w:
        ratio = d(s["saturation"] / w["saturation"] if w["saturation"] else 0)
        md.append(f"| fan-out delivered/s at N = {n}: ≥ 2× Node `ws` | {fmt(s['saturation'])} vs "
                  f"{fmt(w['saturation'])} = **{ratio:.2f}×** | {verdict(ratio >= 2)} |")
    if s and io:
        ratio = d(s["saturation"] / io["saturation"] if io["saturation"] else 0)
        md.append(f"| fan-out delivered/s at N = {n}: ≥ 5× Socket.IO | {fmt(s['saturation'])} vs "
                  f"{fmt(io['saturation'])} = **{ratio:.2f}×** | {verdict(ratio >= 5)} |")
s100 = fan_get("scrawl", 100)
if s100:
    t100 = fan_get("scrawl-tmpfs", 100)
    tmpfs = (f"; with the database on tmpfs p99 **{t100['p99_ms']:.2f} ms** (p50 {t100['p50_ms']:.2f}) "
             f"at {fmt(t100['half_delivered'])}/s" if t100 else "")
    md.append(f"| p99 ≤ 10 ms at N = 100, half of saturation | p99 **{s100['p99_ms']:.2f} ms** "
              f"(p50 {s100['p50_ms']:.2f}, p99.9 {s100['p999_ms']:.2f}) at {fmt(s100['half_delivered'])} "
              f"deliveries/s, database on this machine's disk{tmpfs} | {verdict(s100['p99_ms'] <= 10)} |")
def app_batching(r):
    """The batching the app uses (core/points.h), as opposed to the comparison runs."""
    return r.get("batch_points", 0) < 1000


for r in strokes:
    if r["hz"] == 200 and app_batching(r):
        worst = max(r["up_bytes_per_point"], r["down_bytes_per_point"])
        others = [o for o in strokes if not app_batching(o)]
        # At which pen rates this run's app batching met the 3-byte target, and at which not.
        app_rows = sorted((o for o in strokes if app_batching(o)), key=lambda o: o["hz"])
        met_hz = [o["hz"] for o in app_rows
                  if max(o["up_bytes_per_point"], o["down_bytes_per_point"]) <= 3]
        unmet_hz = [o["hz"] for o in app_rows if o["hz"] not in met_hz]
        hz_list = lambda hs: " and ".join(", ".join(f"{h:.0f}" for h in hs).rsplit(", ", 1))
        md.append(f"| ≤ 3 bytes per stroke point on the wire (200 Hz pen; the app's batches of "
                  f"{r['batch_points']} points or {r['batch_ms']:.0f} ms) | "
                  f"up **{r['up_bytes_per_point']:.2f}**, down **{r['down_bytes_per_point']:.2f}** "
                  f"B/point ({r['points_per_batch']:.1f} points a message); "
                  + "; ".join(f"{o['hz']:.0f} Hz up {o['up_bytes_per_point']:.2f} / down "
                              f"{o['down_bytes_per_point']:.2f}"
                              for o in strokes if app_batching(o) and o["hz"] != 200)
                  + "".join(f"; one {o['batch_ms']:.0f} ms batch a message (200 Hz): up "
                            f"{o['up_bytes_per_point']:.2f}, down {o['down_bytes_per_point']:.2f}"
                            for o in others if o["hz"] == 200)
                  + f" | {verdict(worst <= 3)}"
                  + (f" (at {hz_list(met_hz)} Hz)" if met_hz else "")
                  + (f", not at {hz_list(unmet_hz)} Hz" if unmet_hz else "")
                  + " |")
j1m = [r for r in joins if 900000 <= r["points"] <= 1100000 and r["strokes"] < 20000]
if j1m:
    r = j1m[0]
    md.append(f"| join of a 1M-point wall < 500 ms to fully drawn (loopback) | **{r['ms']:.0f} ms** "
              f"median of {r['runs']} ({fmt(r['snapshot_bytes'])} B snapshot) | {verdict(r['ms'] < 500)} |")
else:
    md.append("| join of a 1M-point wall < 500 ms | not run (`--quick`) | — |")
pans = [r for r in canvas if r["backend"].startswith("default") and r["run"].startswith("pan at 100%")]
if pans:
    md.append(f"| panning {fmt(pans[0]['strokes'])} strokes < 16 ms a frame (the app's default "
              f"renderer, `{pans[0]['backend']}`) | "
              + "; ".join(f"{r['run']}: mean **{r['mean_ms']:.1f} ms** (p50 {r['p50_ms']:.1f}, p95 "
                          f"{r['p95_ms']:.1f})" for r in pans)
              + f" | {verdict(all(r['mean_ms'] < 16 for r in pans))} |")
else:
    md.append("| panning 100,000 strokes < 16 ms a frame | not run | — |")
md.append("")

def equal_get(server, n):
    for r in equal:
        if r["server"] == server and r["clients"] == n:
            return r
    return None

def overload_get(server, n, factor):
    for r in overload:
        if r["server"] == server and r["clients"] == n and abs(r["factor"] - factor) < 1e-9:
            return r
    return None

def mb(v):
    return d(v / 1e6)

def timed_ms(r, key):
    """A latency of an overload step, or — when nothing sent in it was delivered in time."""
    return f"{r[key]:.1f}" if r.get("latency_samples", 1) > 0 else "—"

issue15 = []
s1000, w1000 = fan_get("scrawl", 1000), fan_get("node-ws", 1000)
if s1000 and w1000 and w1000["saturation"]:
    ratio = d(s1000["saturation"] / w1000["saturation"])
    issue15.append(f"| fan-out delivered/s at N = 1000: ≥ 15× Node `ws` | {fmt(s1000['saturation'])} vs "
                   f"{fmt(w1000['saturation'])} = **{ratio:.2f}×** | {verdict(ratio >= 15)} |")
for n in sorted({r["clients"] for r in fan}):
    s_, l_ = fan_get("scrawl", n), fan_get("lws", n)
    if s_ and l_ and l_["saturation"] and n >= 100:
        ratio = d(s_["saturation"] / l_["saturation"])
        issue15.append(f"| fan-out delivered/s at N = {n}: ≥ 1.5× libwebsockets | {fmt(s_['saturation'])} vs "
                       f"{fmt(l_['saturation'])} = **{ratio:.2f}×**"
                       f"{' (capped: not saturated)' if s_['capped'] or l_['capped'] else ''} | "
                       f"{verdict(ratio >= 1.5)} |")
for r in sorted((r for r in overload if r["server"] == "scrawl"), key=lambda r: (r["clients"], r["factor"])):
    back = d(100 * r["rss_after_bytes"] / r["rss_before_bytes"]) if r["rss_before_bytes"] else 0
    late = r.get("undelivered", 0)
    ok = r["goodput_pct"] >= 90 and r["closed"] == 0 and back <= 110 and r["lost"] == 0 and late == 0
    issue15.append(f"| no collapse at N = {r['clients']}, {r['factor']:g}× saturation for {r['seconds']:g} s: "
                   f"≥ 90 % of the peak delivered, nobody reading cut, nothing lost or left undelivered, "
                   f"memory back within 10 % | "
                   f"**{r['goodput_pct']:.0f} %** ({fmt(r['delivered'])} of {fmt(r['saturation'])}/s), "
                   f"p99 {timed_ms(r, 'p99_ms')} ms, "
                   f"{r['closed']} clients closed, {fmt(r['lost'])} lost, {fmt(late)} not arrived "
                   f"when the drain ended, RSS "
                   f"{mb(r['rss_before_bytes']):.0f} → peak {mb(r['rss_peak_bytes']):.0f} → "
                   f"{mb(r['rss_after_bytes']):.0f} MB ({back:.0f} % of before) | "
                   f"{verdict(ok)} |")
for n in sorted({r["clients"] for r in equal}):
    s_ = equal_get("scrawl", n)
    refs = [x for x in (equal_get("node-ws", n), equal_get("lws", n)) if x]
    if s_ and refs:
        ok = all(s_["p50_ms"] <= x["p50_ms"] and s_["p99_ms"] <= x["p99_ms"] for x in refs)
        issue15.append(f"| latency at equal load, N = {n}, database on disk: p50 and p99 at or below "
                       + " and ".join(f"`{x['server']}`" for x in refs)
                       + f" | Scrawl p50 **{s_['p50_ms']:.2f}** / p99 **{s_['p99_ms']:.2f} ms**; "
                       + "; ".join(f"{x['server']} {x['p50_ms']:.2f} / {x['p99_ms']:.2f}" for x in refs)
                       + f" (at {fmt(s_['offered'])} deliveries/s) | {verdict(ok)} |")
if issue15:
    md.append("## Issue 15 targets, measured against target\n")
    md.append("| target | measured | verdict |")
    md.append("|---|---|---|")
    md.extend(issue15)
    md.append("")

# Issue 16: ink's bytes a point sent live, and the frames while a big selection moves.
issue16 = []
for r in ink:
    rtt = r["rtt_ms"]
    limit = 6 if rtt == 0 else 3.5
    where = "on loopback" if rtt == 0 else f"at {rtt:.0f} ms round trip (fault proxy)"
    worst = max(r["up_bytes_per_point"], r["down_bytes_per_point"])
    issue16.append(f"| bytes a point at {r['hz']:.0f} Hz {where}: ≤ {limit:g} bytes | up "
                   f"**{r['up_bytes_per_point']:.2f}**, down **{r['down_bytes_per_point']:.2f}** "
                   f"({r['points_per_batch']:.2f} points a batch) | {verdict(worst <= limit)} |")
for r in canvas:
    if r["run"].startswith("move ") and not r.get("images"):
        issue16.append(f"| moving a selection of 10,000 strokes: frames under 16 ms | "
                       f"{r['backend']}: p50 **{r['p50_ms']:.2f} ms**, p95 {r['p95_ms']:.2f}, "
                       f"the first frame {r['max_ms']:.2f} | {verdict(r['p50_ms'] < 16)} |")
if issue16:
    md.append("## Issue 16 targets, measured against target\n")
    md.append("Pen move to pixels on the other app is measured by `tst_e2e_gui "
              "penMoveToRemotePixelsLatency` (a test, not this run).\n")
    md.append("| target | measured | verdict |")
    md.append("|---|---|---|")
    md.extend(issue16)
    md.append("")

# ---- fan-out
if fan:
    md.append("## Fan-out: one wall, N clients, side by side\n")
    md.append("P publishers (P = N up to N = 100, 50 beyond) send an open-loop mix of strokes as "
              "the app sends them (StrokeBegin with the first point, StrokePoints whenever "
              "12 points or 60 ms are waiting, StrokeEnd with the rest) and one chat line in ten; "
              "every server delivers each message to all N members, sender included. The relays "
              "(*node-ws*, *socket.io* and *lws*, a C relay on libwebsockets: "
              "`bench/reference/lws-relay.c`) get the same Envelope bytes, stamped by the client. "
              "A publisher whose socket is full (the server stopped reading it) does not queue its "
              "next op: the op is refused by backpressure and counted. *Saturation* is the most "
              "delivered in a window while the offered rate doubles until the server falls behind, "
              "then three halvings of that last doubling (so within 12 %); latency (intended send time "
              "to receipt) and CPU cost are measured at half of it. *gen CPU* is the load "
              "generator's share of its core at saturation: below 100 % it was not the bottleneck. "
              "The bench runs Scrawl with its per-client max_ops_per_second lifted (as it lifts "
              "the per-address limits: every client comes from the loopback address), so that the load, not "
              "the anti-flood cap, decides; each publisher stays under that, and a row marked "
              "*capped* ran out of offered load before the server saturated.\n")
    md.append("| server | N | P | delivered/s at saturation | server CPU | gen CPU | half load/s | p50 ms | p99 ms | p99.9 ms | CPU-s per M deliveries | RSS per conn | note |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(fan, key=lambda r: (r["clients"], order(r["server"]))):
        md.append(f"| {r['server']} | {r['clients']} | {r['publishers']} | {fmt(r['saturation'])} | "
                  f"{d(100*r['server_cpu_at_saturation']):.0f} % | {d(100*r['generator_cpu_at_saturation']):.0f} % | "
                  f"{fmt(r['half_delivered'])} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p999_ms']:.2f} | "
                  f"{r['cpu_s_per_million']:.2f} | {d(r['rss_per_conn_bytes']/1024):.1f} KiB | "
                  f"{'capped' if r['capped'] else ''}{' errors ' + str(r['errors']) if r['errors'] else ''} |")
    starved = [r for r in fan if r["server_cpu_at_saturation"] < 0.9 and not r["capped"]]
    if starved:
        md.append("\n**Caution:** " + ", ".join(f"{r['server']} N={r['clients']}" for r in starved)
                  + " saturated with the server below 90 % of its core: other jobs on this machine "
                  "took the rest, so those rates are lower bounds and the ratios depend on how the "
                  "scheduler shared core 0 in that minute. Scrawl writes each socket once per "
                  "event-loop pass (many frames per syscall) while Node writes once per message, "
                  "which a crowded core punishes more. Confirm on an idle machine before quoting.")
    # What the disk cost in this run: p99 on disk against tmpfs, at each N measured both ways.
    disk = []
    for n in sorted({r["clients"] for r in fan}):
        a, b = fan_get("scrawl", n), fan_get("scrawl-tmpfs", n)
        if a and b:
            disk.append(f"N = {n}: p99 {a['p99_ms']:.2f} ms on disk, {b['p99_ms']:.2f} ms on tmpfs")
    md.append("\n*scrawl-tmpfs* is the same server with its SQLite database on tmpfs (`/dev/shm`): "
              "every op is still committed before it is broadcast, but no write can wait on the "
              "disk. The difference between the two rows is what this machine's disk costs"
              + (" (in this run: " + "; ".join(disk) + ")" if disk else "") + ".\n")
    md.append("\n![delivered messages per second at saturation](fanout.png)\n")
if equal:
    md.append("## Latency at equal offered load\n")
    basis = {}
    for r in equal:
        basis.setdefault(r["clients"], r.get("basis"))
    # How much more load half of Scrawl's own saturation is than the equal load's, at each N.
    loads = []
    for n in sorted(basis):
        s_, b = fan_get("scrawl", n), fan_get(basis[n], n) if basis[n] else None
        if s_ and b and b["half_delivered"]:
            loads.append(f"{d(s_['half_delivered'] / b['half_delivered']):.1f}× {basis[n]}'s at N = {n}")
    named = [f"{basis[n]}'s at N = {n}" for n in sorted(basis) if basis[n]]
    md.append("Every server, freshly started, at the same offered rate at each N: half the saturation "
              "of the slowest WebSocket reference server (Socket.IO aside, which is slower than all "
              "of them), a load the others carry"
              + (" (here " + ", ".join(named) + ")" if named else "") + "."
              + (" Scrawl's half of its own saturation, in the table above, is "
                 + "; ".join(loads) + "." if loads else "")
              + "\n")
    md.append("| server | N | offered deliveries/s | delivered/s | p50 ms | p99 ms | p99.9 ms | lost / not arrived | clients closed |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    for r in sorted(equal, key=lambda r: (r["clients"], order(r["server"]))):
        md.append(f"| {r['server']} | {r['clients']} | {fmt(r['offered'])} | {fmt(r['delivered'])} | "
                  f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p999_ms']:.2f} | "
                  f"{fmt(r.get('lost'))} / {fmt(r.get('undelivered'))} | {fmt(r.get('closed'))} |")
    md.append("")

if overload:
    md.append("## Overload: past saturation\n")
    secs = sorted({r["seconds"] for r in overload})
    md.append("After a server's saturation is found (above), the same number of clients, "
              "connected to a fresh server for each step (for Scrawl an empty wall: the saturation "
              "search leaves hundreds of thousands of strokes on it, and a full wall refuses every "
              "op, which is not what a step measures), offer it "
              + " and ".join(f"{f:g}×" for f in sorted({r["factor"] for r in overload}))
              + " the most it delivered, for "
              + " or ".join(f"{x:g} s" for x in secs)
              + " each, open loop. *delivered* is the goodput in the step and its share of the "
              "saturation peak; *server CPU* its share of its core (well below 100 %: other jobs "
              "took the rest); latency is that of what was delivered. Server RSS: before the step "
              "(the fresh server with its clients connected), "
              "its peak (sampled every 100 ms) and after the load ended and the server drained "
              "(waiting up to 10 s for it to settle within 1 % over a second). *closed*: clients "
              "the server disconnected (they were all reading). *refused*: ops the generator did not "
              "send because the publisher's socket was full, that is the server had stopped reading "
              "it; they are neither offered-and-lost nor queued in the generator (*by the server*: sent "
              "and refused with an error naming them, owed to nobody). *lost*: ops a member never "
              "got although a later one reached it (by the publisher's op id, or by Scrawl's "
              "sequence number); *not arrived*: deliveries owed to members still connected that "
              "had not arrived when the drain after the step gave up (2 s without any arriving, or "
              "four times the step's length), so lost or still queued in the server; *dup*, "
              "*order*: received twice, or out of order.\n")
    md.append("| server | N | load | offered deliveries/s | delivered/s | % of saturation | server CPU | p50 ms | p99 ms | RSS MB before / peak / after | closed | refused ops | lost / not arrived / dup / order | note |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(overload, key=lambda r: (r["clients"], order(r["server"]), r["factor"])):
        notes = []
        if not r["rss_settled"]:
            notes.append("RSS still moving")
        if not r["drained"]:
            notes.append("not drained")
        if r["close_reasons"]:
            notes.append("closed: " + r["close_reasons"])
        if r["errors"]:
            notes.append(f"{fmt(r['errors'])} errors: " + r["error_messages"])
        timed = r.get("latency_samples", 1) > 0
        if not timed:
            notes.append("nothing sent in the step arrived in time to be timed")
        md.append(f"| {r['server']} | {r['clients']} | {r['factor']:g}× | {fmt(r['offered'])} | "
                  f"{fmt(r['delivered'])} | {r['goodput_pct']:.0f} % | "
                  f"{str(round(d(100 * r['server_cpu']))) + ' %' if 'server_cpu' in r else '—'} | "
                  f"{timed_ms(r, 'p50_ms')} | {timed_ms(r, 'p99_ms')} | "
                  f"{mb(r['rss_before_bytes']):.0f} / {mb(r['rss_peak_bytes']):.0f} / {mb(r['rss_after_bytes']):.0f} | "
                  f"{r['closed']} | {fmt(r['refused_ops'])} of {fmt(d(r['refused_ops'] + r['sent_ops']))}"
                  f"{'; ' + fmt(r['server_refused_ops']) + ' by the server' if r.get('server_refused_ops') else ''} | "
                  f"{fmt(r['lost'])} / {fmt(r.get('undelivered'))} / {fmt(r['duplicated'])} / "
                  f"{fmt(r['out_of_order'])} | {'; '.join(notes)} |")
    no_steps = [r for r in fan if r["capped"]
                and not any(o["server"] == r["server"] and o["clients"] == r["clients"] for o in overload)]
    if no_steps:
        md.append("\nNo overload steps for " + ", ".join(f"{r['server']} N = {r['clients']}" for r in no_steps)
                  + ": the publishers reached max_ops_per_second before the server saturated, so "
                  "there was no saturation to exceed.")
    is_scrawl = lambda name: name in ("scrawl", "scrawl-tmpfs", "baseline")
    over_cap = [r for r in overload
                if is_scrawl(r["server"]) and r["per_publisher_ops"] > r["client_cap_ops"]]
    if over_cap:
        md.append("\nIn " + ", ".join(f"{r['server']} N = {r['clients']} at {r['factor']:g}×"
                                       for r in over_cap)
                  + " each publisher offered more than Scrawl's max_ops_per_second ("
                  + f"{over_cap[0]['client_cap_ops']} a second), which Scrawl may refuse with a "
                  "named error once its burst allowance is spent, and a relay does not (ops "
                  "Scrawl refused there: "
                  + ", ".join(fmt(r.get("server_refused_ops", 0)) for r in over_cap) + ").")
    md.append("")

# ---- strokes
def overhead_sentence():
    """What each live message carries besides its points, and what per-frame batches cost, both
    computed from this run's rows (up bytes minus the points' own bytes, times points a message)."""
    per_msg = [d((r["up_bytes_per_point"] - r["path_point_bytes_per_point"]) * r["points_per_batch"])
               for r in strokes if r.get("path_point_bytes_per_point") is not None]
    out = ""
    if per_msg:
        out += (f" Each live message also carried {min(per_msg):.0f}-{max(per_msg):.0f} bytes "
                "besides its points in this run (up bytes a point minus the points' own, times "
                "points a message: WebSocket header and the client's mask, stroke id, field tags).")
    frame = [r for r in strokes if not app_batching(r) and r["batch_ms"] <= 20 and r["hz"] == 200]
    if frame:
        r = frame[0]
        out += (f" A {r['batch_ms']:.0f} ms frame of a {r['hz']:.0f} Hz pen held "
                f"{r['points_per_batch']:.2f} points, so per-frame batches cost "
                f"{r['up_bytes_per_point']:.2f} bytes a point up.")
    return out

if strokes:
    md.append("## Bytes per stroke point (`scrawl-bench strokes`)\n")
    md.append("Natural strokes (smooth turning paths, bell-shaped speed, ±5 % sample timing, 0.15 px "
              "noise) of 100 pen samples, sent the way the app sends them (`core/points.h`): "
              "StrokeBegin with the first point at once, then a StrokePoints message whenever 12 "
              "points are waiting or the oldest has waited 60 ms, and the rest in the StrokeEnd; "
              "client op ids numbered as the app numbers them (from the time in microseconds, one "
              "up each, so left off the wire after the first). Whole WebSocket frames are counted on "
              "the sender's socket (up) and on another member's (down: the server's broadcast, "
              "stamped with seq and author). *one message* is the same stroke as a single "
              "StrokeBegin with all its points, as a snapshot carries it. Rows whose batch size "
              "is *—* send one message per batch window whatever it holds (the app before protocol "
              "3 sent one per 16 ms frame).\n")
    md.append("*path* is what the points alone cost in the code the protocol sends (each "
              "point predicted to take the step the one before it took; the x and y errors "
              "zig-zagged, bit-interleaved and sent as one varint, so a point within ±3 quarter "
              "pixels of its prediction costs one byte); *protocol 1* is the same points as the "
              "x,y zig-zag deltas sent before, for comparison."
              + overhead_sentence() + "\n")
    md.append("| pen Hz | batch: points / ms | points | points/message | up B/point | down B/point | one message B/point | path: points B/point | protocol 1: points B/point |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    for r in strokes:
        path = r.get("path_point_bytes_per_point")
        old = r.get("protocol1_point_bytes_per_point")
        codes = f"{path:.2f} | {old:.2f}" if path is not None else "— | —"
        size = str(r["batch_points"]) if app_batching(r) else "—"
        md.append(f"| {r['hz']:.0f} | {size} / {r['batch_ms']:.0f} | {r['points']} | {r['points_per_batch']:.2f} | "
                  f"{r['up_bytes_per_point']:.2f} | {r['down_bytes_per_point']:.2f} | "
                  f"{r['one_message_bytes_per_point']:.2f} | {codes} |")
    md.append("")

# ---- ink, live
if ink:
    md.append("## Bytes per stroke point, sent live (`scrawl-bench ink`)\n")
    md.append("Strokes sent as the app sends them (the acknowledgement-paced StrokePacer of "
              "`core/points.h`): 20 strokes of 200 samples drawn in real time, each batch sent "
              "when the one before it is acknowledged, by the acknowledgements that really come "
              "back. *down* is what another member of the wall receives. With `--rtt 100` the "
              "fault proxy of `tests/support/faultproxy.h` (50 ms each way) sits in front of the "
              "server, and batches grow by themselves with no setting changed.\n")
    md.append("| pen Hz | round trip | points | ops | points a batch | up B/point | down B/point |")
    md.append("|---|---|---|---|---|---|---|")
    for r in ink:
        rtt = "loopback" if r["rtt_ms"] == 0 else f"{r['rtt_ms']:.0f} ms (fault proxy)"
        md.append(f"| {r['hz']:.0f} | {rtt} | {fmt(r['points'])} | {fmt(r['ops'])} | "
                  f"{r['points_per_batch']:.2f} | {r['up_bytes_per_point']:.2f} | "
                  f"{r['down_bytes_per_point']:.2f} |")
    md.append("")

# ---- join
if joins:
    md.append("## Join (`scrawl-bench join`)\n")
    md.append("A wall filled through the real server, then a fresh QWebSocket client (the app's "
              "transport) from TCP connect to the snapshot parsed and applied to core's WallModel. "
              "*after a change*: a chat line lands just before each join, so the server serialises a "
              "fresh snapshot (a wall in use); *unchanged*: the server's cached snapshot. Median of "
              "the runs; the canvas's paint time is measured by `tests/app/bench_canvas`.\n")
    md.append("| strokes | points | snapshot bytes | bytes/point | on the wire | join ms (after a change) | join ms (unchanged) | server+transfer ms | parse ms | WallModel load ms |")
    md.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in joins:
        md.append(f"| {fmt(r['strokes'])} | {fmt(r['points'])} | {fmt(r['snapshot_bytes'])} | "
                  f"{d(r['snapshot_bytes']/max(1,r['points'])):.2f} | {fmt(r['wire_bytes'])} | {r['ms']:.1f} | "
                  f"{r['ms_unchanged']:.1f} | {r['ms_joined']:.1f} | {r['ms_parse']:.1f} | {r['ms_load']:.1f} |")
    md.append("")

# ---- speedtest
if speed:
    md.append("## WebSocket vs HTTP (`scrawl-bench speedtest`)\n")
    md.append("The same chat messages through `POST /api/walls/NAME/messages` and as WebSocket ops. "
              "Latency: request sent until the 201 response, or until the op's broadcast comes "
              "back to the sender (its acknowledgement). Bytes: what crossed the client's socket "
              "(HTTP heads and bodies, WebSocket frames), not TCP/IP headers.\n")
    md.append("| mode | messages | total ms | msg/s | p50 µs | p99 µs | up B/msg | down B/msg | connections |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    for r in speed:
        md.append(f"| {r['mode']} | {r['messages']} | {r['total_ms']:.1f} | "
                  f"{d(r['messages']/r['total_ms']*1000):,.0f} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | "
                  f"{r['up_bytes_per_msg']:.1f} | {r['down_bytes_per_msg']:.1f} | {r['connections']} |")
    md.append("")

if canvas:
    md.append("## Client: panning and zooming (`tests/app/bench_canvas`)\n")
    md.append("The app's canvas (`app/canvasitem.cpp`) in a 1600 x 1000 window on a virtual X server "
              "(`xvfb-run`), showing a wall of hand-drawn-looking strokes loaded from a snapshot. "
              "Frames are driven back to back (each frame that reaches the screen pans again) with "
              "Qt's 5 ms update-request timer off (`QT_QPA_UPDATE_IDLE_TIME=0`), so a frame interval "
              "is what a frame costs, not a wait for vsync or for that timer. The *empty wall* rows "
              "are the same pans with nothing on the wall: what rendering the window costs by itself "
              "(on whatever OpenGL the machine has; the run does not record which). *canvas sync* is "
              "the canvas's own share of a frame (painting changed tiles, taking in the tiles the "
              "workers painted, updating the scene graph); tiles coming into view are painted on "
              "worker threads. *tile paint* is one 256 px tile of the wall at 100 % painted on its own. "
              "*move 10,000 selected strokes*: the 10,000 strokes nearest the middle of the view, "
              "selected with the select tool, grabbed with a real mouse press and dragged 3 px a "
              "frame; they float, painted once into one image, so the first frame pays for that "
              "painting (the max column).\n")
    md.append("| renderer | strokes | run | frame mean ms | p50 | p95 | max | canvas sync mean ms | sync p95 |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    for r in [r for r in canvas if not r["run"].startswith("remote") and not r.get("images")]:
        sync = (f"{r['sync_mean_ms']:.2f} | {r['sync_p95_ms']:.2f}" if "sync_mean_ms" in r
                else "— | —")
        md.append(f"| {r['backend']} | {fmt(r['strokes'])} | {r['run']} | {r['mean_ms']:.2f} | "
                  f"{r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['max_ms']:.2f} | {sync} |")
    md.append("")

pictured = [r for r in canvas if r.get("images")]
def plain_twin(r):
    for o in canvas:
        if (not o.get("images") and o["backend"] == r["backend"] and o["strokes"] == r["strokes"]
                and o["run"] == r["run"]):
            return o
    return None
if pictured:
    count = pictured[0]["images"]
    md.append(f"### With {count} images under the ink (`bench_canvas N images`)\n")
    md.append("The same canvas and wall, with 100 images of 1600 x 1200 (20 distinct pictures) "
              "placed 640 x 480 in a 10 x 10 grid around the view, in the same run as the wall "
              "without them. Images are drawn into the tiles from the smallest halving at least "
              "as wide as they are shown.\n")
    md.append("| renderer | strokes | run | frame p50 ms, no images | with images | p95, no images "
              "| with images | canvas sync p95, with |")
    md.append("|---|---|---|---|---|---|---|---|")
    for r in pictured:
        o = plain_twin(r)
        if o is None or r["run"].startswith("tile"):
            continue
        sync = f"{r['sync_p95_ms']:.2f}" if "sync_p95_ms" in r else "—"
        md.append(f"| {r['backend']} | {fmt(r['strokes'])} | {r['run']} | {o['p50_ms']:.2f} | "
                  f"{r['p50_ms']:.2f} | {o['p95_ms']:.2f} | {r['p95_ms']:.2f} | {sync} |")
    md.append("")

remote = [r for r in canvas if r["run"].startswith("remote")]
if remote:
    md.append("### Remote ink: from an op's arrival to its pixels (`bench_canvas N remote`)\n")
    md.append("A real `scrawl-server` holds the same wall; the canvas's client joins it, and a second "
              "client draws 20 natural strokes at 200 Hz in view, batched as the app batches them "
              "(12 points or 60 ms). From the moment the viewing client has applied an op to the "
              "moment a frame is swapped, with Qt's own frame pacing (as the app runs): *first "
              "pixels*, the frame whose sync took the op in (its first new point is drawn at once; "
              "the canvas repaints the changed tiles in that frame, the rest is Qt Quick "
              "scheduling and rendering the frame); *all its points*, the frame that drew the "
              "last point the op brought (the canvas plays each batch of someone else's stroke "
              "out over one batch delay, so that it flows instead of jumping).\n")
    md.append("| renderer | strokes on the wall | until | ops | mean ms | p50 | p95 | max |")
    md.append("|---|---|---|---|---|---|---|---|")
    for r in remote:
        until = "all its points" if "all its points" in r["run"] else "first pixels"
        md.append(f"| {r['backend']} | {fmt(r['strokes'])} | {until} | "
                  f"{r['run'].split('(')[1].split(' ')[0]} | "
                  f"{r['mean_ms']:.2f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['max_ms']:.2f} |")
    md.append("")

cluster_md = report_cluster.section(rows, d, fmt)
md += cluster_md

# ---- timeline
if timeline:
    t0 = timeline[0]
    md.append("## The wall's history as a timeline (`scrawl-bench timeline`)\n")
    md.append(f"A wall of {fmt(t0['ops'])} ops made as people make them ({fmt(t0['strokes'])} strokes sent live "
              f"in batches, {fmt(t0['notes'])} notes, moves, erasing, undo; {fmt(t0['points'])} points, "
              f"{mb(t0['wire_bytes']):.1f} MB on the wire) is taken in as the server's pages bring it "
              f"({t0['take_in_ms']:.0f} ms, keeping {t0['checkpoints']} checkpoints that hold "
              f"{t0['checkpoint_mb']:.0f} MB of points), then scrubbed through core/wallhistory.h, the "
              "app's own code. A step: from asking for a seq to the wall's state there, ready to draw. "
              "Issue 19's target: every step under 50 ms.\n")
    md.append("| step | steps | p50 | p99 | max | verdict |")
    md.append("|---|---|---|---|---|---|")
    for r in timeline:
        md.append(f"| {r['step']} | {fmt(r['steps'])} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
                  f"{r['max_ms']:.2f} ms | {verdict(r['max_ms'] < 50)} |")
    md.append("")

md.append("## Commands\n")
md.append("```\nscripts/bench            # everything (this run: "
          f"{machine_end.get('seconds', '?')} s)\nscripts/bench --quick    # a short pass\n"
          "build-bench/bin/scrawl-bench help\n```\n")

def check_numbers(text):
    """Numbers in `text` that are neither in the run's results, nor computed from them, nor a
    METHOD constant: [(line number, number, line)]."""
    allowed = []
    def collect(v):
        if isinstance(v, bool):
            return
        if isinstance(v, (int, float)):
            allowed.append(float(v))
        elif isinstance(v, str):
            allowed.extend(float(t) for t in re.findall(r"\d+(?:\.\d+)?", v))
        elif isinstance(v, dict):
            for x in v.values():
                collect(x)
        elif isinstance(v, list):
            for x in v:
                collect(x)
    collect(rows)
    allowed += [float(x) for x in DERIVED]
    today = datetime.date.today()
    allowed += [today.year, today.month, today.day]
    bad = []
    in_soak = False
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith("## Soak"):
            in_soak = True  # written by `scrawl-bench soak --markdown` from its own run
        if in_soak:
            continue
        prose = line
        for phrase, _ in METHOD:
            prose = re.sub(phrase, " ", prose)
        for m in re.finditer(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])", prose):
            tok = m.group(0).rstrip(",")
            value = float(tok.replace(",", ""))
            places = len(tok.split(".")[1]) if "." in tok else 0
            if any(abs(round(a, places) - value) < 1e-9 or
                   (places == 0 and abs(round(a) - value) < 1e-9) for a in allowed):
                continue
            bad.append((i, tok, line))
    return bad

if check:
    text = open(out_md).read()
    problems = check_numbers(report_cluster.only_section(text) if cluster_only else text)
    for i, tok, line in problems:
        print(f"{out_md}:{i}: {tok} is not from this run's results: {line[:160]}")
    sys.exit(1 if problems else 0)

if cluster_only:
    before = open(out_md).read() if os.path.exists(out_md) else ""
    open(out_md, "w").write(report_cluster.replace_section(before, cluster_md))
    report_cluster.plot(rows, out_png)
    sys.exit(0)

open(out_md, "w").write("\n".join(md))
if report_cluster.has_rows(rows):
    report_cluster.plot(rows, os.path.join(os.path.dirname(os.path.abspath(out_png)), "cluster.png"))

# ---- plot
if fan:
    ns = sorted({r["clients"] for r in fan})
    servers = ["scrawl", "node-ws", "socket.io", "lws"] # the plot keeps to the servers as deployed
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "fanout.dat")
        with open(data, "w") as f:
            for n in ns:
                vals = []
                for s in servers:
                    r = fan_get(s, n)
                    vals.append(str(r["saturation"] if r else 0))
                f.write(f"{n} " + " ".join(vals) + "\n")
        gp = f"""set terminal pngcairo size 900,520 noenhanced font 'DejaVu Sans,11' 
set output '{out_png}'
set title 'One wall, N clients: delivered messages/s at saturation (higher is better)'
set style data histograms
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [1000:*]
set grid ytics
set xlabel 'clients on the wall (N)'
set ylabel 'deliveries per second'
set key top left
plot '{data}' using 2:xtic(1) title 'Scrawl' lc rgb '#1e88e5', '' using 3 title 'Node ws' lc rgb '#43a047', '' using 4 title 'Socket.IO' lc rgb '#e53935', '' using 5 title 'libwebsockets' lc rgb '#8e24aa'
"""
        try:
            subprocess.run(["gnuplot"], input=gp.encode(), check=True)
        except Exception:
            gp = gp.replace("pngcairo", "png")
            subprocess.run(["gnuplot"], input=gp.encode(), check=True)
