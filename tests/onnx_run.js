// Run an ONNX file in ONNX Runtime (npm onnxruntime-node) on raw float32 input.
//   node onnx_run.js MODEL.onnx INPUT.f32 D0,D1,... OUTPUT.f32
// Writes the "probability" output as raw little-endian float32 and prints its
// dims and the runtime version on stdout. NODE_PATH points at the npm install
// (.ci/install-onnxruntime-node).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
    const [model, input, dims, output] = process.argv.slice(2);
    if (!output) {
        console.error('usage: onnx_run.js MODEL.onnx INPUT.f32 D0,D1,... OUTPUT.f32');
        process.exit(2);
    }
    const shape = dims.split(',').map(Number);
    const buf = fs.readFileSync(input);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const session = await ort.InferenceSession.create(model, {executionProviders: ['cpu']});
    const feeds = {};
    feeds[session.inputNames[0]] = new ort.Tensor('float32', data, shape);
    const result = await session.run(feeds);
    const out = result[session.outputNames[0]];
    fs.writeFileSync(output, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
    const version = require('onnxruntime-node/package.json').version;
    console.log(JSON.stringify({output: session.outputNames[0], dims: out.dims, onnxruntime: version}));
}

main().catch((e) => {
    console.error('onnx_run.js: ' + (e && e.message ? e.message : e));
    process.exit(1);
});
