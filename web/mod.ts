/**
 * Trying a trained model in the browser: the server behind `deno task serve` (web/cli.ts), which serves a
 * page that classifies photos with stock TensorFlow.js (web/page.ts) and answers `POST /classify`.
 * @module
 */
export { DEFAULT_MAX_BODY, type RunningServer, type ServerOptions, startServer } from "./server.ts";
