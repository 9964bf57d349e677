// `modelcache/pipeline`: pass-by-pass caching of model-optimization pipelines lands here (issue 6).
// The entry point exists so that the package's export map is stable from the first release.
export {};
