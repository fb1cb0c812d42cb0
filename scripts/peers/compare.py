#!/usr/bin/env python3
"""vitbench beside ONNX Runtime and OpenVINO, measured in one sitting on this machine.

Runs `vitbench bench --json` and this folder's peer scripts (peer_models.py for timm models,
peer_mixers.py for the metaformer_s12 mixer skeleton of metaformer_s12.py), each pinned to the
same CPUs with taskset, and prints one Markdown table of medians and ratios (vitbench / faster
peer; < 1 means vitbench is faster). The peers print JSON lines, read as such.
On a shared, noisy machine the speed of a core drifts by tens of percent over minutes: with
`--rounds N` every model (and mixer) is measured N times, vitbench and the peers alternating, and
the table shows the median over rounds of each engine's median, and the range of the per-round
ratios.
With `--busy-cpu CPU` every engine is also measured while a busy loop at normal priority runs on
that CPU (what a CI runner or a shared server looks like), and the table shows each engine's
quiet time, busy time and slowdown (busy / quiet, per round, then the median).
A model an engine fails on (one that a capped oneDNN cannot compile, say) is a row that says which
engine and why; the other models still run, and the exit status is 1.
`--models zoo` stands for every model `vitbench list --json` gives published weights for (the timm
models), each at its published resolution; `--list` prints what the sitting would measure and
measures nothing.
Usage (the peer environment, scripts/peers/setup.sh):
  python scripts/peers/compare.py [--models zoo|fastvit_t8@224,fastvit_t8@256,...] [--mixers 224,512]
                                  [--mixer-kinds pooling,repmixer,dwconv,attention] [--threads 1]
                                  [--cpu 0] [--isa avx512|avx2|baseline] [--rounds 3]
                                  [--pin compact] [--busy-cpu 1] [--peers ort,ov] [--onednn-isa AVX2]
                                  [--python ~/.vitbench-peers/bin/python] [--vitbench PATH]"""
import argparse
import json
import math
import os
import signal
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, '..', '..'))

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('--models', default='fastvit_t8@224,fastvit_t8@256,poolformer_s12@224,mobileone_s0@224',
                help='MODEL@RES, comma-separated (empty: none); zoo: every model with published weights at its '
                     'published resolution')
ap.add_argument('--mixers', default='224,512', help='resolutions for metaformer_s12 (empty: none)')
ap.add_argument('--mixer-kinds', default='pooling,repmixer,dwconv,attention')
ap.add_argument('--threads', type=int, default=1)
ap.add_argument('--batch', type=int, default=1, help='images per pass (the table shows ms per pass)')
ap.add_argument('--cpu', default='0', help='taskset CPU list for every process')
ap.add_argument('--isa', default=None, help='vitbench kernel ISA (bench --isa): avx512, avx2, baseline, ...')
ap.add_argument('--python', default=os.path.expanduser('~/.vitbench-peers/bin/python'))
ap.add_argument('--vitbench', default=os.path.join(root, '.build', 'release', 'vitbench'))
ap.add_argument('--min-seconds', default='2', help='measured seconds per engine and run (at least)')
ap.add_argument('--rounds', type=int, default=1, help='alternate vitbench and the peers this many times per model')
ap.add_argument('--pin', default=None, help="vitbench's pinning policy (bench --pin), e.g. compact")
ap.add_argument('--busy-cpu', default=None, help='also measure each engine with a busy loop on this CPU')
ap.add_argument('--peers', default='ort,ov', help='peers to run: ort, ov or both (the ratio is against the faster one run)')
ap.add_argument('--onednn-isa', default=None,
                help="cap OpenVINO's oneDNN kernels at this ISA (ONEDNN_MAX_CPU_ISA, e.g. AVX2), to set vitbench's "
                     "--isa avx2 beside an AVX2 OpenVINO on an AVX-512 machine; ONNX Runtime's MLAS cannot be capped "
                     "(use --peers ov), and OpenVINO's own JIT kernels are not capped either")
ap.add_argument('--list', action='store_true', help='print the models and mixers the sitting would measure, and exit')
a = ap.parse_args()
pin = ['taskset', '-c', a.cpu]
if set(filter(None, a.peers.split(','))) - {'ort', 'ov'} or not a.peers.strip(','):
    sys.exit(f'--peers: expected ort, ov or ort,ov, got {a.peers!r}')
peer_env = None
if a.onednn_isa:
    peer_env = dict(os.environ, ONEDNN_MAX_CPU_ISA=a.onednn_isa)


def ending(returncode):
    """How a process ended: a signal by its name (a runtime that crashes prints nothing)."""
    if returncode < 0:
        try:
            return f'killed by {signal.Signals(-returncode).name}'
        except ValueError:
            return f'killed by signal {-returncode}'
    return f'exited with status {returncode}'


class Failure(Exception):
    """One engine failed on one model: the model's row says so and the sitting goes on."""
    def __init__(self, what, cmd, output, returncode=None):
        # vitbench's message is its "Error:" line (a list of known names may follow it); a
        # Python traceback's is its last line; a crash is its signal (OpenVINO with oneDNN capped
        # at AVX2 dies of SIGSEGV on MobileViT-XS, silently).
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith('Error:')]
        if errors:
            self.reason = f'{what}: {errors[0]}'
        elif returncode is not None and (returncode < 0 or not lines):
            self.reason = f'{what}: {ending(returncode)}' + (f' ({lines[-1]})' if lines else ', no output')
        else:
            self.reason = f'{what}: {lines[-1] if lines else "no output"}'
        super().__init__(f'{what} failed ({" ".join(cmd)}):\n{output}')


def run(cmd, what, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise Failure(what, cmd, out.stdout + out.stderr, out.returncode)
    try:
        rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{')]
    except json.JSONDecodeError as e:
        raise Failure(what, cmd, f'{out.stdout}{out.stderr}\nunreadable JSON: {e}')
    if not rows:
        raise Failure(what, cmd, f'{out.stdout}{out.stderr}\nprinted no JSON')
    return rows


def vitbench(model, res, mixer=None):
    cmd = pin + [a.vitbench, 'bench', '--model', model, '--resolution', str(res), '--threads', str(a.threads), '--batch', str(a.batch),
                 '--json', '--min-seconds', a.min_seconds]
    if mixer:
        cmd += ['--mixer', mixer]
    if a.isa:
        cmd += ['--isa', a.isa]
    if a.pin:
        cmd += ['--pin', a.pin]
    row = run(cmd, 'vitbench')[-1]
    return float(row['median_ms']), row.get('kernel_isa')


def peer(script, res, args):
    cmd = pin + [a.python, os.path.join(here, script), '--res', str(res), '--threads', str(a.threads), '--batch', str(a.batch),
                 '--engines', a.peers, '--min-seconds', a.min_seconds, '--json'] + args
    row = run(cmd, script, env=peer_env)[-1]
    return row.get('ort_ms'), row.get('ov_ms'), row.get('versions', {})


class BusyLoop:
    """A busy loop at normal priority pinned to one CPU, for the length of a `with` block."""
    def __init__(self, cpu):
        self.cpu = cpu

    def __enter__(self):
        self.proc = None
        if self.cpu is not None:
            self.proc = subprocess.Popen(['taskset', '-c', self.cpu, sys.executable, '-c', 'while True: pass'])
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.kill()
            self.proc.wait()


def median(values):
    v = sorted(x for x in values if x is not None)
    return None if not v else (v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2)


def zoo():
    """MODEL@RES for every model `vitbench list --json` gives published weights for (the timm
    models the peers can build), at its published resolution."""
    cmd = [a.vitbench, 'list', '--json']
    try:
        out = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f'--models zoo: cannot run {a.vitbench}: {e.strerror} (build it: swift build -c release)')
    if out.returncode != 0:
        said = (out.stdout + out.stderr).strip()
        sys.exit(f'--models zoo: {" ".join(cmd)} {ending(out.returncode)}' + (f': {said}' if said else ', no output'))
    try:
        listed = json.loads(out.stdout)
        return [f'{m["model"]}@{m["resolution"]}' for m in listed if m.get('published_top1') is not None]
    except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as e:
        sys.exit(f'--models zoo: unreadable output of {" ".join(cmd)}: {e}')


entries = []  # (label, res, vitbench args, peer script, peer args)
specs = []
for spec in filter(None, a.models.split(',')):
    specs += zoo() if spec == 'zoo' else [spec]
for spec in specs:
    model, _, res = spec.partition('@')
    if not model or not res.isdigit() or not 16 <= int(res) <= 4096:
        sys.exit(f'--models: expected MODEL@RES with RES from 16 to 4096 (fastvit_t8@256), got {spec!r}')
    entries.append((model, res, (model, res), 'peer_models.py', ['--models', model]))
for res in filter(None, a.mixers.split(',')):
    if not res.isdigit() or not 16 <= int(res) <= 4096:
        sys.exit(f'--mixers: expected resolutions from 16 to 4096 (224,512), got {res!r}')
    for kind in filter(None, a.mixer_kinds.split(',')):
        if kind == 'attention' and int(res) > 512:
            continue  # quadratic in tokens: minutes per pass (peer_mixers.py skips it too)
        entries.append((f'metaformer_s12:{kind}', res, ('metaformer_s12', res, kind), 'peer_mixers.py', ['--mixers', kind]))

if a.list:
    for label, res, *_ in entries:
        print(f'{label}@{res}')
    sys.exit(0)

rows, busy_rows, failed, isas, engine_versions = [], [], [], set(), {}
for label, res, ours_args, script, peer_args in entries:
    rounds, busy_rounds = [], []
    try:
        for r in range(a.rounds):
            ours, isa = vitbench(*ours_args)
            ort, ov, ver = peer(script, res, peer_args)
            if ort is None and ov is None:
                raise Failure(script, [script], 'no peer time in its JSON')
            isas.add(isa)
            engine_versions.update(ver)
            rounds.append((ours, ort, ov))
            print(f'{label}@{res} round {r + 1}: vitbench {ours:.2f} ms, ORT {ort}, OV {ov}', file=sys.stderr, flush=True)
            if a.busy_cpu is not None:
                with BusyLoop(a.busy_cpu):
                    b_ours, _ = vitbench(*ours_args)
                    b_ort, b_ov, _ = peer(script, res, peer_args)
                busy_rounds.append((b_ours, b_ort, b_ov))
                print(f'{label}@{res} round {r + 1}, busy CPU {a.busy_cpu}: vitbench {b_ours:.2f} ms, ORT {b_ort}, OV {b_ov}',
                      file=sys.stderr, flush=True)
    except Failure as e:
        # A failure repeats from round to round (an operator a capped ISA cannot compile, a model
        # a peer lacks): the model's rounds end, its row says why, and the other models run.
        print(e, file=sys.stderr, flush=True)
        failed.append((label, res, e.reason))
        continue
    ratios = [o / min(v for v in (ort, ov) if v is not None) for o, ort, ov in rounds]
    rows.append((label, res, median(x[0] for x in rounds), median(x[1] for x in rounds), median(x[2] for x in rounds),
                 min(ratios), max(ratios)))
    if busy_rounds:
        slow = [[b / q if b is not None and q is not None else None for b, q in zip(br, qr)]
                for br, qr in zip(busy_rounds, rounds)]
        busy_rows.append((label, res, [median(x[i] for x in busy_rounds) for i in range(3)],
                          [median(x[i] for x in slow) for i in range(3)]))


def fmt(v):
    return '—' if v is None else f'{v:.2f}'


isa = ', '.join(sorted(i for i in isas if i)) or '?'
ort_v = engine_versions.get('onnxruntime', '?')
ov_v = engine_versions.get('openvino', '?').split('-')[0]
print(f'{a.threads} thread(s) on CPU {a.cpu}; batch {a.batch}; vitbench kernel ISA {isa}; ONNX Runtime {ort_v}; OpenVINO {ov_v}'
      + (f' (oneDNN capped at {a.onednn_isa})' if a.onednn_isa else '') + f'; {a.rounds} round(s)')
print()
print('| model | res | vitbench ms | ONNX Runtime ms | OpenVINO ms | vitbench / faster peer | per-round range |')
print('|---|---|---:|---:|---:|---:|---|')
ratios = []
for label, res, ours, ort, ov, lo, hi in rows:
    best = min(v for v in (ort, ov) if v is not None)
    ratios.append((ours / best, label))
    print(f'| {label} | {res} | {ours:.2f} | {fmt(ort)} | {fmt(ov)} | {ours / best:.2f} | {lo:.2f}–{hi:.2f} |')
for label, res, reason in failed:
    print(f'| {label} | {res} | failed: {reason.replace("|", "/")} | | | — | — |')
if ratios:
    # The targets are stated over the whole table: every ratio at most 1.00 and their
    # geometric mean; print them so that a table is judged the same way every time.
    ratios.sort(reverse=True)
    geo = math.exp(sum(math.log(r) for r, _ in ratios) / len(ratios))
    print()
    print(f'Geometric mean of vitbench / faster peer: {geo:.3f} over {len(ratios)} row(s); '
          f'{sum(r <= 1.0 for r, _ in ratios)} at or below 1.000; worst: '
          + ', '.join(f'{label} {r:.3f}' for r, label in ratios[:3])
          + (f'; {len(failed)} row(s) failed, not counted' if failed else ''))
if busy_rows:
    print()
    print(f'With a busy loop on CPU {a.busy_cpu} (busy ms; slowdown = busy / quiet, median over rounds):')
    print()
    print('| model | res | vitbench busy ms | slowdown | ORT busy ms | slowdown | OpenVINO busy ms | slowdown |')
    print('|---|---|---:|---:|---:|---:|---:|---:|')
    for label, res, busy, slow in busy_rows:
        cells = ' | '.join(f'{fmt(b)} | {fmt(s)}' for b, s in zip(busy, slow))
        print(f'| {label} | {res} | {cells} |')
    print()
    names = ('vitbench', 'ONNX Runtime', 'OpenVINO')
    geos = []
    for i, name in enumerate(names):
        slow = [s[i] for _, _, _, s in busy_rows if s[i] is not None]
        if slow:
            geos.append(f'{name} {math.exp(sum(math.log(x) for x in slow) / len(slow)):.2f}')
    print('Geometric mean slowdown: ' + ', '.join(geos))
if failed:
    sys.exit(1)
