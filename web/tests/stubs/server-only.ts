// Next resolves "server-only" itself (a build-time guard against client bundles); under
// vitest, server modules import this empty stand-in instead.
export {};
