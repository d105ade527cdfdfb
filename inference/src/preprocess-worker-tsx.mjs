// Under tsx (the tests run the TypeScript sources) a worker thread must register tsx itself before
// importing TypeScript: Node 20 workers ignore --import. Built code uses preprocess-worker.js directly.
const tsx = await import('tsx/esm/api');
tsx.register();
await import('./preprocess-worker.ts');
