// pneumo-bench --vs-ort: time an ONNX model (bench_torch.py --export-onnx: the
// article's CNN, NCHW input [batch, 1, S, S], sigmoid output) in ONNX Runtime
// for Node.js (npm onnxruntime-node, CPU execution provider).
//
//   node bench_ort.js --model M.onnx --modules DIR [--threads N] [--batch B]
//                     [--size S] [--runs R] [--batch-runs K]
//
// DIR is the node_modules folder holding onnxruntime-node (installed with
// `npm install --ignore-scripts onnxruntime-node`). The session runs with
// intraOpNumThreads = N, interOpNumThreads = 1, sequential execution and every
// graph optimisation. Timed, each after warm-up runs: one image (a float32
// [1, 1, S, S] tensor already scaled to [0, 1], built once: no decoding or
// conversion is timed), median of R runs after 3 warm-up runs; a batch of B,
// median images/s of K runs after 2 warm-up runs (the first batch grows ONNX
// Runtime's memory arena). Prints one JSON object on stdout; on failure
// {"error": "..."} and exit status 3.
'use strict';
const path = require('path');
const {performance} = require('perf_hooks');

function parseArgs(argv) {
    const a = {threads: 1, batch: 16, size: 500, runs: 20, batchRuns: 5};
    const ints = {'--threads': 'threads', '--batch': 'batch', '--size': 'size', '--runs': 'runs',
                  '--batch-runs': 'batchRuns'};
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i], v = argv[i + 1];
        if (v === undefined)
            throw new Error('option ' + k + ' needs a value');
        if (k === '--model')
            a.model = v;
        else if (k === '--modules')
            a.modules = v;
        else if (k in ints && /^[0-9]+$/.test(v) && Number(v) > 0)
            a[ints[k]] = Number(v);
        else
            throw new Error('bad option ' + k + ' ' + v);
        i++;
    }
    if (!a.model || !a.modules)
        throw new Error('usage: bench_ort.js --model M.onnx --modules DIR [--threads N] [--batch B] ' +
                        '[--size S] [--runs R] [--batch-runs K]');
    return a;
}

function median(v) {
    const s = v.slice().sort((x, y) => x - y), n = s.length;
    return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

// xorshift32: the same inputs on every run
function filler(seed) {
    let s = seed >>> 0 || 1;
    return () => {
        s ^= s << 13;
        s >>>= 0;
        s ^= s >>> 17;
        s ^= s << 5;
        s >>>= 0;
        return s;
    };
}

function cpuMs(since) {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1e3;
}

async function main() {
    const a = parseArgs(process.argv.slice(2));
    const dir = path.join(path.resolve(a.modules), 'onnxruntime-node');
    let ort;
    try {
        ort = require(dir);
    } catch (e) {
        throw new Error('cannot load onnxruntime-node from ' + dir + ': ' + e.message);
    }
    const version = require(path.join(dir, 'package.json')).version;
    const session = await ort.InferenceSession.create(a.model, {
        executionProviders: ['cpu'],
        intraOpNumThreads: a.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
    });
    const input = session.inputNames[0], output = session.outputNames[0];
    const n = a.size * a.size, rnd = filler(5);

    // one image: 8-bit values scaled to [0, 1] before timing
    const one = new Float32Array(n);
    for (let i = 0; i < n; i++)
        one[i] = (rnd() >>> 24) * (1.0 / 255.0);
    const feedOne = {[input]: new ort.Tensor('float32', one, [1, 1, a.size, a.size])};
    let prob = 0;
    for (let i = 0; i < 3; i++)
        prob = (await session.run(feedOne))[output].data[0];
    const times = [];
    let c0 = process.cpuUsage();
    for (let i = 0; i < a.runs; i++) {
        const t0 = performance.now();
        await session.run(feedOne);
        times.push(performance.now() - t0);
    }
    const singleCpu = cpuMs(c0) / a.runs;

    // a batch of random values in [0, 1)
    const many = new Float32Array(a.batch * n);
    for (let i = 0; i < many.length; i++)
        many[i] = (rnd() >>> 8) * (1.0 / 16777216.0);
    const feedMany = {[input]: new ort.Tensor('float32', many, [a.batch, 1, a.size, a.size])};
    for (let i = 0; i < 2; i++)
        await session.run(feedMany);
    const rates = [];
    c0 = process.cpuUsage();
    for (let i = 0; i < a.batchRuns; i++) {
        const t0 = performance.now();
        const out = (await session.run(feedMany))[output];
        rates.push(a.batch / ((performance.now() - t0) * 1e-3));
        if (out.dims[0] !== a.batch)
            throw new Error('batch output has dims ' + JSON.stringify(out.dims));
    }
    const batchCpu = cpuMs(c0) / (a.batchRuns * a.batch);

    console.log(JSON.stringify({
        onnxruntime: version,
        node: process.version,
        threads: a.threads,
        inter_op_threads: 1,
        execution_mode: 'sequential',
        batch: a.batch,
        size: a.size,
        input: 'float32 NCHW [N, 1, ' + a.size + ', ' + a.size + '], scaled to [0, 1] before timing',
        infer_single_ms: median(times),
        infer_single_ms_runs: times,
        infer_single_cpu_ms: singleCpu,
        infer_batch_img_per_s: median(rates),
        infer_batch_img_per_s_runs: rates,
        infer_batch_cpu_ms_per_img: batchCpu,
        probability: prob,
    }));
}

main().catch((e) => {
    console.log(JSON.stringify({error: String(e && e.message ? e.message : e).split('\n')[0]}));
    process.exit(3);
});
