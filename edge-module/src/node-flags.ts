/**
 * The flags Node is started with for the edge module. A 2 MB young generation (V8 grows it to 16 MB
 * otherwise): the module allocates little on the JavaScript heap, so with the default a scavenge came
 * ~5 times in a 2,000-photo load, and the dead photo-sized Buffers MQTT over TLS allocates (the TLS
 * socket's 16 KB records, the MQTT client's copy of each payload: ~500 KB a photo) piled up between
 * them until V8's 64 MB allowance for new off-heap memory started a full mark-compact. With it, ~200
 * scavenges (each well under a millisecond) free them first (bench/README.md).
 *
 * V8 sizes the young generation when the isolate is created, so main.ts cannot set this itself as it sets
 * HEAP_GROWING_PERCENT: every place that starts the module carries the flags — the image's CMD
 * (Dockerfile), `npm start` (edge-module/package.json), `npm run start:edge` (package.json), and the
 * tests' and bench's ModuleProcess. test/node-flags.test.ts checks that they agree.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
