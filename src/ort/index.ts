// `modelcache/ort`: the compiled-session cache for onnxruntime-node lands here (issue 5).
// The entry point exists so that the package's export map is stable from the first release.
export {};
